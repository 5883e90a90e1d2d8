/**
 * Chat panel script (runs in the webview, bundled for the browser).
 * Renders only what the extension sends (the agent's event stream, through src/protocol/chat.ts);
 * model text goes through the markdown sanitizer, everything else in as text.
 */
import type {
  Attachment,
  ChatResponses,
  ConversationSummary,
  ExchangeView,
  FromWebview,
  PanelEvent,
  PanelKernelState,
  PanelState,
  ToWebview,
  WebviewRequest,
} from '../protocol/chat';
import { exchangeEvents } from '../protocol/panelEvents';
import * as chrome from './chrome';
import { createCompose } from './compose';
import { button, el, formatMs, linkButton } from './dom';
import { wireKeys } from './keys';
import { ExchangeRenderer, type ExchangeActions } from './exchange';
import { Messenger } from './messenger';

interface VsCodeApi {
  postMessage(msg: FromWebview): void;
  /** kept by VS Code with the chat's editor tab: the tab's serializer reopens this conversation */
  setState(state: { conversationId?: string }): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** What the panel shows, as the extension last said it (the one mutable state of this page). */
interface ChatPage {
  state?: PanelState;
  running: boolean;
  kernel: PanelKernelState;
  exchanges: ExchangeRenderer[];
  attachments: Attachment[];
  history: ConversationSummary[];
  activeId?: string;
  lastUsage: string;
  /** the model the last run used (shown when the setting leaves it to the endpoint) */
  lastModel: string;
}
const page: ChatPage = { running: false, kernel: 'none', exchanges: [], attachments: [], history: [], lastUsage: '', lastModel: '' };

const vscode = acquireVsCodeApi();
const messenger = new Messenger<FromWebview, ChatResponses>(vscode, (error) => notice('error', error));
/** Sends a request under a fresh message id; its reply (and a run's events) come back under that id. */
const post = (m: WebviewRequest): string => messenger.send(m);

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
const header = el('header', { class: 'panel-header' });
const announcer = el('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true', 'data-announcer': '' });
const movedEl = el('section', { class: 'moved', hidden: '', 'aria-label': 'Chat moved' });
const compose = createCompose(
  (m) => post(m),
  () => page.running,
  [conversationEl],
);
const input = compose.input;
header.append(statusLine);
root.append(header, banners, historyPanel, walkthroughEl, conversationEl, compose.form, announcer, movedEl);

/** tells a screen reader, politely (after what it is reading) */
function announce(text: string): void {
  announcer.textContent = '';
  requestAnimationFrame(() => (announcer.textContent = text));
}

// the sticky header and compose box cover the ends of the page: what is scrolled into view clears them
new ResizeObserver(() => {
  document.documentElement.style.setProperty('--header-height', `${header.offsetHeight}px`);
  document.documentElement.style.setProperty('--compose-height', `${compose.form.offsetHeight}px`);
}).observe(document.body);

wireKeys(announce);

// When VS Code gives the panel the focus (the user opened or went to the view) and nothing in it
// has it yet, the caret goes to the question box; a click gives the focus where it lands (its
// pointerdown comes before the focus). The panel never takes the focus by itself: a view that
// loads beside the editor (a window reload) leaves the user's focus where it is.
function focusInputOnViewFocus(): void {
  let lastPointerDown = -Infinity;
  window.addEventListener('pointerdown', () => (lastPointerDown = performance.now()), true);
  window.addEventListener('focus', () => {
    if (performance.now() - lastPointerDown < 500) return;
    if (!document.activeElement || document.activeElement === document.body) input.focus();
  });
}
focusInputOnViewFocus();

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
  const { state, kernel: kernelState } = page;
  if (!state) return;
  // where the code runs when it is not a local interpreter (a notebook's kernel, a Jupyter server: no version known here)
  const where =
    state.python.state === 'ok' && !state.python.version
      ? state.python.python.replace(/^the kernel of /, '').replace(/https?:\/\/([^/\s]+)\/?\S*/, '$1')
      : '';
  const kernel = el(
    'span',
    {
      class: `kernel kernel-${kernelState}`,
      'data-kernel': kernelState,
      ...(where ? { 'data-kernel-where': where, title: `code runs in ${state.python.state === 'ok' ? state.python.python : ''}` } : {}),
    },
    `${where ? `${where} ` : ''}kernel: ${kernelState === 'none' ? 'not started' : kernelState}`,
  );
  const parts: Node[] = [
    el(
      'span',
      { class: 'endpoint', title: state.endpoint, 'aria-label': `endpoint ${state.endpoint}` },
      endpointHost(state.endpoint) || '(no endpoint)',
    ),
    el('span', { class: 'sep' }, ' · '),
    el('span', { class: 'model', title: 'model' }, state.model || page.lastModel || '(first model of the endpoint)'),
    el('span', { class: 'sep' }, ' · '),
    kernel,
    ...chrome.cellsBadge(state.python),
    el('span', { class: 'sep' }, ' · '),
    el(
      'span',
      {
        class: `approval-mode approval-${state.approval}`,
        'data-approval-mode': state.approval,
        title: "Change it from the view's … menu",
      },
      state.approval === 'always' ? 'asks before running code' : 'runs code without asking',
    ),
  ];
  if (kernelState === 'dead' || kernelState === 'idle' || kernelState === 'busy') {
    parts.push(
      linkButton(kernelState === 'dead' ? 'Restart kernel' : 'Restart', () => post({ type: 'restartKernel' }), {
        action: 'restart-kernel',
        title: 'Restart the kernel (variables are lost)',
      }),
    );
  }
  if (page.lastUsage) parts.push(el('span', { class: 'sep' }, ' · '), el('span', { class: 'usage' }, page.lastUsage));
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
  chrome.renderBanners(banners, page.state, post);
}

