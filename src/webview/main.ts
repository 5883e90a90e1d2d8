/**
 * Chat panel script (runs in the webview, bundled for the browser).
 * Renders only what the extension sends (the agent's event stream, through protocol.ts); model
 * text goes through the markdown sanitizer, everything else in as text.
 */
import * as chrome from './chrome';
import { button, el, formatBytes, formatMs, linkButton } from './dom';
import { wireKeys } from './keys';
import { ExchangeRenderer, type ExchangeActions } from './exchange';
import { exchangeEvents } from './panelEvents';
import type { Attachment, ConversationSummary, ExchangeView, FromWebview, PanelEvent, PanelKernelState, PanelState, ToWebview, WebviewRequest } from './protocol';

interface VsCodeApi {
  postMessage(msg: FromWebview): void;
  /** kept by VS Code with the chat's editor tab: the tab's serializer reopens this conversation */
  setState(state: { conversationId?: string }): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
/** message ids: unique across reloads of this panel (a run outlives the page that started it) */
const idPrefix = Math.random().toString(36).slice(2, 10);
let lastId = 0;
/** Sends a request under a fresh message id; its reply (and a run's events) come back under that id. */
const post = (m: WebviewRequest): string => {
  const id = `${idPrefix}-${++lastId}`;
  vscode.postMessage({ ...m, id });
  return id;
};

let state: PanelState | undefined;
let running = false;
let kernelState: PanelKernelState = 'none';
let exchanges: ExchangeRenderer[] = [];
let attachments: Attachment[] = [];
let history: ConversationSummary[] = [];
let activeId: string | undefined;
let lastUsage = '';
/** the model the last run used (shown when the setting leaves it to the endpoint) */
let lastModel = '';

// ---------------------------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------------------------

const root = document.getElementById('root')!;
root.replaceChildren();
// the actions (New chat, History, Retry, Export, approval mode) are the view's title icons and
// its overflow menu (package.json menus.view/title); the panel shows the state they act on
const statusLine = el('div', { class: 'status-line', role: 'status' });
const banners = el('div', { class: 'banners' });
const historyPanel = el('div', { class: 'history-panel', hidden: '' });
// streamed text is announced politely per finished turn by the announcer, not per token
const conversationEl = el('main', { class: 'conversation', 'aria-label': 'Conversation' });
const walkthroughEl = el('section', { class: 'walkthrough', 'aria-label': 'Getting started' });
const compose = el('form', { class: 'compose', 'aria-label': 'Ask a question' });
const header = el('header', { class: 'panel-header' });
const announcer = el('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true', 'data-announcer': '' });
const movedEl = el('section', { class: 'moved', hidden: '', 'aria-label': 'Chat moved' });
header.append(statusLine);
root.append(header, banners, historyPanel, walkthroughEl, conversationEl, compose, announcer, movedEl);

/** tells a screen reader, politely (after what it is reading) */
function announce(text: string): void {
  announcer.textContent = '';
  requestAnimationFrame(() => (announcer.textContent = text));
}

// the sticky header and compose box cover the ends of the page: what is scrolled into view clears them
new ResizeObserver(() => {
  document.documentElement.style.setProperty('--header-height', `${header.offsetHeight}px`);
  document.documentElement.style.setProperty('--compose-height', `${compose.offsetHeight}px`);
}).observe(document.body);

// compose box
const thumbs = el('div', { class: 'attachments', 'aria-label': 'Attached images' });
const input = el('textarea', { id: 'question', rows: '3', placeholder: 'Ask about the attached image… (Enter to send, Shift+Enter for a new line)', 'aria-label': 'Question' });
const composeButtons = el('div', { class: 'compose-buttons' });
const attachBtn = button('Attach image…', () => post({ type: 'attachPick' }), { secondary: true, action: 'attach', title: 'Attach an image from the workspace' });
const sendBtn = button('Ask', () => submit(), { action: 'send', title: 'Ask (Enter)' });
const stopBtn = button('Stop', () => post({ type: 'stop' }), { action: 'stop', title: 'Stop the model and the running cell' });
stopBtn.hidden = true;
composeButtons.append(attachBtn, el('span', { class: 'spacer' }), stopBtn, sendBtn);
compose.append(thumbs, input, composeButtons);
compose.addEventListener('submit', (ev) => {
  ev.preventDefault();
  submit();
});
input.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    submit();
  }
  if (ev.key === 'Escape' && running && !document.querySelector('.approval:not(.answered)')) post({ type: 'stop' });
});
wireKeys(announce);

