/** The panel's chrome around the conversation: the untrusted banner, the first-run walkthrough, history; image copy. */
import { button, el, linkButton } from './dom';
import type { ConversationSummary, PanelState, WebviewRequest } from '../protocol/chat';

type Post = (m: WebviewRequest) => unknown;

export function renderBanners(banners: HTMLElement, state: PanelState | undefined, post: Post): void {
  banners.replaceChildren();
  if (state && !state.trusted) {
    const b = el('div', { class: 'banner warning', role: 'alert', 'data-banner': 'untrusted' });
    b.append(
      el('strong', {}, 'Restricted Mode. '),
      el(
        'span',
        {},
        'This workspace is not trusted, so CodeDance runs no code here: no Python kernel starts, and the interpreter, endpoint and approval settings of this workspace are ignored.',
      ),
    );
    b.append(button('Trust this workspace…', () => post({ type: 'setup', action: 'trust' }), { action: 'trust' }));
    banners.append(b);
  }
}

/** The header's word on where Python cells run ("sandboxed", "unsandboxed: remote kernel", …), the whole notice as its title. */
export function cellsBadge(py: PanelState['python']): Node[] {
  if (py.state !== 'ok' || !py.cells) return [];
  const c = py.cells;
  const badge = el(
    'span',
    {
      class: `cells ${c.sandboxed ? 'cells-sandboxed' : 'cells-unsandboxed'}`,
      'data-cells': c.label,
      title: c.notice,
      'aria-label': `Python cells: ${c.notice}`,
    },
    c.label,
  );
  return [el('span', { class: 'sep' }, ' · '), badge];
}

export function renderWalkthrough(walkthroughEl: HTMLElement, state: PanelState | undefined, hasExchanges: boolean, post: Post): void {
  walkthroughEl.replaceChildren();
  walkthroughEl.hidden = !state?.walkthrough || hasExchanges;
  if (!state || walkthroughEl.hidden) return;
  const py = state.python;
  const pyText = py.state === 'ok' ? `${py.python} (Python ${py.version})` : py.state === 'checking' ? 'checking…' : py.message;
  walkthroughEl.append(
    el('h2', {}, 'CodeDance'),
    el(
      'p',
      {},
      'Ask a question about an image: the model thinks, writes Python, runs it in a Jupyter kernel of your interpreter, looks at the results and answers.',
    ),
  );
  const steps = el('ol', { class: 'steps' });
  const step = (title: string, detail: string, ok: boolean | undefined, action: HTMLElement) => {
    const li = el('li', { class: ok === undefined ? 'step' : ok ? 'step ok' : 'step todo' });
    li.append(el('div', { class: 'step-title' }, `${ok ? '✓ ' : ''}${title}`), el('div', { class: 'step-detail' }, detail), action);
    steps.append(li);
  };
  step(
    'Model endpoint',
    state.endpoint || 'not set',
    !!state.endpoint,
    button('Connect a model…', () => post({ type: 'setup', action: 'connectModel' }), { secondary: true, action: 'connect-model' }),
  );
  step(
    'API key (optional for a local vLLM)',
    state.hasApiKey ? 'stored in SecretStorage' : 'none stored',
    state.hasApiKey,
    button('Set API key…', () => post({ type: 'setup', action: 'setApiKey' }), { secondary: true, action: 'set-api-key' }),
  );
  step(
    'Python interpreter',
    pyText,
    py.state === 'ok',
    button('Pick interpreter…', () => post({ type: 'setup', action: 'pickInterpreter' }), { secondary: true, action: 'pick-interpreter' }),
  );
  step(
    'Ask',
    'Right-click an image in the explorer → "Ask about image", or attach one below.',
    undefined,
    button('Ask about an image…', () => post({ type: 'setup', action: 'askAboutImage' }), { action: 'ask-image' }),
  );
  const links = el('div', { class: 'walkthrough-links' });
  links.append(
    linkButton('Open the walkthrough', () => post({ type: 'setup', action: 'openWalkthrough' }), {
      action: 'open-walkthrough',
      title: 'Get Started with CodeDance: connect a model, ask about an image, run an eval, submit a job',
    }),
    linkButton('Hide this guide', () => post({ type: 'setup', action: 'dismissWalkthrough' }), { action: 'dismiss-walkthrough' }),
  );
  walkthroughEl.append(steps, links);
}

export function renderHistory(historyPanel: HTMLElement, history: ConversationSummary[], activeId: string | undefined, post: Post): void {
  historyPanel.replaceChildren(el('h3', {}, 'History'));
  if (!history.length) {
    historyPanel.append(el('p', { class: 'muted' }, 'No saved conversations in this workspace yet.'));
    return;
  }
  const list = el('ul', { class: 'history-list' });
  for (const h of history) {
    const li = el('li', { class: h.id === activeId ? 'active' : '', 'data-conversation': h.id });
    const open = linkButton(h.title || '(untitled)', () => post({ type: 'history', action: 'open', conversationId: h.id }), {
      action: 'open-conversation',
      title: `Open (${h.exchanges} question(s), ${new Date(h.updatedAt).toLocaleString()})`,
    });
    open.classList.add('history-title');
    li.append(
      open,
      el('span', { class: 'muted' }, new Date(h.updatedAt).toLocaleString()),
      linkButton('Rename', () => post({ type: 'history', action: 'rename', conversationId: h.id }), { action: 'rename-conversation' }),
      linkButton('Delete', () => post({ type: 'history', action: 'delete', conversationId: h.id }), { action: 'delete-conversation' }),
    );
    list.append(li);
  }
  historyPanel.append(list);
}

/** Copies an image to the clipboard as PNG (where the webview may). */
export async function copyImage(url: string, notice: (level: string, text: string) => void): Promise<void> {
  try {
    const blob = await (await fetch(url)).blob();
    const png = blob.type === 'image/png' ? blob : await toPng(url);
    await navigator.clipboard.write([new ClipboardItem({ 'image/png': png })]);
    notice('info', 'Image copied to the clipboard.');
  } catch (e) {
    notice('warning', `Copying images is not allowed here (${(e as Error).message}); use Save… or Open instead.`);
  }
}

async function toPng(url: string): Promise<Blob> {
  const img = new Image();
  img.src = url;
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth;
  c.height = img.naturalHeight;
  c.getContext('2d')!.drawImage(img, 0, 0);
  return await new Promise<Blob>((res, rej) => c.toBlob((b) => (b ? res(b) : rej(new Error('encoding failed'))), 'image/png'));
}
