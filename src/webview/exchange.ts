/**
 * One exchange (question → turns → cells → answer) rendered from the agent's event stream.
 * A stored exchange is rendered by replaying it as events (`eventsOf`), so live and reopened
 * conversations go through the same code.
 */
import type { AgentEvent } from '../core/agent/events';
import type { CodeCell, TrajectoryImage } from '../core/trajectory/types';
import { button, el, formatMs, linkButton } from './dom';
import { renderMarkdown, splitTurn } from './markdown';
import type { ApprovalReply, ExchangeView } from './protocol';

export interface ExchangeActions {
  openImage(index: number, imageId: string): void;
  saveImage(index: number, imageId: string): void;
  copyImage(dataUrl: string): void;
  copyText(text: string): void;
  openCode(code: string): void;
  fork(index: number, cellId: string, code: string): void;
  approve(requestId: string, reply: ApprovalReply): void;
  openLink(href: string): void;
  /** whether cells may be edited & re-run now (nothing running, trusted) */
  canFork(): boolean;
}

interface CellModel {
  cell: CodeCell;
  root: HTMLDetailsElement;
  statusEl: HTMLElement;
  codeEl: HTMLElement;
  stdoutEl: HTMLPreElement;
  stderrEl: HTMLPreElement;
  imagesEl: HTMLElement;
  actionsEl: HTMLElement;
  startedAt?: number;
  approvalEl?: HTMLElement;
}

interface TurnModel {
  index: number;
  content: string;
  root: HTMLElement;
  textEl: HTMLElement;
  cellsEl: HTMLElement;
  metaEl: HTMLElement;
  dirty: boolean;
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

export class ExchangeRenderer {
  readonly root: HTMLElement;
  private readonly turnsEl: HTMLElement;
  private readonly footerEl: HTMLElement;
  private readonly turns = new Map<number, TurnModel>();
  private readonly cells = new Map<string, CellModel>();
  private answerEl?: HTMLElement;
  private rafPending = false;
  private readonly pendingApprovals = new Map<string, { requestId: string; code: string }>();
  status = 'running';

  constructor(readonly index: number, question: string, images: { mime: string; data: string }[], private readonly actions: ExchangeActions) {
    this.root = el('section', { class: 'exchange', 'data-index': String(index), 'aria-label': `Question ${index + 1}` });
    const q = el('div', { class: 'question' });
    q.append(el('div', { class: 'who' }, 'You'));
    if (images.length) {
      const row = el('div', { class: 'question-images' });
      for (const im of images) row.append(el('img', { class: 'thumb', src: dataUrl(im), alt: 'attached image' }));
      q.append(row);
    }
    q.append(el('div', { class: 'question-text' }, question));
    this.turnsEl = el('div', { class: 'turns' });
    this.footerEl = el('div', { class: 'exchange-footer', role: 'status' });
    this.root.append(q, this.turnsEl, this.footerEl);
  }

  /** A stored exchange as the events that produced it. */
  static eventsOf(x: ExchangeView): AgentEvent[] {
    const ev: AgentEvent[] = [];
    for (const t of x.turns) {
      ev.push({ type: 'turn_start', turn: t.index, endpoint: t.endpoint });
      ev.push({ type: 'turn_end', turn: t.index, content: t.content, latencyMs: t.latencyMs, usage: t.usage, discarded: !!t.discarded });
      for (const c of t.cells) {
        ev.push({ type: 'tool_call', turn: t.index, cell: c });
        ev.push({
          type: 'exec_end',
          turn: t.index,
          cellId: c.id,
          cell: c,
          result: { status: c.status === 'pending' || c.status === 'running' || c.status === 'skipped' ? 'cancelled' : c.status, stdout: c.stdout, stderr: c.stderr, images: [], durationMs: c.durationMs ?? 0 },
        });
      }
      for (const m of t.malformed) ev.push({ type: 'malformed', turn: t.index, message: m.message });
    }
    if (x.answer !== undefined && x.status === 'answered') ev.push({ type: 'answer', turn: x.turns.at(-1)?.index ?? 0, text: x.answer });
    if (x.error) ev.push({ type: 'error', error: x.error, fatal: true });
    ev.push({ type: 'done', trajectory: { ...x, messages: [] } });
    return ev;
  }

