/**
 * One code cell of an exchange: its code, status, streamed output, images, the approval prompt
 * (approval mode `always`) and Edit & re-run. Model output goes in as text only.
 */
import type { CodeCell, TrajectoryImage } from '../core/trajectory/types';
import { button, el, formatMs, linkButton } from './dom';
import { highlightPython } from './highlight';
import type { ApprovalReply } from '../protocol/chat';
import { cellRegion } from '../protocol/toolRegion';
import { zoomRegionFigure, type RegionImage } from './zoomRegion';

export interface CellActions {
  openImage(index: number, imageId: string): void;
  saveImage(index: number, imageId: string): void;
  copyImage(dataUrl: string): void;
  copyText(text: string): void;
  openCode(code: string): void;
  fork(index: number, cellId: string, code: string): void;
  /** whether cells may be edited & re-run now (nothing running, trusted) */
  canFork(): boolean;
}

const STATUS_LABEL: Record<string, string> = {
  pending: 'queued',
  running: 'running',
  ok: 'done',
  error: 'error',
  timeout: 'timed out',
  died: 'kernel died',
  cancelled: 'stopped',
  skipped: 'skipped',
};

export function dataUrl(im: { mime: string; data: string }): string {
  return `data:${im.mime};base64,${im.data}`;
}

/**
 * Scrolls `box` into view (clear of the sticky header and compose box: its scroll margins) and
 * focuses `target` once the button has rendered, so the keyboard acts on it.
 */
export function focusInView(box: HTMLElement, target: HTMLElement): void {
  box.scrollIntoView({ block: 'nearest' });
  target.focus({ preventScroll: true });
  const rendered = (target as HTMLElement & { updateComplete?: Promise<unknown> }).updateComplete;
  void rendered?.then(() => {
    if (!box.isConnected || box.classList.contains('answered')) return;
    box.scrollIntoView({ block: 'nearest' });
    target.focus({ preventScroll: true });
  });
}

/** code longer than this many lines starts collapsed */
export const COLLAPSE_LINES = 12;

/** Python code, highlighted; long code collapsed behind "Show all N lines" (keyboard: Tab to it, Enter). */
export function codeBlock(code: string, extraClass = ''): HTMLElement {
  const wrap = el('div', { class: `code-block ${extraClass}`.trim() });
  const pre = el('pre', { class: 'code', tabindex: '0', 'aria-label': 'Python code' });
  const c = el('code', { class: 'language-python' });
  c.append(highlightPython(code));
  pre.append(c);
  wrap.append(pre);
  const lines = code.split('\n').length;
  if (lines > COLLAPSE_LINES) {
    wrap.classList.add('collapsible', 'collapsed');
    const toggle = linkButton(
      `Show all ${lines} lines`,
      () => {
        const collapsed = wrap.classList.toggle('collapsed');
        toggle.textContent = collapsed ? `Show all ${lines} lines` : 'Show less';
        toggle.setAttribute('aria-expanded', String(!collapsed));
      },
      { action: 'toggle-code' },
    );
    toggle.setAttribute('aria-expanded', 'false');
    wrap.append(toggle);
  }
  return wrap;
}

export class CellView {
  cell: CodeCell;
  readonly root: HTMLDetailsElement;
  private readonly statusEl: HTMLElement;
  private codeEl: HTMLElement;
  private readonly stdoutEl: HTMLPreElement;
  private readonly stderrEl: HTMLPreElement;
  private readonly imagesEl: HTMLElement;
  private readonly actionsEl: HTMLElement;
  private startedAt?: number;
  private approvalEl?: HTMLElement;

