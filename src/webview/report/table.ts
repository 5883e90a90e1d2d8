/**
 * The report's table of samples: filter buttons (with counts), the question search, selection for
 * export, and the rows — virtualized: the table scrolls in its own box and only the rows in view
 * (and a screen either side) are in the DOM, so a run of 10,000 samples opens and scrolls as one
 * of 100 does. Every row has the same height (its cells on one line, the full text in a tooltip),
 * so a row's place is its position in the filtered list times that height.
 */
import type { ReportRun, ReportSampleRow } from '../../protocol/report';
import { el } from './charts';
import { rewardText } from './reward';
import { secs } from './trajectory';

export type Filter = 'all' | 'correct' | 'wrong' | 'error' | 'differs';

/** What the table reads and changes of the page's state. */
export interface TableState {
  runs: ReportRun[];
  filter: Filter;
  search: string;
  selected: number | undefined;
  /** samples of run A checked for export */
  checked: Set<number>;
}

export interface TableActions {
  /** open sample `index` (run B's too when it has it) */
  open(index: number, inB: boolean): void;
  /** export the checked samples of run A */
  exportChecked(indexes: number[]): void;
}

export function kind(r: ReportSampleRow | undefined): 'correct' | 'wrong' | 'error' | 'missing' {
  if (!r) return 'missing';
  if (r.status === 'error') return 'error';
  return r.acc === 1 ? 'correct' : 'wrong';
}

/** rows drawn beyond the visible ones, above and below */
const OVERSCAN = 20;
/** a row's height before one was measured (px) */
const DEFAULT_ROW_HEIGHT = 24;

/** a row that stands for the rows not drawn above or below (its height set at each draw) */
function spacer(): { tr: HTMLElement; td: HTMLElement } {
  const tr = el('tr', { class: 'spacer', 'aria-hidden': 'true' });
  const td = el('td', { colspan: '12' });
  tr.append(td);
  return { tr, td };
}

export class SampleTable {
  private bMap = new Map<number, ReportSampleRow>();
  /** the rows that pass the filter and the search, in order */
  private shown: ReportSampleRow[] = [];
  private rowHeight = 0;
  /** the window of `shown` drawn now: [first, end) */
  private drawn: [number, number] = [0, 0];
  /** the rows drawn now, by sample index: a row still in the next window is moved, not made again */
  private rows = new Map<number, HTMLElement>();
  private readonly above = spacer();
  private readonly below = spacer();
  private frame = 0;
  private readonly bars = el('div', { class: 'table-bars' });
  private readonly scroller = el('div', { class: 'table-scroll', tabindex: '-1' });
  private readonly body = el('tbody');
  private readonly head = el('thead');
  private readonly empty = el('p', { class: 'muted', hidden: '' }, 'No sample matches.');
  private readonly selectionInfo = el('span', { class: 'muted', 'aria-live': 'polite' });
  private readonly exportBtn = el('button', { type: 'button', 'data-action': 'export' }, 'Export selected as training data…');
  private readonly search = el('input', { type: 'search', placeholder: 'search questions', 'aria-label': 'Search questions' });

  constructor(
    host: HTMLElement,
    private readonly state: TableState,
    private readonly actions: TableActions,
  ) {
    const table = el('table', { class: 'sample-table' });
    table.append(this.head, this.body);
    this.scroller.append(table);
    host.replaceChildren(this.bars, this.scroller, this.empty);
    this.scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
    this.exportBtn.addEventListener('click', () => this.actions.exportChecked([...this.state.checked].sort((x, y) => x - y)));
    this.search.addEventListener('input', () => {
      this.state.search = this.search.value;
      this.refresh();
    });
  }

  /** The runs changed: counts, buttons and header anew, then the rows. */
  setRuns(): void {
    const [a, b] = this.state.runs;
    this.bMap = new Map((b?.samples ?? []).map((s) => [s.index, s]));
    this.search.value = this.state.search;
    this.bars.replaceChildren(this.filterBar(a, b), this.selectionBar(a));
    const head = el('tr');
    head.append(el('th', { scope: 'col', class: 'pick c-pick' }, ''));
    // each column's width (report.css c-*): the table is laid out from its header alone
    const cols: [string, string][] = [
      ['#', 'c-num'],
      ['source', 'c-source'],
      [b ? 'A' : 'result', 'c-verdict'],
      ...(b ? [['B', 'c-verdict'] as [string, string]] : []),
      [b ? 'reward A' : 'reward', 'c-small'],
      ['turns', 'c-small'],
      ['tools', 'c-small'],
      ['latency', 'c-small'],
      ['question', 'c-question'],
      ['answer / truth', 'c-answer'],
    ];
    for (const [h, c] of cols) head.append(el('th', { scope: 'col', class: c }, h));
    this.head.replaceChildren(head);
    this.refresh();
  }

