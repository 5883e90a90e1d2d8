/**
 * Chat panel script (runs in the webview, bundled for the browser).
 * Renders only what the extension sends; never builds HTML from strings it did not create.
 */
import type { FromWebview, PanelState, ToWebview } from './protocol';

interface VsCodeApi {
  postMessage(msg: FromWebview): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function render(state: PanelState): void {
  const root = document.getElementById('root');
  if (!root) return;
  root.replaceChildren();
  const header = el('div', { class: 'status', role: 'status' });
  header.append(el('span', { class: 'codicon' }, `Model: ${state.model || '(first model of the endpoint)'}`), el('span', { class: 'sep' }, ' · '), el('span', {}, state.endpoint));
  root.append(header);
  const empty = el('section', { class: 'empty', 'aria-label': 'CodeDance chat' });
  empty.append(
    el('h2', {}, 'CodeDance'),
    el('p', {}, 'Ask a question about an image: the model thinks, writes Python, runs it in a Jupyter kernel of your interpreter, looks at the results and answers.'),
  );
  if (!state.trusted) {
    empty.append(el('p', { class: 'warning' }, 'This workspace is not trusted, so no code will run here. Trust the workspace to use CodeDance.'));
  }
  if (!state.chatAvailable) {
    empty.append(el('p', { class: 'notice' }, 'The chat panel is not available yet in this build. Use the `codedance ask` command line in the meantime.'));
  }
  const btn = el('button', { type: 'button', id: 'ask-image' }, 'Ask about an image…');
  btn.addEventListener('click', () => vscode.postMessage({ type: 'command', command: 'askAboutImage' }));
  empty.append(btn);
  root.append(empty);
}

function notice(level: string, text: string): void {
  const root = document.getElementById('root');
  root?.append(el('p', { class: `notice ${level}`, role: 'alert' }, text));
}

window.addEventListener('message', (ev: MessageEvent<ToWebview>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'init':
      render(msg.state);
      break;
    case 'notice':
      notice(msg.level, msg.text);
      break;
  }
});

vscode.postMessage({ type: 'ready' });