// When VS Code gives the panel the focus (the user opened or went to the view) and nothing in it
// has it yet, the caret goes to the question box; a click gives the focus where it lands (its
// pointerdown comes before the focus). The panel never takes the focus by itself: a view that
// loads beside the editor (a window reload) leaves the user's focus where it is.
let lastPointerDown = -Infinity;
window.addEventListener('pointerdown', () => (lastPointerDown = performance.now()), true);
window.addEventListener('focus', () => {
  if (performance.now() - lastPointerDown < 500) return;
  if (!document.activeElement || document.activeElement === document.body) input.focus();
});

function submit(): void {
  const q = input.value.trim();
  if (!q || running) return;
  post({ type: 'ask', question: q });
  input.value = '';
}

// paste and drop: images from the OS (files) and from the explorer (uri lists)
input.addEventListener('paste', (ev) => {
  const files = [...(ev.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
  if (!files.length) return;
  ev.preventDefault();
  for (const f of files) void sendFile(f);
});
for (const target of [compose, conversationEl]) {
  target.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    compose.classList.add('drop-target');
  });
  target.addEventListener('dragleave', () => compose.classList.remove('drop-target'));
  target.addEventListener('drop', (ev) => {
    ev.preventDefault();
    compose.classList.remove('drop-target');
    const dt = ev.dataTransfer;
    if (!dt) return;
    const files = [...dt.files];
    if (files.length) {
      for (const f of files) void sendFile(f);
      return;
    }
    const list = dt.getData('application/vnd.code.uri-list') || dt.getData('text/uri-list') || dt.getData('text/plain');
    const uris = list.split(/\r?\n/).map((s) => s.trim()).filter((s) => s && !s.startsWith('#'));
    if (uris.length) post({ type: 'attachUris', uris });
  });
}

async function sendFile(f: File): Promise<void> {
  const buf = new Uint8Array(await f.arrayBuffer());
  let bin = '';
  for (let i = 0; i < buf.length; i += 0x8000) bin += String.fromCharCode(...buf.subarray(i, i + 0x8000));
  post({ type: 'attachData', name: f.name || 'pasted-image.png', mime: f.type || 'application/octet-stream', data: btoa(bin) });
}

function renderAttachments(): void {
  thumbs.replaceChildren(
    ...attachments.map((a) => {
      const box = el('div', { class: 'attachment', 'data-attachment': a.id });
      box.append(el('img', { src: a.thumb, alt: a.name }));
      const meta = el('div', { class: 'attachment-meta' });
      meta.append(el('span', { class: 'attachment-name', title: a.name }, a.name), el('span', { class: 'attachment-size' }, `${a.width && a.height ? `${a.width}×${a.height} · ` : ''}${formatBytes(a.bytes)}`));
      const remove = el('button', { type: 'button', class: 'remove', title: `Remove ${a.name}`, 'aria-label': `Remove ${a.name}` }, '×');
      remove.addEventListener('click', () => post({ type: 'removeAttachment', attachmentId: a.id }));
      box.append(meta, remove);
      return box;
    }),
  );
  thumbs.hidden = attachments.length === 0;
}

// ---------------------------------------------------------------------------------------------
// Chrome: status line, toolbar, banners, walkthrough, history
// ---------------------------------------------------------------------------------------------

/** host[:port] of the first endpoint: the status never shows a URL cut mid-word (the full list is its tooltip) */
function endpointHost(endpoint: string): string {
  const first = endpoint.split(',')[0]?.trim() ?? '';
  try {
    return new URL(first).host + (endpoint.includes(',') ? ' +' : '');
  } catch {
    return first;
  }
}

