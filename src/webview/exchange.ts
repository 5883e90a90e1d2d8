/**
 * One exchange (question → turns → cells → answer) rendered from the agent's event stream as the
 * panel gets it (`PanelEvent`). A stored exchange is rendered from its replayed events
 * (`exchangeEvents`), so live and reopened conversations go through the same code.
 */
import type { TrajectoryReward } from '../core/reward/reward';
import type { CodeCell } from '../core/trajectory/types';
import { CellView, codeBlock, dataUrl, focusInView, type CellActions } from './cell';
import { button, el, formatMs } from './dom';
import { renderMarkdown, splitTurn } from './markdown';
import type { ApprovalReply, PanelEvent, RunSummary } from '../protocol/chat';

export interface ExchangeActions extends CellActions {
  /** the answer to an approval request of run `run` */
  approve(run: string, cellId: string, reply: ApprovalReply): void;
  /** the answer to a request to re-run earlier code (kernel rebuild) of run `run` */
  restore(run: string, accept: boolean): void;
  openLink(href: string): void;
}

interface TurnModel {
  index: number;
  content: string;
  root: HTMLElement;
  textEl: HTMLElement;
  cellsEl: HTMLElement;
  metaEl: HTMLElement;
  dirty: boolean;
  /** the reply is complete (turn_end): an unclosed `<code>` is not code being written */
  ended: boolean;
}

export class ExchangeRenderer {
  readonly root: HTMLElement;
  private readonly restoreEl: HTMLElement;
  private readonly turnsEl: HTMLElement;
  private readonly footerEl: HTMLElement;
  private readonly turns = new Map<number, TurnModel>();
  private readonly cells = new Map<string, CellView>();
  private answerEl?: HTMLElement;
  private rafPending = false;
  status = 'running';

  /** `run`: the id of the run that makes this exchange live (absent for a stored one) */
  constructor(
    readonly index: number,
    question: string,
    private readonly images: { mime: string; data: string }[],
    private readonly actions: ExchangeActions,
    private readonly run?: string,
  ) {
    this.root = el('section', { class: 'exchange', 'data-index': String(index), 'aria-label': `Question ${index + 1}` });
    const q = el('div', { class: 'question' });
    q.append(el('div', { class: 'who' }, 'You'));
    if (images.length) {
      const row = el('div', { class: 'question-images' });
      for (const im of images) row.append(el('img', { class: 'thumb', src: dataUrl(im), alt: 'attached image' }));
      q.append(row);
    }
    q.append(el('div', { class: 'question-text' }, question));
    this.restoreEl = el('div', { class: 'restore', hidden: '' });
    this.turnsEl = el('div', { class: 'turns' });
    this.footerEl = el('div', { class: 'exchange-footer', role: 'status' });
    this.root.append(q, this.restoreEl, this.turnsEl, this.footerEl);
  }

  apply(e: PanelEvent): void {
    if (this.applyTurnEvent(e) || this.applyCellEvent(e)) return;
    switch (e.type) {
      case 'restore_request':
        this.askRestore(e.code);
        break;
      case 'restore':
        this.restoreEl.hidden = false;
        this.restoreEl.replaceChildren(
          el(
            'div',
            { class: `restore-note ${e.restored ? 'ok' : 'skipped'}`, role: 'status' },
            e.restored
              ? `Kernel rebuilt: re-ran ${e.cells} earlier cell(s).`
              : `Kernel not rebuilt: the ${e.cells} earlier cell(s) did not run again, so their variables are missing.`,
          ),
        );
        break;
      case 'answer':
        this.showAnswer(e.text);
        break;
      case 'error':
        this.root.append(el('div', { class: 'error-box', role: 'alert' }, `${e.error.name}: ${e.error.message}`));
        break;
      case 'done':
        this.finishRun(e.summary);
        break;
      default:
        break;
    }
  }

  /** The events of the run's start and of its model turns; false for any other event. */
  private applyTurnEvent(e: PanelEvent): boolean {
    switch (e.type) {
      case 'start':
        this.setFooter('running', 'Thinking…');
        // a kernel that is not a local one of ours (a notebook's, a Jupyter server's): say where the code runs
        if (e.where)
          this.turnsEl.before(el('div', { class: 'kernel-where', role: 'note', 'data-kernel-where': e.where }, `Code runs in ${e.where}.`));
        return true;
      case 'turn_start':
        this.turn(e.turn);
        return true;
      case 'delta': {
        const t = this.turn(e.turn);
        t.content += e.text;
        this.scheduleText(t);
        return true;
      }
      case 'retry': {
        const t = this.turn(e.turn);
        t.content = '';
        t.ended = false;
        t.metaEl.textContent = `retrying (attempt ${e.attempt}): ${e.reason}`;
        this.scheduleText(t);
        return true;
      }
      case 'turn_end': {
        const t = this.turn(e.turn);
        t.content = e.content;
        t.ended = true;
        this.renderText(t);
        const parts = [`turn ${e.turn + 1}`, formatMs(e.latencyMs)];
        if (e.usage) parts.push(`${e.usage.promptTokens} + ${e.usage.completionTokens} tokens`);
        t.metaEl.textContent = parts.join(' · ');
        if (e.discarded) {
          t.root.classList.add('discarded');
          t.metaEl.textContent += ' · reply had neither code nor an answer: asked again';
        }
        return true;
      }
      case 'malformed':
        this.turn(e.turn).cellsEl.append(el('div', { class: 'malformed' }, `Malformed tool call: ${e.message}`));
        return true;
      default:
        return false;
    }
  }