  apply(e: AgentEvent): void {
    switch (e.type) {
      case 'start':
        this.setFooter('running', 'Thinking…');
        break;
      case 'turn_start':
        this.turn(e.turn);
        break;
      case 'delta': {
        const t = this.turn(e.turn);
        t.content += e.text;
        this.scheduleText(t);
        break;
      }
      case 'retry': {
        const t = this.turn(e.turn);
        t.content = '';
        t.metaEl.textContent = `retrying (attempt ${e.attempt}): ${e.reason}`;
        this.scheduleText(t);
        break;
      }
      case 'turn_end': {
        const t = this.turn(e.turn);
        t.content = e.content;
        this.renderText(t);
        const parts = [`turn ${e.turn + 1}`, formatMs(e.latencyMs)];
        if (e.usage) parts.push(`${e.usage.promptTokens} + ${e.usage.completionTokens} tokens`);
        t.metaEl.textContent = parts.join(' · ');
        if (e.discarded) {
          t.root.classList.add('discarded');
          t.metaEl.textContent += ' · reply had neither code nor an answer: asked again';
        }
        break;
      }
      case 'tool_call':
        this.addCell(e.cell);
        break;
      case 'approval': {
        const c = this.cells.get(e.cellId);
        c?.approvalEl?.remove();
        if (c && e.decision === 'skip') this.setCellStatus(c, 'skipped');
        break;
      }
      case 'exec_start': {
        const c = this.cells.get(e.cellId);
        if (c) {
          c.startedAt = performance.now();
          c.approvalEl?.remove();
          this.setCellStatus(c, 'running');
          c.root.open = true;
        }
        break;
      }
      case 'exec_output': {
        const c = this.cells.get(e.cellId);
        if (c) {
          const target = e.stream === 'stdout' ? c.stdoutEl : c.stderrEl;
          target.textContent += e.text;
          target.hidden = false;
        }
        break;
      }
      case 'exec_end': {
        const c = this.cells.get(e.cellId);
        if (c) this.finishCell(c, e.cell);
        break;
      }
      case 'malformed':
        this.turn(e.turn).cellsEl.append(el('div', { class: 'malformed' }, `Malformed tool call: ${e.message}`));
        break;
      case 'answer':
        this.showAnswer(e.text);
        break;
      case 'error':
        this.root.append(el('div', { class: 'error-box', role: 'alert' }, `${e.error.name}: ${e.error.message}`));
        break;
      case 'done': {
        const t = e.trajectory;
        this.status = t.status;
        for (const c of this.cells.values()) if (c.cell.status === 'running' || c.cell.status === 'pending') this.setCellStatus(c, 'cancelled');
        const label: Record<string, string> = {
          answered: 'Answered',
          max_turns: `No answer after ${t.turns.length} model call(s) (limit ${t.maxTurns})`,
          cancelled: 'Stopped',
          error: 'Failed',
          running: 'Running',
        };
        const u = t.usage;
        this.setFooter(t.status, `${label[t.status] ?? t.status} · ${formatMs(t.durationMs)} · ${u.totalTokens} tokens (${u.promptTokens} prompt + ${u.completionTokens} completion)`);
        break;
      }
      default:
        break;
    }
  }

  /** Shows the approval prompt on a queued cell: Run / Edit / Skip with the code shown. */
  askApproval(requestId: string, cellId: string, code: string): void {
    const c = this.cells.get(cellId);
    if (!c) {
      // the approval request can overtake the cell's tool_call event: show it when the cell arrives
      this.pendingApprovals.set(cellId, { requestId, code });
      return;
    }
    c.root.open = true;
    c.approvalEl?.remove();
    const box = el('div', { class: 'approval', role: 'group', 'aria-label': 'Approve code' });
    box.append(el('div', { class: 'approval-title' }, 'Run this code in the kernel?'));
    const editor = el('textarea', { class: 'code-editor', spellcheck: 'false', 'aria-label': 'Code to run', readonly: '' });
    editor.value = code;
    editor.rows = Math.min(18, code.split('\n').length + 1);
    const reply = (r: ApprovalReply) => {
      box.querySelectorAll('vscode-button').forEach((b) => b.setAttribute('disabled', ''));
      this.actions.approve(requestId, r);
    };
    const run = button('Run', () => reply(editor.readOnly || editor.value === code ? { action: 'run' } : { action: 'edit', code: editor.value }), { action: 'approve-run' });
    const edit = button('Edit', () => {
      editor.readOnly = false;
      editor.focus();
      edit.setAttribute('disabled', '');
    }, { secondary: true, action: 'approve-edit' });
    const skip = button('Skip', () => reply({ action: 'skip' }), { secondary: true, action: 'approve-skip' });
    const row = el('div', { class: 'button-row' });
    row.append(run, edit, skip);
    box.append(editor, row);
    c.approvalEl = box;
    c.codeEl.hidden = true;
    c.root.insertBefore(box, c.codeEl);
    this.setCellStatus(c, 'pending', 'waiting for approval');
    run.focus();
  }

