/**
 * The run view's rollouts: the steps the trainer dumped (`rollout_data_dir`, or
 * `validation_data_dir`), a step's rollouts as a sortable, filterable list, one opened as a
 * trajectory drawn by the chat's own renderer (ExchangeRenderer: think, code, tool responses,
 * answer, input images, the reward with each call's tool_step), the same prompt at other steps
 * side by side, "Open in chat" and "Add to training data" for the checked rows.
 */
import { exchangeEvents } from '../../protocol/panelEvents';
import type { RolloutDetail, RolloutKind, RolloutRow } from '../../protocol/runs';
import { el } from '../dom';
import { ExchangeRenderer, type ExchangeActions } from '../exchange';
import { cellNumber, compareSteps, filterRows, SORTS, sortRows, type RolloutFilter, type RolloutSort } from './rolloutRows';
import { ask, messenger, runList, view } from './state';

const noop = () => undefined;
const actions: ExchangeActions = {
  approve: noop,
  restore: noop,
  openLink: noop,
  openImage: noop,
  saveImage: noop,
  copyImage: noop,
  copyText: (t) => void navigator.clipboard?.writeText(t),
  openCode: noop,
  fork: noop,
  canFork: () => false,
};

function select(label: string, options: [string, string][], onChange: (v: string) => void): { box: HTMLElement; sel: HTMLSelectElement } {
  const sel = el('select', { 'aria-label': label });
  for (const [v, t] of options) sel.append(el('option', { value: v }, t));
  sel.addEventListener('change', () => onChange(sel.value));
  const box = el('label', { class: 'field' });
  box.append(el('span', {}, label), sel);
  return { box, sel };
}

function setOptions(sel: HTMLSelectElement, options: [string, string][], keep = true): void {
  const cur = sel.value;
  sel.replaceChildren(...options.map(([v, t]) => el('option', { value: v }, t)));
  if (keep && options.some(([v]) => v === cur)) sel.value = cur;
}

/** The fields beside the trajectory: every reward field the trainer dumped, NaN as nan. */
function fieldsLine(d: RolloutDetail): HTMLElement {
  const box = el('div', { class: 'rollout-fields', role: 'note' });
  const parts: string[] = [`score ${cellNumber(d.row.score)}`];
  for (const [k, v] of Object.entries(d.fields)) {
    if (typeof v === 'number') parts.push(`${k} ${cellNumber(v)}`);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'number'))
      parts.push(`${k} [${v.map((x) => cellNumber(x as number)).join(', ')}]`);
  }
  const source = d.row.dataSource !== '—' ? ` · ${d.row.dataSource}` : '';
  box.append(el('strong', {}, `step ${d.row.step} · #${d.row.index}${source}: `), document.createTextNode(parts.join(' · ')));
  if (d.groundTruth !== undefined) box.append(el('div', { class: 'muted' }, `ground truth: ${d.groundTruth}`));
  return box;
}

/** One rollout drawn by the chat's renderer. */
function trajectory(d: RolloutDetail): HTMLElement {
  const r = new ExchangeRenderer(0, d.exchange.question, d.exchange.inputImages, actions);
  for (const e of exchangeEvents(d.exchange)) r.apply(e);
  const box = el('article', { class: 'rollout', 'data-step': String(d.row.step), 'data-index': String(d.row.index) });
  box.append(fieldsLine(d), r.root);
  return box;
}