  /** `sourceImage`: the question's input images by index (a zoom call's box is drawn on the one it names) */
  constructor(
    cell: CodeCell,
    private readonly index: number,
    private readonly actions: CellActions,
    sourceImage: (index: number) => RegionImage | undefined = () => undefined,
  ) {
    this.cell = { ...cell };
    this.root = el('details', { class: `cell${cell.tool ? ' tool-cell' : ''}`, 'data-cell': cell.id, open: '' }) as HTMLDetailsElement;
    if (cell.tool) this.root.dataset.tool = cell.tool.name;
    const summary = el('summary', { class: 'cell-summary' });
    this.statusEl = el('span', { class: 'cell-status status-pending' }, 'queued');
    summary.append(el('span', { class: 'cell-title' }, `${cell.tool ? cell.tool.name : 'Python'} · ${cell.id}`), this.statusEl);
    this.codeEl = codeBlock(cell.code);
    this.stdoutEl = el('pre', { class: 'stdout', 'aria-label': 'stdout' });
    this.stderrEl = el('pre', { class: 'stderr', 'aria-label': 'stderr' });
    this.stdoutEl.hidden = true;
    this.stderrEl.hidden = true;
    this.imagesEl = el('div', { class: 'cell-images' });
    this.actionsEl = el('div', { class: 'cell-actions' });
    this.root.append(summary, this.codeEl, this.actionsEl, this.stdoutEl, this.stderrEl);
    // a zoom call: its box on the image it refers to, then (in imagesEl) the crop it produced
    const region = cellRegion(cell.tool);
    if (region) {
      const label = cell.tool?.arguments.label;
      this.root.append(zoomRegionFigure(region, sourceImage(region.imageIndex), typeof label === 'string' ? label : undefined));
    }
    this.root.append(this.imagesEl);
    this.actionsEl.append(linkButton('Copy', () => actions.copyText(this.cell.code), { title: 'Copy code', action: 'copy-code' }));
    // a format's own tool call is not Python: it is neither opened as code nor edited (runAgent does not edit it)
    if (!cell.tool)
      this.actionsEl.append(
        linkButton('Open in editor', () => actions.openCode(this.cell.code), { title: 'Open code in an editor', action: 'open-code' }),
        linkButton('Edit & re-run', () => this.startFork(), {
          title: 'Edit this code and let the model continue from here (fork)',
          action: 'fork',
        }),
      );
  }

  /** The call's score in the seed's training reward (tool_step): −0.5 for a failed call, else 0. */
  markReward(score: number): void {
    this.root.querySelector('.cell-reward')?.remove();
    const badge = el(
      'span',
      {
        class: `cell-reward ${score < 0 ? 'bad' : 'ok'}`,
        title: 'this call’s score in the seed’s training reward (tool_step): −0.5 for a failed call',
        'data-step': String(score),
      },
      score < 0 ? `reward ${score}` : 'reward +0',
    );
    this.statusEl.after(badge);
  }

  setStatus(status: string, label?: string): void {
    this.cell.status = status as CodeCell['status'];
    this.statusEl.className = `cell-status status-${status}`;
    this.statusEl.textContent = label ?? STATUS_LABEL[status] ?? status;
  }

  /**
   * The approval prompt: the code (highlighted, long code collapsed) with Run / Edit / Skip;
   * Ctrl/Cmd+Enter runs, Esc skips (main.ts). Scrolled into view with its buttons and focused on
   * Run when it appears. `answer` gets the decision once.
   */
  askApproval(code: string, answer: (r: ApprovalReply) => void): void {
    this.root.open = true;
    this.clearApproval();
    const box = el('div', {
      class: 'approval',
      role: 'group',
      'aria-label': 'Approve code: Ctrl+Enter runs it, Escape skips it',
      'data-approval': this.cell.id,
    });
    const title = el('div', { class: 'approval-title' });
    title.append(el('span', {}, 'Run this code in the kernel?'), el('span', { class: 'approval-keys' }, 'Ctrl+Enter run · Esc skip'));
    const view = codeBlock(code, 'approval-code');
    const editor = el('textarea', { class: 'code-editor', spellcheck: 'false', 'aria-label': 'Code to run' });
    editor.value = code;
    editor.rows = Math.min(18, code.split('\n').length + 1);
    editor.hidden = true;
    let answered = false;
    const reply = (r: ApprovalReply) => {
      if (answered) return;
      answered = true;
      box.classList.add('answered');
      box.querySelectorAll('vscode-button').forEach((b) => b.setAttribute('disabled', ''));
      answer(r);
    };
    const run = button(
      'Run',
      () => reply(editor.hidden || editor.value === code ? { action: 'run' } : { action: 'edit', code: editor.value }),
      { action: 'approve-run', title: 'Run (Ctrl+Enter)' },
    );
    const edit = button(
      'Edit',
      () => {
        view.hidden = true;
        editor.hidden = false;
        editor.focus();
        edit.setAttribute('disabled', '');
      },
      { secondary: true, action: 'approve-edit', title: 'Edit the code, then Run' },
    );
    const skip = button('Skip', () => reply({ action: 'skip' }), { secondary: true, action: 'approve-skip', title: 'Skip (Escape)' });
    const row = el('div', { class: 'button-row' });
    row.append(run, edit, skip);
    box.append(title, view, editor, row);
    this.approvalEl = box;
    this.codeEl.hidden = true;
    this.root.insertBefore(box, this.codeEl);
    this.setStatus('pending', 'waiting for approval');
    focusInView(box, run);
  }