  /** The filter, the search or the checked samples changed: the rows anew, from the top. */
  refresh(): void {
    const a = this.state.runs[0];
    const needle = this.state.search.trim().toLowerCase();
    const f = this.state.filter;
    this.shown = (a?.samples ?? []).filter((s) => {
      const k = kind(s);
      if (f === 'differs' ? kind(this.bMap.get(s.index)) === k : f !== 'all' && k !== f) return false;
      return !needle || s.question.toLowerCase().includes(needle);
    });
    for (const btn of this.bars.querySelectorAll<HTMLButtonElement>('button[data-filter]')) {
      const on = btn.dataset.filter === f;
      btn.classList.toggle('on', on);
      btn.setAttribute('aria-pressed', String(on));
    }
    this.updateSelection();
    this.empty.hidden = this.shown.length > 0;
    this.scroller.scrollTop = 0;
    this.drawn = [0, 0];
    for (const tr of this.rows.values()) tr.remove();
    this.rows.clear();
    this.draw(true);
  }

  /** Marks sample `index` as the one open (and scrolls it into view when it is drawn). */
  markSelected(index: number): void {
    this.state.selected = index;
    for (const r of this.body.querySelectorAll('tr.selected')) r.classList.remove('selected');
    this.body.querySelector(`tr[data-index="${index}"]`)?.classList.add('selected');
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw(false);
    });
  }

  /** Draws the rows in view (plus OVERSCAN either side); nothing while those in view are drawn with room to spare. */
  private draw(force: boolean): void {
    const h = this.rowHeight || DEFAULT_ROW_HEIGHT;
    const view = this.scroller.clientHeight || window.innerHeight;
    const n = this.shown.length;
    const visFirst = Math.floor(this.scroller.scrollTop / h);
    const visEnd = Math.min(n, Math.ceil((this.scroller.scrollTop + view) / h));
    const [d0, d1] = this.drawn;
    const roomAbove = d0 === 0 || visFirst - d0 >= OVERSCAN / 2;
    const roomBelow = d1 === n || d1 - visEnd >= OVERSCAN / 2;
    if (!force && visFirst >= d0 && visEnd <= d1 && roomAbove && roomBelow) return;
    const first = Math.max(0, visFirst - OVERSCAN);
    const end = Math.min(n, visEnd + OVERSCAN);
    const b = this.state.runs[1];
    this.above.td.style.height = `${first * h}px`;
    this.below.td.style.height = `${(n - end) * h}px`;
    this.place(first, end, b);
    this.drawn = [first, end];
    const sample = this.rows.values().next().value;
    if (!this.rowHeight && sample) {
      // the real height of a row, once: the window is drawn again with it
      this.rowHeight = sample.getBoundingClientRect().height || DEFAULT_ROW_HEIGHT;
      if (this.rowHeight !== h) this.draw(true);
    }
  }

  /**
   * Makes the drawn rows those of `shown[first, end)`: the rows that stay are left where they are
   * (moving them would lay them all out again), those that left are removed, the new ones added
   * above or below them.
   */
  private place(first: number, end: number, b: ReportRun | undefined): void {
    const want = this.shown.slice(first, end);
    const keep = new Set(want.map((s) => s.index));
    for (const [index, tr] of this.rows) if (!keep.has(index)) tr.remove();
    const rows = new Map<number, HTMLElement>();
    let anchor: HTMLElement | undefined; // the first kept row: new rows before it go above it
    const above: HTMLElement[] = [];
    const below: HTMLElement[] = [];
    for (const s of want) {
      const old = this.rows.get(s.index);
      const tr = old ?? this.row(s, b);
      rows.set(s.index, tr);
      if (old) anchor ??= old;
      else (anchor ? below : above).push(tr);
    }
    if (!this.above.tr.isConnected) this.body.replaceChildren(this.above.tr, this.below.tr);
    if (anchor) anchor.before(...above);
    else this.below.tr.before(...above);
    this.below.tr.before(...below);
    this.rows = rows;
  }

  /** One sample's row: its export checkbox, verdicts, reward and numbers; a click (or Enter) opens it below. */
  private row(s: ReportSampleRow, b: ReportRun | undefined): HTMLElement {
    const kb = kind(this.bMap.get(s.index));
    const k = kind(s);
    const tr = el('tr', {
      tabindex: '0',
      class: `row ${k}${this.state.selected === s.index ? ' selected' : ''}`,
      'data-index': String(s.index),
    });
    const box = el('input', { type: 'checkbox', 'aria-label': `Select sample ${s.index} for export`, 'data-pick': String(s.index) });
    box.checked = this.state.checked.has(s.index);
    box.addEventListener('click', (e) => e.stopPropagation());
    box.addEventListener('change', () => {
      if (box.checked) this.state.checked.add(s.index);
      else this.state.checked.delete(s.index);
      this.updateSelection();
    });
    const pick = el('td', { class: 'pick' });
    pick.append(box);
    tr.append(
      pick,
      el('td', {}, String(s.index)),
      el('td', {}, s.source),
      el('td', { class: `verdict ${k}` }, k === 'error' ? `error (${s.outcome})` : k),
    );
    if (b) tr.append(el('td', { class: `verdict ${kb}` }, kb));
    tr.append(
      el(
        'td',
        { class: 'reward-cell', title: s.reward ? rewardText(s.reward) : 'no reward (no trajectory)' },
        s.reward?.score !== undefined ? String(Math.round(s.reward.score * 100) / 100) : '—',
      ),
      el('td', {}, String(s.tries)),
      el('td', {}, `${s.tools}${s.toolErrors ? ` (${s.toolErrors} err)` : ''}`),
      el('td', {}, secs(s.latencyMs)),
      el('td', { class: 'q', title: s.question }, s.question),
      el('td', { class: 'q' }, `${s.answer || '—'} / ${s.groundTruth}`),
    );
    const open = () => this.actions.open(s.index, !!b && this.bMap.has(s.index));
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (e) => {
      if (e.target !== tr) return;
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        open();
      }
    });
    return tr;
  }

  private updateSelection(): void {
    this.selectionInfo.textContent = `${this.state.checked.size} selected`;
    this.exportBtn.disabled = this.state.checked.size === 0;
  }

  /** Select all correct / all failures / none of run A, and export the selection (SFT or RL parquet). */
  private selectionBar(a: ReportRun): HTMLElement {
    const bar = el('div', { class: 'filters selection', role: 'toolbar', 'aria-label': 'Select samples for export' });
    const choose = (label: string, action: string, pick: (s: ReportSampleRow) => boolean) => {
      const btn = el('button', { type: 'button', 'data-select': action }, label);
      btn.addEventListener('click', () => {
        this.state.checked.clear();
        for (const s of a.samples) if (pick(s)) this.state.checked.add(s.index);
        for (const box of this.body.querySelectorAll<HTMLInputElement>('input[data-pick]'))
          box.checked = this.state.checked.has(Number(box.dataset.pick));
        this.updateSelection();
      });
      bar.append(btn);
    };
    bar.append(el('span', {}, 'Select:'));
    choose('all correct', 'correct', (s) => kind(s) === 'correct');
    choose('all failures', 'failures', (s) => kind(s) !== 'correct');
    choose('none', 'none', () => false);
    bar.append(this.selectionInfo, this.exportBtn);
    this.updateSelection();
    return bar;
  }

  /** The filter buttons (each with its count) and the question search. */
  private filterBar(a: ReportRun, b: ReportRun | undefined): HTMLElement {
    const bar = el('div', { class: 'filters', role: 'toolbar', 'aria-label': 'Filter samples' });
    const counts: Record<Filter, number> = { all: a.samples.length, correct: 0, wrong: 0, error: 0, differs: 0 };
    for (const s of a.samples) {
      const k = kind(s);
      if (k !== 'missing') counts[k]++;
      if (b && kind(this.bMap.get(s.index)) !== k) counts.differs++;
    }
    const filters: Filter[] = b ? ['all', 'correct', 'wrong', 'error', 'differs'] : ['all', 'correct', 'wrong', 'error'];
    for (const f of filters) {
      const btn = el('button', { type: 'button', 'data-filter': f }, `${f} (${counts[f]})`);
      btn.addEventListener('click', () => {
        this.state.filter = f;
        this.refresh();
      });
      bar.append(btn);
    }
    bar.append(this.search);
    return bar;
  }
}