export class RolloutsView {
  readonly root: HTMLElement;
  private readonly status = el('div', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  private readonly list = el('div', { class: 'rollout-list' });
  private readonly detail = el('section', { class: 'rollout-detail', 'aria-label': 'Rollout', 'aria-live': 'polite' });
  private readonly runSel;
  private readonly kindSel;
  private readonly stepSel;
  private readonly sourceSel;
  private readonly exportBtn = el(
    'button',
    { type: 'button', 'data-action': 'add-to-training-data', disabled: '' },
    'Add checked to training data…',
  );
  private rows: RolloutRow[] = [];
  private sort: RolloutSort = 'score-desc';
  private filter: RolloutFilter = {};
  private readonly checked = new Set<string>();
  private selected?: RolloutRow;
  private loadedFor = '';
  /** the latest listing asked for: an older answer (another kind or step picked since) is dropped */
  private seq = 0;
  private shownStep?: number;
  private withSource = false;

  constructor() {
    this.root = el('section', { class: 'rollouts-view', 'aria-label': 'Rollouts' });
    this.runSel = select('run', [], () => this.loadSteps());
    this.kindSel = select(
      'rollouts',
      [
        ['train', 'training (rollout_data_dir)'],
        ['validation', 'validation (validation_data_dir)'],
      ],
      () => this.loadSteps(),
    );
    this.stepSel = select('step', [], () => this.loadRows());
    const sortSel = select(
      'sort',
      SORTS.map((s) => [s.id, s.label]),
      (v) => ((this.sort = v as RolloutSort), this.renderList()),
    );
    sortSel.sel.value = this.sort;
    this.sourceSel = select('data source', [['', 'all']], (v) => ((this.filter.dataSource = v || undefined), this.renderList()));
    const correct = select(
      'acc',
      [
        ['', 'all'],
        ['correct', 'correct'],
        ['wrong', 'wrong'],
      ],
      (v) => ((this.filter.correct = (v || undefined) as RolloutFilter['correct']), this.renderList()),
    );
    const tools = select(
      'tool calls',
      [
        ['', 'any'],
        ['some', 'with calls'],
        ['none', 'without calls'],
      ],
      (v) => ((this.filter.tools = (v || undefined) as RolloutFilter['tools']), this.renderList()),
    );
    this.exportBtn.addEventListener('click', () => this.exportChecked());
    const bar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Rollouts' });
    bar.append(
      this.runSel.box,
      this.kindSel.box,
      this.stepSel.box,
      sortSel.box,
      this.sourceSel.box,
      correct.box,
      tools.box,
      this.exportBtn,
    );
    const split = el('div', { class: 'rollout-split' });
    split.append(this.list, this.detail);
    this.root.append(bar, this.status, split);
  }

  private get run(): string {
    return this.runSel.sel.value;
  }
  private get kind(): RolloutKind {
    return this.kindSel.sel.value as RolloutKind;
  }

  /** The runs changed (added, removed, renamed): the run picker follows; the first show loads the steps. */
  runsChanged(): void {
    const runs = runList();
    setOptions(
      this.runSel.sel,
      runs.map((r) => [r.info.id, r.info.label]),
    );
    this.runSel.box.hidden = runs.length < 2;
    if (view.ui.tab === 'rollouts' && this.loadedFor !== this.run) this.loadSteps();
  }

  /** The tab was shown. */
  shown(): void {
    if (this.loadedFor !== this.run) this.loadSteps();
  }

  loadSteps(): void {
    const run = this.run;
    if (!run) return;
    this.loadedFor = run;
    this.status.textContent = 'Listing the rollout files…';
    const seq = ++this.seq;
    ask(messenger.request({ type: 'rolloutSteps', run, kind: this.kind }), (r) => {
      if (seq !== this.seq) return;
      setOptions(
        this.stepSel.sel,
        r.steps
          .slice()
          .reverse()
          .map((s) => [String(s), `step ${s}`]),
        false,
      );
      this.status.textContent = r.steps.length
        ? `${r.steps.length} step(s) dumped in ${r.dir}`
        : (r.note ?? `No rollout file in ${r.dir ?? 'the rollout folder'} yet.`);
      if (r.steps.length) this.loadRows();
      else {
        this.rows = [];
        this.shownStep = undefined;
        this.renderList();
      }
    });
  }

  private loadRows(): void {
    const step = Number(this.stepSel.sel.value);
    if (!Number.isInteger(step)) return;
    const seq = ++this.seq;
    ask(messenger.request({ type: 'rollouts', run: this.run, kind: this.kind, step }), (rows) => {
      if (seq !== this.seq) return;
      this.rows = rows;
      this.shownStep = step;
      const sources = [...new Set(rows.map((r) => r.dataSource))].sort();
      setOptions(this.sourceSel.sel, [['', 'all'], ...sources.map((s): [string, string] => [s, s])]);
      this.filter.dataSource = this.sourceSel.sel.value || undefined;
      this.renderList();
    });
  }

  private renderList(): void {
    const rows = sortRows(filterRows(this.rows, this.filter), this.sort);
    // the trainer's dumps name no data source unless the reward adds one: the column shows only when one does
    this.withSource = this.rows.some((r) => r.dataSource !== '—');
    this.sourceSel.box.hidden = !this.withSource;
    const table = el('table', { class: 'rollout-table', 'data-kind': this.kind, 'data-step': String(this.shownStep ?? '') });
    const head = el('tr');
    const cols = ['', '#', ...(this.withSource ? ['source'] : []), 'score', 'acc', 'format', 'tools', 'tool ok', 'question'];
    for (const h of cols) head.append(el('th', { scope: 'col' }, h));
    table.append(el('thead'));
    table.tHead!.append(head);
    const body = el('tbody');
    for (const r of rows) body.append(this.row(r));
    table.append(body);
    this.list.replaceChildren(table);
    if (!rows.length) this.list.append(el('p', { class: 'muted' }, this.rows.length ? 'No rollout matches.' : 'No rollouts at this step.'));
    this.updateExport();
  }

  private row(r: RolloutRow): HTMLElement {
    const key = `${r.step}:${r.index}`;
    const sel = this.selected?.step === r.step && this.selected.index === r.index;
    const tr = el('tr', { tabindex: '0', class: `row${sel ? ' selected' : ''}`, 'data-index': String(r.index) });
    const box = el('input', { type: 'checkbox', 'aria-label': `Check rollout ${r.index}`, 'data-pick': String(r.index) });
    box.checked = this.checked.has(key);
    box.addEventListener('click', (e) => e.stopPropagation());
    box.addEventListener('change', () => (box.checked ? this.checked.add(key) : this.checked.delete(key), this.updateExport()));
    const pick = el('td');
    pick.append(box);
    tr.append(
      pick,
      el('td', {}, String(r.index)),
      ...(this.withSource ? [el('td', {}, r.dataSource)] : []),
      el('td', { class: 'num' }, cellNumber(r.score)),
      el('td', { class: `num ${(r.acc ?? 0) > 0.5 ? 'good' : 'bad'}` }, cellNumber(r.acc)),
      el('td', { class: 'num' }, cellNumber(r.format_r)),
      el('td', { class: 'num' }, String(r.toolCalls)),
      el('td', { class: 'num' }, cellNumber(r.tool_success_rate)),
      el('td', { class: 'q', title: r.question }, r.question),
    );
    const open = () => this.open(r, tr);
    tr.addEventListener('click', open);
    tr.addEventListener('keydown', (e) => (e.key === 'Enter' || e.key === ' ') && e.target === tr && (e.preventDefault(), open()));
    return tr;
  }

  private updateExport(): void {
    this.exportBtn.disabled = !this.checked.size;
    this.exportBtn.textContent = `Add ${this.checked.size || 'checked'} to training data…`;
  }

  private open(r: RolloutRow, tr: HTMLElement): void {
    this.selected = r;
    for (const x of this.list.querySelectorAll('tr.selected')) x.classList.remove('selected');
    tr.classList.add('selected');
    this.detail.replaceChildren(el('p', { class: 'muted' }, `loading rollout ${r.index} of step ${r.step}…`));
    ask(messenger.request({ type: 'rollout', run: this.run, kind: this.kind, step: r.step, index: r.index }), (d) => this.showDetail(d));
  }

  private showDetail(d: RolloutDetail): void {
    if (this.selected?.step !== d.row.step || this.selected.index !== d.row.index) return;
    const bar = el('div', { class: 'detail-bar' });
    const chat = el(
      'button',
      { type: 'button', 'data-action': 'open-in-chat', title: 'Ask the question with its image in the chat' },
      'Open in chat',
    );
    const where = { run: this.run, kind: this.kind, step: d.row.step, index: d.row.index };
    chat.addEventListener('click', () => ask(messenger.request({ type: 'openInChat', ...where }), () => undefined));
    const same = el(
      'button',
      { type: 'button', 'data-action': 'same-prompt', title: 'The same prompt at other steps, side by side' },
      'Same prompt across steps',
    );
    const compare = el('div', { class: 'compare' });
    same.addEventListener('click', () => this.samePrompt(d, compare));
    bar.append(chat, same);
    this.detail.classList.remove('comparing');
    this.detail.replaceChildren(bar, compare, trajectory(d));
  }

  private samePrompt(d: RolloutDetail, compare: HTMLElement): void {
    compare.replaceChildren(el('p', { class: 'muted' }, 'Reading the other steps…'));
    const where = { run: this.run, kind: this.kind };
    ask(messenger.request({ type: 'samePrompt', ...where, step: d.row.step, index: d.row.index }), (r) => {
      const note = `${r.matches.length} other rollout(s) of this prompt in ${r.scanned} of ${r.total} other step(s)${r.scanned < r.total ? ' (the nearest)' : ''}`;
      const matches = new Map(r.matches.map((m) => [m.step, m]));
      const steps = compareSteps(d.row.step, [...matches.keys()]);
      compare.replaceChildren(el('p', { class: 'muted' }, note));
      if (steps.length < 2) return;
      const cols = el('div', { class: 'compare-cols', 'data-columns': String(steps.length) });
      compare.append(cols);
      for (const s of steps) {
        const slot = el('div', { class: 'compare-col' });
        cols.append(slot);
        if (s === d.row.step) slot.append(trajectory(d));
        else {
          const m = matches.get(s)!;
          ask(messenger.request({ type: 'rollout', ...where, step: m.step, index: m.index }), (x) => slot.append(trajectory(x)));
        }
      }
      this.detail.classList.add('comparing');
      this.detail.querySelector(':scope > article.rollout')?.remove();
    });
  }

  private exportChecked(): void {
    const items = [...this.checked].map((k) => {
      const [step, index] = k.split(':').map(Number);
      return { step, index };
    });
    if (items.length) ask(messenger.request({ type: 'addToTrainingData', run: this.run, kind: this.kind, items }), () => undefined);
  }
}