function renderStatus(): void {
  if (!state) return;
  // where the code runs when it is not a local interpreter (a notebook's kernel, a Jupyter server: no version known here)
  const where = state.python.state === 'ok' && !state.python.version ? state.python.python.replace(/^the kernel of /, '').replace(/https?:\/\/([^/\s]+)\/?\S*/, '$1') : '';
  const kernel = el('span', { class: `kernel kernel-${kernelState}`, 'data-kernel': kernelState, ...(where ? { 'data-kernel-where': where, title: `code runs in ${state.python.state === 'ok' ? state.python.python : ''}` } : {}) }, `${where ? `${where} ` : ''}kernel: ${kernelState === 'none' ? 'not started' : kernelState}`);
  const parts: Node[] = [
    el('span', { class: 'endpoint', title: state.endpoint, 'aria-label': `endpoint ${state.endpoint}` }, endpointHost(state.endpoint) || '(no endpoint)'),
    el('span', { class: 'sep' }, ' · '),
    el('span', { class: 'model', title: 'model' }, state.model || lastModel || '(first model of the endpoint)'),
    el('span', { class: 'sep' }, ' · '),
    kernel,
    el('span', { class: 'sep' }, ' · '),
    el('span', { class: `approval-mode approval-${state.approval}`, 'data-approval-mode': state.approval, title: 'Change it from the view\'s … menu' }, state.approval === 'always' ? 'asks before running code' : 'runs code without asking'),
  ];
  if (kernelState === 'dead' || kernelState === 'idle' || kernelState === 'busy') {
    parts.push(linkButton(kernelState === 'dead' ? 'Restart kernel' : 'Restart', () => post({ type: 'restartKernel' }), { action: 'restart-kernel', title: 'Restart the kernel (variables are lost)' }));
  }
  if (lastUsage) parts.push(el('span', { class: 'sep' }, ' · '), el('span', { class: 'usage' }, lastUsage));
  statusLine.replaceChildren(...parts);
}

function toggleHistory(): void {
  historyPanel.hidden = !historyPanel.hidden;
  if (!historyPanel.hidden) {
    post({ type: 'showHistory' });
    historyPanel.scrollIntoView({ block: 'nearest' });
    requestAnimationFrame(() => historyPanel.querySelector<HTMLElement>('button')?.focus());
  }
}

/** The chat went live in an editor tab (this view says so) or came back. */
function showMoved(to: 'editor' | 'view'): void {
  const away = to === 'editor';
  document.body.classList.toggle('chat-moved', away);
  movedEl.hidden = !away;
  if (!away) return;
  movedEl.replaceChildren(
    el('p', {}, 'The chat is open in an editor tab.'),
    button('Show the Chat Tab', () => post({ type: 'setup', action: 'showEditor' }), { action: 'show-editor' }),
    button('Move Chat Back Here', () => post({ type: 'setup', action: 'moveToSideBar' }), { secondary: true, action: 'move-back' }),
  );
}

function renderBanners(): void {
  chrome.renderBanners(banners, state, post);
}

function renderWalkthrough(): void {
  chrome.renderWalkthrough(walkthroughEl, state, exchanges.length > 0, post);
}

function renderHistory(): void {
  chrome.renderHistory(historyPanel, history, activeId, post);
}

function setRunning(r: boolean): void {
  running = r;
  stopBtn.hidden = !r;
  sendBtn.hidden = r;
  document.body.classList.toggle('running', r);
  conversationEl.setAttribute('aria-busy', String(r));
}

// ---------------------------------------------------------------------------------------------
// Conversation
// ---------------------------------------------------------------------------------------------

const actions: ExchangeActions = {
  openImage: (index, imageId) => void post({ type: 'openImage', index, imageId }),
  saveImage: (index, imageId) => void post({ type: 'saveImage', index, imageId }),
  copyImage: (url) => void chrome.copyImage(url, notice),
  copyText: (text) => void post({ type: 'copyText', text }),
  openCode: (code) => void post({ type: 'openCode', code }),
  fork: (index, cellId, code) => void post({ type: 'fork', index, cellId, code }),
  approve: (run, cellId, reply) => void post({ type: 'approval', run, cellId, reply }),
  restore: (run, accept) => void post({ type: 'restore', run, accept }),
  openLink: (href) => void post({ type: 'openLink', href }),
  canFork: () => !running,
};

function renderConversation(views: ExchangeView[]): void {
  exchanges = views.map((v, i) => {
    const r = new ExchangeRenderer(i, v.question, v.inputImages, actions);
    for (const e of exchangeEvents(v)) r.apply(e);
    return r;
  });
  conversationEl.replaceChildren(...exchanges.map((x) => x.root));
  const last = views.at(-1);
  lastUsage = last ? usageText(last.usage.totalTokens, last.durationMs) : '';
  if (last?.model) lastModel = last.model;
  renderWalkthrough();
  renderStatus();
  document.body.dataset.rendered = String(views.length);
}