  clearApproval(): void {
    this.approvalEl?.remove();
    this.approvalEl = undefined;
    this.codeEl.hidden = false;
  }

  start(): void {
    this.startedAt = performance.now();
    this.clearApproval();
    this.setStatus('running');
    this.root.open = true;
  }

  output(stream: 'stdout' | 'stderr', text: string): void {
    const target = stream === 'stdout' ? this.stdoutEl : this.stderrEl;
    target.textContent += text;
    target.hidden = false;
  }

  /** updates the elapsed time of a running cell */
  tick(): void {
    if (this.cell.status === 'running' && this.startedAt !== undefined)
      this.statusEl.textContent = `running · ${formatMs(performance.now() - this.startedAt)}`;
  }

  finish(cell: CodeCell): void {
    this.cell = { ...cell };
    this.clearApproval();
    const code = codeBlock(cell.code);
    this.codeEl.replaceWith(code);
    this.codeEl = code;
    let label = STATUS_LABEL[cell.status] ?? cell.status;
    if (cell.durationMs !== undefined && cell.status !== 'skipped') label += ` · ${formatMs(cell.durationMs)}`;
    if (cell.originalCode !== undefined) label += ' · edited';
    this.setStatus(cell.status, label);
    this.stdoutEl.textContent = cell.stdout;
    this.stdoutEl.hidden = !cell.stdout;
    let stderr = cell.stderr;
    if (cell.error && cell.status !== 'skipped') stderr += `${stderr ? '\n' : ''}${cell.error.ename}: ${cell.error.evalue}`;
    this.stderrEl.textContent = stderr;
    this.stderrEl.hidden = !stderr;
    this.imagesEl.replaceChildren(...cell.images.map((im) => this.imageFigure(im)));
  }

  private startFork(): void {
    if (!this.actions.canFork()) return;
    if (this.root.querySelector('.fork-editor')) return;
    const box = el('div', { class: 'fork-editor' });
    const editor = el('textarea', { class: 'code-editor', spellcheck: 'false', 'aria-label': 'Edited code' });
    editor.value = this.cell.code;
    editor.rows = Math.min(18, this.cell.code.split('\n').length + 1);
    const row = el('div', { class: 'button-row' });
    row.append(
      button(
        'Re-run from here',
        () => {
          box.remove();
          this.actions.fork(this.index, this.cell.id, editor.value);
        },
        { action: 'fork-run' },
      ),
      button('Cancel', () => box.remove(), { secondary: true }),
    );
    box.append(editor, row);
    this.actionsEl.after(box);
    editor.focus();
  }

  private imageFigure(im: TrajectoryImage): HTMLElement {
    const fig = el('figure', { class: 'out-image' });
    const url = dataUrl(im);
    const open = el('button', {
      type: 'button',
      class: 'image-button',
      title: 'Open full size in an editor tab',
      'data-action': 'open-image',
    });
    const crop = im.source === 'tool' && this.cell.tool;
    const img = el('img', { src: url, alt: `${crop ? 'crop' : 'output image'} ${im.id}`, loading: 'lazy', decoding: 'async' });
    if (im.width && im.height) {
      img.width = im.width;
      img.height = im.height;
    }
    open.append(img);
    open.addEventListener('click', () => this.actions.openImage(this.index, im.id));
    const cap = el('figcaption');
    if (crop) {
      fig.classList.add('zoom-crop');
      cap.append(el('span', { class: 'image-kind' }, 'crop'));
    }
    cap.append(
      el('span', { class: 'image-size' }, im.width && im.height ? `${im.width}×${im.height}` : ''),
      linkButton('Open', () => this.actions.openImage(this.index, im.id), { action: 'open-image-link' }),
      linkButton('Copy', () => this.actions.copyImage(url), { action: 'copy-image' }),
      linkButton('Save…', () => this.actions.saveImage(this.index, im.id), { action: 'save-image' }),
    );
    fig.append(open, cap);
    return fig;
  }
}