  approvalDone(): void {
    this.pendingApprovals.clear();
    for (const c of this.cells.values()) {
      if (c.approvalEl) {
        c.approvalEl.remove();
        c.approvalEl = undefined;
        c.codeEl.hidden = false;
      }
    }
  }

  /** updates elapsed times of running cells */
  tick(): void {
    for (const c of this.cells.values()) {
      if (c.cell.status === 'running' && c.startedAt !== undefined) c.statusEl.textContent = `running · ${formatMs(performance.now() - c.startedAt)}`;
    }
  }

  private setFooter(status: string, text: string): void {
    this.footerEl.className = `exchange-footer status-${status}`;
    this.footerEl.textContent = text;
  }

  private turn(index: number): TurnModel {
    let t = this.turns.get(index);
    if (t) return t;
    const root = el('div', { class: 'turn', 'data-turn': String(index) });
    const textEl = el('div', { class: 'turn-text markdown' });
    const cellsEl = el('div', { class: 'cells' });
    const metaEl = el('div', { class: 'turn-meta' });
    root.append(textEl, cellsEl, metaEl);
    this.turnsEl.append(root);
    t = { index, content: '', root, textEl, cellsEl, metaEl, dirty: false };
    this.turns.set(index, t);
    return t;
  }

  private scheduleText(t: TurnModel): void {
    t.dirty = true;
    if (this.rafPending) return;
    this.rafPending = true;
    requestAnimationFrame(() => {
      this.rafPending = false;
      for (const x of this.turns.values()) if (x.dirty) this.renderText(x);
    });
  }

  private renderText(t: TurnModel): void {
    t.dirty = false;
    const frag = document.createDocumentFragment();
    for (const seg of splitTurn(t.content)) {
      if (seg.kind === 'code-pending') {
        frag.append(el('div', { class: 'code-pending' }, 'Writing code…'));
        continue;
      }
      const box = el('div', { class: seg.kind === 'think' ? 'think' : 'say' });
      if (seg.kind === 'think') box.append(el('div', { class: 'think-label' }, 'Thinking'));
      const body = el('div', { class: 'md' });
      // renderMarkdown: markdown-it with html off + allowlist sanitizer (see markdown.ts)
      body.innerHTML = renderMarkdown(seg.text);
      this.wireLinks(body);
      box.append(body);
      frag.append(box);
    }
    t.textEl.replaceChildren(frag);
  }

  private wireLinks(root: HTMLElement): void {
    root.querySelectorAll<HTMLAnchorElement>('a[data-href]').forEach((a) =>
      a.addEventListener('click', (ev) => {
        ev.preventDefault();
        this.actions.openLink(a.dataset.href ?? '');
      }),
    );
  }

  private addCell(cell: CodeCell): CellModel {
    const existing = this.cells.get(cell.id);
    if (existing) return existing;
    const root = el('details', { class: 'cell', 'data-cell': cell.id, open: '' }) as HTMLDetailsElement;
    const summary = el('summary', { class: 'cell-summary' });
    const statusEl = el('span', { class: 'cell-status status-pending' }, 'queued');
    summary.append(el('span', { class: 'cell-title' }, `Python · ${cell.id}`), statusEl);
    const codeEl = el('pre', { class: 'code' });
    codeEl.append(el('code', { class: 'language-python' }, cell.code));
    const stdoutEl = el('pre', { class: 'stdout', 'aria-label': 'stdout' });
    const stderrEl = el('pre', { class: 'stderr', 'aria-label': 'stderr' });
    stdoutEl.hidden = true;
    stderrEl.hidden = true;
    const imagesEl = el('div', { class: 'cell-images' });
    const actionsEl = el('div', { class: 'cell-actions' });
    root.append(summary, codeEl, actionsEl, stdoutEl, stderrEl, imagesEl);
    const m: CellModel = { cell: { ...cell }, root, statusEl, codeEl, stdoutEl, stderrEl, imagesEl, actionsEl };
    this.cells.set(cell.id, m);
    this.turn(cell.turn).cellsEl.append(root);
    this.renderCellActions(m);
    const pending = this.pendingApprovals.get(cell.id);
    if (pending) {
      this.pendingApprovals.delete(cell.id);
      this.askApproval(pending.requestId, cell.id, pending.code);
    }
    return m;
  }