function renderWalkthrough(): void {
  chrome.renderWalkthrough(walkthroughEl, page.state, page.exchanges.length > 0, post);
}

function renderHistory(): void {
  chrome.renderHistory(historyPanel, page.history, page.activeId, post);
}

function setRunning(r: boolean): void {
  page.running = r;
  compose.setRunning(r);
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
  canFork: () => !page.running,
};

function renderConversation(views: ExchangeView[]): void {
  page.exchanges = views.map((v, i) => {
    const r = new ExchangeRenderer(i, v.question, v.inputImages, actions);
    for (const e of exchangeEvents(v)) r.apply(e);
    return r;
  });
  conversationEl.replaceChildren(...page.exchanges.map((x) => x.root));
  const last = views.at(-1);
  page.lastUsage = last ? usageText(last.usage.totalTokens, last.durationMs) : '';
  if (last?.model) page.lastModel = last.model;
  renderWalkthrough();
  renderStatus();
  document.body.dataset.rendered = String(views.length);
}

/** what a screen reader hears of a run: each finished turn's text, approvals, the answer, the end */
function announceEvent(e: PanelEvent): void {
  if (e.type === 'turn_end') {
    const say = e.content
      .replace(/<think>[\s\S]*?<\/think>/g, '')
      .replace(/<code>[\s\S]*?<\/code>|```[\s\S]*?```/g, ' (code) ')
      .trim();
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

/** One notice at a time above the conversation; an info notice goes after 6 s. */
function notice(level: string, text: string): void {
  const n = el('div', { class: `notice ${level}`, role: level === 'error' ? 'alert' : 'status' }, text);
  banners.querySelectorAll('.notice').forEach((x) => x.remove());
  banners.append(n);
  if (level === 'info') setTimeout(() => n.remove(), 6000);
}

setInterval(() => {
  if (page.running) for (const x of page.exchanges) x.tick();
}, 250);

/** What the panel does with each message from the extension. */
const onMessage: { [K in ToWebview['type']]: (msg: Extract<ToWebview, { type: K }>) => void } = {
  init: (msg) => {
    page.state = msg.state;
    renderStatus();
    renderBanners();
    renderWalkthrough();
  },
  notice: (msg) => notice(msg.level, msg.text),
  reply: (msg) => {
    // a reply to a request of an earlier load of this page: nobody waits for it, its error still shows
    if (!messenger.settle(msg) && !msg.ok) notice('error', msg.error);
  },
  conversation: (msg) => {
    page.activeId = msg.id;
    renderConversation(msg.exchanges);
    // a (re)loaded or reopened conversation shows its latest exchange, as a chat does
    requestAnimationFrame(() => window.scrollTo({ top: document.body.scrollHeight }));
    renderHistory();
  },
  exchangeStart: (msg) => {
    const r = new ExchangeRenderer(msg.index, msg.question, msg.images, actions, msg.run);
    const exchanges = page.exchanges;
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
  },
  event: (msg) => {
    const x = page.exchanges[msg.index];
    if (!x) return;
    x.apply(msg.event);
    if (msg.event.type === 'start') {
      page.lastModel = msg.event.model;
      renderStatus();
    }
    if (msg.event.type === 'done') {
      page.lastUsage = usageText(msg.event.summary.usage.totalTokens, msg.event.summary.durationMs);
      renderStatus();
    }
    announceEvent(msg.event);
    if (msg.event.type !== 'approval_request' && msg.event.type !== 'restore_request') scrollToEnd();
  },
  running: (msg) => {
    setRunning(msg.running);
    // a run ended, or the panel (re)loaded: the question box, if the panel has the focus
    if (!msg.running && document.hasFocus()) input.focus();
  },
  kernel: (msg) => {
    page.kernel = msg.state;
    renderStatus();
  },
  attachments: (msg) => {
    page.attachments = msg.items;
    compose.showAttachments(page.attachments);
    if (msg.focus) input.focus();
  },
  history: (msg) => {
    page.history = msg.items;
    page.activeId = msg.activeId ?? page.activeId;
    vscode.setState({ conversationId: page.activeId });
    renderHistory();
  },
  focusInput: () => input.focus(),
  toggleHistory: () => toggleHistory(),
  moved: (msg) => showMoved(msg.to),
};

window.addEventListener('message', (ev: MessageEvent<ToWebview>) => {
  const handle = onMessage[ev.data?.type] as ((msg: ToWebview) => void) | undefined;
  handle?.(ev.data);
});

compose.showAttachments(page.attachments);
post({ type: 'ready' });