  /** The events of the code cells (call, approval, execution); false for any other event. */
  private applyCellEvent(e: PanelEvent): boolean {
    switch (e.type) {
      case 'tool_call':
        this.addCell(e.cell);
        return true;
      case 'approval_request': {
        const run = this.run;
        if (run) this.cells.get(e.cellId)?.askApproval(e.code, (r) => this.actions.approve(run, e.cellId, r));
        return true;
      }
      case 'approval': {
        const c = this.cells.get(e.cellId);
        c?.clearApproval();
        if (c && e.decision === 'skip') c.setStatus('skipped');
        return true;
      }
      case 'exec_start':
        this.cells.get(e.cellId)?.start();
        return true;
      case 'exec_output':
        this.cells.get(e.cellId)?.output(e.stream, e.text);
        return true;
      case 'exec_end':
        this.cells.get(e.cellId)?.finish(e.cell);
        return true;
      default:
        return false;
    }
  }

  /** The run ended: unfinished cells are cancelled, a pending restore question goes, the footer sums the run up. */
  private finishRun(t: RunSummary): void {
    this.status = t.status;
    for (const c of this.cells.values()) {
      c.clearApproval();
      if (c.cell.status === 'running' || c.cell.status === 'pending') c.setStatus('cancelled');
    }
    if (this.restoreEl.querySelector('.restore-ask')) this.restoreEl.replaceChildren();
    const label: Record<string, string> = {
      answered: 'Answered',
      max_turns: `No answer after ${t.turns} model call(s) (limit ${t.maxTurns})`,
      cancelled: 'Stopped',
      error: 'Failed',
      running: 'Running',
    };
    const u = t.usage;
    this.setFooter(
      t.status,
      `${label[t.status] ?? t.status} · ${formatMs(t.durationMs)} · ${u.totalTokens} tokens (${u.promptTokens} prompt + ${u.completionTokens} completion)`,
    );
    if (t.reward) this.showReward(t.reward);
  }

  /** The seed's training reward as the extension computed it: each cell's call score, and the answer's reward when a ground truth is known. */
  private showReward(w: TrajectoryReward): void {
    for (const [id, score] of Object.entries(w.cells ?? {})) this.cells.get(id)?.markReward(score);
    const n = (x: number | null | undefined) => (x === undefined || x === null ? 'n/a' : String(Math.round(x * 1000) / 1000));
    const parts =
      w.score !== undefined
        ? [
            `reward ${n(w.score)}`,
            `acc ${n(w.acc)}${w.accFrom === 'normalized-match' ? ' (no judge: normalized match)' : ''}`,
            `format ${n(w.format_r)}`,
            `tool ${n(w.tool_reward_component)}`,
          ]
        : [`format ${n(w.format_r)}`];
    if (w.perCall.length) parts.push(`tool calls ${w.perCall.length - w.perCall.filter((x) => x < 0).length}/${w.perCall.length} good`);
    const line = el(
      'div',
      {
        class: 'exchange-reward',
        'data-score': w.score === undefined ? '' : String(w.score),
        title:
          w.score === undefined
            ? 'the seed’s training reward; acc and score need a ground truth (ask from an eval sample to have one)'
            : 'the seed’s training reward against the eval sample’s ground truth',
      },
      `Training reward: ${parts.join(' · ')}`,
    );
    this.root.querySelector('.exchange-reward')?.remove();
    this.footerEl.after(line);
  }

  /** Earlier code to re-run (kernel rebuild), shown as one batch: Run all / Skip. */
  private askRestore(code: string[]): void {
    const run = this.run;
    if (!run) return;
    const box = el('div', {
      class: 'approval restore-ask',
      role: 'group',
      'aria-label': 'Rebuild the kernel: Ctrl+Enter runs the earlier cells, Escape skips them',
    });
    box.append(
      el('div', { class: 'approval-title' }, `The kernel is fresh. Run the ${code.length} earlier cell(s) again to rebuild its variables?`),
    );
    const list = el('details', { class: 'restore-code' });
    list.append(el('summary', {}, 'Show the code'));
    for (const c of code) list.append(codeBlock(c));
    const reply = (accept: boolean) => {
      if (box.classList.contains('answered')) return;
      box.classList.add('answered');
      box.querySelectorAll('vscode-button').forEach((b) => b.setAttribute('disabled', ''));
      this.actions.restore(run, accept);
    };
    const row = el('div', { class: 'button-row' });
    const runAll = button('Run all', () => reply(true), { action: 'restore-run', title: 'Run all (Ctrl+Enter)' });
    row.append(
      runAll,
      button('Skip', () => reply(false), { secondary: true, action: 'restore-skip', title: 'Skip (Escape)' }),
    );
    box.append(list, row);
    this.restoreEl.hidden = false;
    this.restoreEl.replaceChildren(box);
    focusInView(box, runAll);
  }

  /** updates elapsed times of running cells */
  tick(): void {
    for (const c of this.cells.values()) c.tick();
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
    t = { index, content: '', root, textEl, cellsEl, metaEl, dirty: false, ended: false };
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
    for (const seg of splitTurn(t.content, t.ended)) {
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

  private addCell(cell: CodeCell): CellView {
    const existing = this.cells.get(cell.id);
    if (existing) return existing;
    const c = new CellView(cell, this.index, this.actions, (i) => this.images[i]);
    this.cells.set(cell.id, c);
    this.turn(cell.turn).cellsEl.append(c.root);
    return c;
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