/** what a screen reader hears of a run: each finished turn's text, approvals, the answer, the end */
function announceEvent(e: PanelEvent): void {
  if (e.type === 'turn_end') {
    const say = e.content.replace(/<think>[\s\S]*?<\/think>/g, '').replace(/<code>[\s\S]*?<\/code>|```[\s\S]*?```/g, ' (code) ').trim();
    if (say) announce(say.slice(0, 400));
  } else if (e.type === 'approval_request') announce('Code waits for your approval: Control+Enter runs it, Escape skips it.');
  else if (e.type === 'restore_request') announce('Run the earlier cells again? Control+Enter runs them, Escape skips.');
  else if (e.type === 'answer') announce(`Answer: ${e.text.slice(0, 400)}`);
  else if (e.type === 'error') announce(`Failed: ${e.error.message}`);
  else if (e.type === 'done' && e.summary.status === 'cancelled') announce('Stopped.');
}

function usageText(tokens: number, ms: number): string {
  return `last: ${tokens} tokens · ${formatMs(ms)}`;
}

function scrollToEnd(): void {
  const nearEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 120;
  if (nearEnd) window.scrollTo({ top: document.body.scrollHeight });
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function notice(level: string, text: string): void {
  const n = el('div', { class: `notice ${level}`, role: level === 'error' ? 'alert' : 'status' }, text);
  banners.querySelectorAll('.notice').forEach((x) => x.remove());
  banners.append(n);
  clearTimeout(noticeTimer);
  if (level === 'info') noticeTimer = setTimeout(() => n.remove(), 6000);
}

setInterval(() => {
  if (running) for (const x of exchanges) x.tick();
}, 250);

window.addEventListener('message', (ev: MessageEvent<ToWebview>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'init':
      state = msg.state;
      renderStatus();
      renderBanners();
      renderWalkthrough();
      break;
    case 'notice':
      notice(msg.level, msg.text);
      break;
    case 'reply':
      if (msg.error) notice('error', msg.error);
      break;
    case 'conversation':
      activeId = msg.id;
      renderConversation(msg.exchanges);
      // a (re)loaded or reopened conversation shows its latest exchange, as a chat does
      requestAnimationFrame(() => window.scrollTo({ top: document.body.scrollHeight }));
      renderHistory();
      break;
    case 'exchangeStart': {
      const r = new ExchangeRenderer(msg.index, msg.question, msg.images, actions, msg.run);
      if (msg.replace && exchanges[msg.index]) {
        exchanges[msg.index].root.replaceWith(r.root);
        for (const old of exchanges.splice(msg.index + 1)) old.root.remove();
        exchanges[msg.index] = r;
      } else {
        exchanges[msg.index] = r;
        conversationEl.append(r.root);
      }
      renderWalkthrough();
      r.root.scrollIntoView({ block: 'start' });
      break;
    }
    case 'event': {
      const x = exchanges[msg.index];
      if (!x) break;
      x.apply(msg.event);
      if (msg.event.type === 'start') {
        lastModel = msg.event.model;
        renderStatus();
      }
      if (msg.event.type === 'done') {
        lastUsage = usageText(msg.event.summary.usage.totalTokens, msg.event.summary.durationMs);
        renderStatus();
      }
      announceEvent(msg.event);
      if (msg.event.type !== 'approval_request' && msg.event.type !== 'restore_request') scrollToEnd();
      break;
    }
    case 'running':
      setRunning(msg.running);
      // a run ended, or the panel (re)loaded: the question box, if the panel has the focus
      if (!msg.running && document.hasFocus()) input.focus();
      break;
    case 'kernel':
      kernelState = msg.state;
      renderStatus();
      break;
    case 'attachments':
      attachments = msg.items;
      renderAttachments();
      if (msg.focus) input.focus();
      break;
    case 'history':
      history = msg.items;
      activeId = msg.activeId ?? activeId;
      vscode.setState({ conversationId: activeId });
      renderHistory();
      break;
    case 'focusInput':
      input.focus();
      break;
    case 'toggleHistory':
      toggleHistory();
      break;
    case 'moved':
      showMoved(msg.to);
      break;
  }
});

renderAttachments();
post({ type: 'ready' });