  private renderCellActions(c: CellModel): void {
    const a = this.actions;
    c.actionsEl.replaceChildren(
      linkButton('Copy', () => a.copyText(c.cell.code), { title: 'Copy code', action: 'copy-code' }),
      linkButton('Open in editor', () => a.openCode(c.cell.code), { title: 'Open code in an editor', action: 'open-code' }),
      linkButton('Edit & re-run', () => this.startFork(c), { title: 'Edit this code and let the model continue from here (fork)', action: 'fork' }),
    );
  }

  private startFork(c: CellModel): void {
    if (!this.actions.canFork()) return;
    if (c.root.querySelector('.fork-editor')) return;
    const box = el('div', { class: 'fork-editor' });
    const editor = el('textarea', { class: 'code-editor', spellcheck: 'false', 'aria-label': 'Edited code' });
    editor.value = c.cell.code;
    editor.rows = Math.min(18, c.cell.code.split('\n').length + 1);
    const row = el('div', { class: 'button-row' });
    row.append(
      button('Re-run from here', () => {
        box.remove();
        this.actions.fork(this.index, c.cell.id, editor.value);
      }, { action: 'fork-run' }),
      button('Cancel', () => box.remove(), { secondary: true }),
    );
    box.append(editor, row);
    c.actionsEl.after(box);
    editor.focus();
  }

  private setCellStatus(c: CellModel, status: string, label?: string): void {
    c.cell.status = status as CodeCell['status'];
    c.statusEl.className = `cell-status status-${status}`;
    c.statusEl.textContent = label ?? STATUS_LABEL[status] ?? status;
  }

  private finishCell(c: CellModel, cell: CodeCell): void {
    c.cell = { ...cell };
    c.codeEl.hidden = false;
    c.approvalEl?.remove();
    c.approvalEl = undefined;
    const code = c.codeEl.firstElementChild as HTMLElement;
    code.textContent = cell.code;
    let label = STATUS_LABEL[cell.status] ?? cell.status;
    if (cell.durationMs !== undefined && cell.status !== 'skipped') label += ` · ${formatMs(cell.durationMs)}`;
    if (cell.originalCode !== undefined) label += ' · edited';
    this.setCellStatus(c, cell.status, label);
    c.stdoutEl.textContent = cell.stdout;
    c.stdoutEl.hidden = !cell.stdout;
    let stderr = cell.stderr;
    if (cell.error && cell.status !== 'skipped') stderr += `${stderr ? '\n' : ''}${cell.error.ename}: ${cell.error.evalue}`;
    c.stderrEl.textContent = stderr;
    c.stderrEl.hidden = !stderr;
    c.imagesEl.replaceChildren(...cell.images.map((im) => this.imageFigure(im)));
    // collapse quiet successful cells without images only when there are many
  }

  private imageFigure(im: TrajectoryImage): HTMLElement {
    const fig = el('figure', { class: 'out-image' });
    const url = dataUrl(im);
    const open = el('button', { type: 'button', class: 'image-button', title: 'Open full size in an editor tab', 'data-action': 'open-image' });
    const img = el('img', { src: url, alt: `output image ${im.id}`, loading: 'lazy', decoding: 'async' });
    if (im.width && im.height) {
      img.width = im.width;
      img.height = im.height;
    }
    open.append(img);
    open.addEventListener('click', () => this.actions.openImage(this.index, im.id));
    const cap = el('figcaption');
    cap.append(
      el('span', { class: 'image-size' }, im.width && im.height ? `${im.width}×${im.height}` : ''),
      linkButton('Open', () => this.actions.openImage(this.index, im.id), { action: 'open-image-link' }),
      linkButton('Copy', () => this.actions.copyImage(url), { action: 'copy-image' }),
      linkButton('Save…', () => this.actions.saveImage(this.index, im.id), { action: 'save-image' }),
    );
    fig.append(open, cap);
    return fig;
  }

  private showAnswer(text: string): void {
    this.answerEl?.remove();
    const box = el('div', { class: 'answer', role: 'note', 'aria-label': 'Answer' });
    box.append(el('div', { class: 'answer-label' }, 'Answer'));
    const body = el('div', { class: 'md answer-text' });
    body.innerHTML = renderMarkdown(text);
    this.wireLinks(body);
    box.append(body);
    this.answerEl = box;
    this.root.insertBefore(box, this.footerEl);
  }
}
