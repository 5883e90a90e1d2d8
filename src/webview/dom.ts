/** Tiny DOM helpers: elements are built from strings this code owns; model text only ever goes in as text. */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

export interface ButtonOptions {
  secondary?: boolean;
  title?: string;
  /** data-action, for tests and delegation */
  action?: string;
  small?: boolean;
  disabled?: boolean;
}

/** A theme-aware button (@vscode-elements `vscode-button`; keyboard: Tab, Enter, Space). */
export function button(label: string, onClick: (ev: Event) => void, opts: ButtonOptions = {}): HTMLElement {
  const b = document.createElement('vscode-button') as HTMLElement & { secondary: boolean; disabled: boolean };
  b.textContent = label;
  // focusable at once (the element reflects its own tabindex only after its first render)
  b.setAttribute('tabindex', '0');
  if (opts.secondary) b.setAttribute('secondary', '');
  if (opts.title) {
    b.setAttribute('title', opts.title);
    b.setAttribute('aria-label', opts.title);
  }
  if (opts.action) b.dataset.action = opts.action;
  if (opts.small) b.classList.add('small');
  if (opts.disabled) b.setAttribute('disabled', '');
  b.addEventListener('click', (ev) => {
    if (b.hasAttribute('disabled')) return;
    onClick(ev);
  });
  return b;
}

/** A plain text-only link-like button for dense toolbars (native <button>, focusable). */
export function linkButton(label: string, onClick: (ev: Event) => void, opts: { title?: string; action?: string } = {}): HTMLButtonElement {
  const b = el('button', { type: 'button', class: 'link-button' }, label);
  if (opts.title) b.title = opts.title;
  if (opts.action) b.dataset.action = opts.action;
  b.addEventListener('click', onClick);
  return b;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}
