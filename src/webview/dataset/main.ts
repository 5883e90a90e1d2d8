/**
 * Dataset viewer webview (bundled for the browser as dist/dataset.js). A virtualized table over
 * the rows the extension pages in (only the visible rows are in the DOM; pages of 100 rows are
 * asked for as they scroll into view), a column picker, image thumbnails of the visible rows,
 * filters (data_source, ability, tool calls, correct/wrong, verify status) and text search run by
 * the extension over the file; a row opens as a rendered trajectory through the chat's own
 * renderer (ExchangeRenderer). All text goes in as text.
 */
import type {
  DatasetResponses,
  DatasetViewInfo,
  FilterResult,
  FromDataset,
  PageRow,
  RowFilter,
  RowReward,
  RowView,
  ToDataset,
  VerifyOverlay,
  VerifyRowRecord,
} from '../../protocol/dataset';
import { exchangeEvents } from '../../protocol/panelEvents';
import { el } from '../dom';
import { ExchangeRenderer, type ExchangeActions } from '../exchange';
import { Messenger } from '../messenger';

interface VsCodeApi {
  postMessage(msg: FromDataset): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const messenger = new Messenger<FromDataset, DatasetResponses>(acquireVsCodeApi(), showError);
/** a request whose failure shows in the error box */
const ask = <T>(p: Promise<T>, then: (r: T) => void) => void p.then(then, (e: Error) => showError(e.message));

const ROW_H = 44;
const PAGE = 100;
/** The file, the view of it and what was fetched of it (the one mutable state of this page). */
const viewer = {
  info: undefined as DatasetViewInfo | undefined,
  overlay: undefined as VerifyOverlay | undefined,
  /** row positions → file indexes when filtered; undefined = all rows in order */
  view: undefined as number[] | undefined,
  pages: new Map<number, PageRow[]>(),
  asked: new Set<number>(),
  thumbs: new Map<number, string>(),
  thumbAsked: new Set<number>(),
  shown: [] as string[],
  selected: undefined as number | undefined,
  /** the latest filter pass (an older one's result is dropped) */
  seq: 0,
  filterTimer: undefined as ReturnType<typeof setTimeout> | undefined,
  raf: 0,
};

const root = document.getElementById('root')!;
root.replaceChildren();
const header = el('header', { class: 'ds-header' });
const controls = el('div', { class: 'ds-controls', role: 'search' });
const columnsBox = el('div', { class: 'ds-columns', hidden: '' });
const status = el('div', { class: 'ds-status', role: 'status', 'aria-live': 'polite' });
const errorBox = el('div', { class: 'error-box', role: 'alert', hidden: '' });
const tableHead = el('div', { class: 'ds-row ds-head', role: 'row' });
const scroller = el('div', { class: 'ds-scroll', role: 'grid', tabindex: '0', 'aria-label': 'Rows' });
const spacer = el('div', { class: 'ds-spacer' });
scroller.append(spacer);
const detail = el('section', { class: 'ds-detail', 'aria-label': 'Row', 'aria-live': 'polite' });
const tablePane = el('section', { class: 'ds-table' });
tablePane.append(tableHead, scroller);
const split = el('div', { class: 'ds-split' });
split.append(tablePane, detail);
root.append(errorBox, header, controls, columnsBox, status, split);

// ----- controls -----
const search = el('input', { type: 'search', placeholder: 'Search text…', 'aria-label': 'Search' });
const dsSel = el('select', { 'aria-label': 'data_source' });
const abSel = el('select', { 'aria-label': 'ability' });
const minTools = el('input', { type: 'number', min: '0', placeholder: 'min', 'aria-label': 'Minimum tool calls', class: 'ds-num' });
const maxTools = el('input', { type: 'number', min: '0', placeholder: 'max', 'aria-label': 'Maximum tool calls', class: 'ds-num' });
const correctSel = el('select', { 'aria-label': 'Correct or wrong' });
for (const [v, t] of [
  ['', 'correct + wrong'],
  ['correct', 'correct'],
  ['wrong', 'wrong'],
])
  correctSel.append(el('option', { value: v }, t));
const verifySel = el('select', { 'aria-label': 'Verify status' });
const colBtn = el('button', { class: 'ds-btn', 'aria-expanded': 'false' }, 'Columns…');
const verifyBtn = el(
  'button',
  { class: 'ds-btn', title: 'Replay every row’s code in fresh kernels and compare with the recorded outputs' },
  'Verify code…',
);
colBtn.addEventListener('click', () => {
  columnsBox.hidden = !columnsBox.hidden;
  colBtn.setAttribute('aria-expanded', String(!columnsBox.hidden));
});
verifyBtn.addEventListener('click', () => ask(messenger.request({ type: 'verify' }), ({ overlay }) => overlay && showOverlay(overlay)));
const label = (text: string, ...c: HTMLElement[]) => {
  const l = el('label', { class: 'ds-field' });
  l.append(el('span', {}, text), ...c);
  return l;
};
controls.append(
  search,
  label('data_source', dsSel),
  label('ability', abSel),
  label('tool calls', minTools, maxTools),
  label('result', correctSel),
  label('verify', verifySel),
  colBtn,
  verifyBtn,
);

function options(sel: HTMLSelectElement, values: string[], all: string): void {
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '' }, all), ...values.map((v) => el('option', { value: v }, v || '(empty)')));
  sel.value = values.includes(cur) ? cur : '';
}

function scheduleFilter(): void {
  clearTimeout(viewer.filterTimer);
  viewer.filterTimer = setTimeout(runFilter, 250);
}
function currentFilter(): RowFilter | undefined {
  const f: RowFilter = {};
  if (search.value.trim()) f.search = search.value.trim();
  if (dsSel.value) f.dataSource = dsSel.value;
  if (abSel.value) f.ability = abSel.value;
  if (minTools.value !== '') f.minToolCalls = Number(minTools.value);
  if (maxTools.value !== '') f.maxToolCalls = Number(maxTools.value);
  if (correctSel.value) f.correct = correctSel.value as 'correct' | 'wrong';
  if (verifySel.value && viewer.overlay)
    f.indexes = Object.entries(viewer.overlay.status).flatMap(([i, s]) => (s === verifySel.value ? [Number(i)] : []));
  return Object.keys(f).length ? f : undefined;
}
function runFilter(): void {
  const f = currentFilter();
  viewer.seq++;
  if (!f) {
    viewer.view = undefined;
    status.textContent = `${viewer.info?.rowCount ?? 0} rows`;
    layout();
    return;
  }
  status.textContent = 'Filtering…';
  const seq = viewer.seq;
  ask(messenger.request({ type: 'filter', seq, filter: f }), (r) => r && filtered(seq, r));
}
for (const c of [search, minTools, maxTools]) c.addEventListener('input', scheduleFilter);
for (const c of [dsSel, abSel, correctSel, verifySel]) c.addEventListener('change', runFilter);

// ----- columns -----
function setColumns(cols: string[]): void {
  viewer.shown = cols.filter((c) => !['images', 'multi_modal_data'].includes(c)).slice(0, 6);
  columnsBox.replaceChildren();
  for (const c of cols) {
    const box = el('input', { type: 'checkbox', value: c });
    box.checked = viewer.shown.includes(c);
    box.addEventListener('change', () => {
      viewer.shown = cols.filter((x) => (x === c ? box.checked : viewer.shown.includes(x)));
      renderHead();
      layout(true);
    });
    const l = el('label', { class: 'ds-col-choice' });
    l.append(box, document.createTextNode(` ${c}`));
    columnsBox.append(l);
  }
  renderHead();
}
function renderHead(): void {
  tableHead.replaceChildren(
    el('div', { class: 'ds-cell ds-idx', role: 'columnheader' }, '#'),
    el('div', { class: 'ds-cell ds-thumb', role: 'columnheader' }, 'image'),
    ...viewer.shown.map((c) => el('div', { class: 'ds-cell', role: 'columnheader' }, c)),
  );
  if (viewer.overlay) tableHead.append(el('div', { class: 'ds-cell ds-verify', role: 'columnheader' }, 'verify'));
}

// ----- virtualized rows -----
const rowCount = () => (viewer.view ? viewer.view.length : (viewer.info?.rowCount ?? 0));
function layout(force = false): void {
  spacer.style.height = `${rowCount() * ROW_H}px`;
  if (force) for (const r of [...scroller.querySelectorAll('.ds-body-row')]) r.remove();
  paint();
}
function paint(): void {
  if (viewer.raf) return;
  viewer.raf = requestAnimationFrame(() => {
    viewer.raf = 0;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_H) - 2);
    const last = Math.min(rowCount(), first + Math.ceil(scroller.clientHeight / ROW_H) + 5);
    const keep = new Set<number>();
    for (let p = first; p < last; p++) keep.add(p);
    for (const r of [...scroller.querySelectorAll<HTMLElement>('.ds-body-row')]) if (!keep.has(Number(r.dataset.pos))) r.remove();
    const present = new Set([...scroller.querySelectorAll<HTMLElement>('.ds-body-row')].map((r) => Number(r.dataset.pos)));
    for (let p = first; p < last; p++) if (!present.has(p) || scroller.querySelector(`.ds-body-row[data-pos="${p}"].loading`)) drawRow(p);
  });
}
function drawRow(pos: number): void {
  const index = viewer.view ? viewer.view[pos] : pos;
  const page = Math.floor(index / PAGE);
  const data = viewer.pages.get(page)?.[index % PAGE];
  if (!data && !viewer.asked.has(page)) {
    viewer.asked.add(page);
    ask(messenger.request({ type: 'page', page }), (rows) => gotPage(page, rows));
  }
  scroller.querySelector(`.ds-body-row[data-pos="${pos}"]`)?.remove();
  const row = el('div', {
    class: `ds-row ds-body-row${data ? '' : ' loading'}${index === viewer.selected ? ' selected' : ''}`,
    role: 'row',
    'data-pos': String(pos),
    'data-index': String(index),
    tabindex: '-1',
  });
  row.style.top = `${pos * ROW_H}px`;
  row.append(el('div', { class: 'ds-cell ds-idx' }, String(index)));
  row.append(thumbCell(index, data?.facts.images));
  for (const c of viewer.shown) row.append(el('div', { class: 'ds-cell', title: data?.cells[c] ?? '' }, cellText(data, c)));
  if (viewer.overlay)
    row.append(el('div', { class: `ds-cell ds-verify v-${viewer.overlay.status[index] ?? 'none'}` }, viewer.overlay.status[index] ?? ''));
  row.addEventListener('click', () => open(index));
  scroller.append(row);
}
/** the text of column `c` of a row: '…' while its page is not in, the row's error in the first column */
function cellText(data: PageRow | undefined, c: string): string {
  return data ? (data.error && c === viewer.shown[0] ? `⚠ ${data.error}` : (data.cells[c] ?? '')) : '…';
}
/** a row's thumbnail cell: its image once it came, else asked for (once) when the row has images */
function thumbCell(index: number, images: number | undefined): HTMLElement {
  const th = el('div', { class: 'ds-cell ds-thumb' });
  if (!images) return th;
  const src = viewer.thumbs.get(index);
  if (src) th.append(el('img', { src, alt: `image of row ${index}` }));
  else if (!viewer.thumbAsked.has(index)) {
    viewer.thumbAsked.add(index);
    ask(messenger.request({ type: 'thumb', index }), ({ image }) => image && gotThumb(index, image));
  }
  return th;
}
scroller.addEventListener('scroll', paint);
new ResizeObserver(() => paint()).observe(scroller);
scroller.addEventListener('keydown', (e) => {
  if (viewer.selected === undefined || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp')) return;
  e.preventDefault();
  const pos = viewer.view ? viewer.view.indexOf(viewer.selected) : viewer.selected;
  const next = Math.max(0, Math.min(rowCount() - 1, pos + (e.key === 'ArrowDown' ? 1 : -1)));
  scroller.scrollTop = Math.min(scroller.scrollTop, next * ROW_H);
  if ((next + 1) * ROW_H > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = (next + 1) * ROW_H - scroller.clientHeight;
  open(viewer.view ? viewer.view[next] : next);
});

// ----- a row as a trajectory -----
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
function open(index: number): void {
  viewer.selected = index;
  for (const r of scroller.querySelectorAll<HTMLElement>('.ds-body-row')) r.classList.toggle('selected', Number(r.dataset.index) === index);
  detail.replaceChildren(el('div', { class: 'ds-loading' }, `Row ${index}…`));
  ask(messenger.request({ type: 'row', index }), (r) => showRow(index, r));
}

/** What verify found for the row: its status and, for a differing or failing row, where and what. */
function verifyBox(v: VerifyRowRecord): HTMLElement {
  const box = el('div', { class: `ds-verify-box v-${v.status}`, role: 'note' });
  box.append(el('strong', {}, `Verify: ${v.status}`));
  for (const d of v.diffs ?? []) {
    const item = el('div', { class: 'ds-diff' });
    item.append(
      el('div', {}, `turn ${d.turn + 1}: ${d.what} differs`),
      el('div', { class: 'ds-diff-exp' }, `recorded: ${d.expected}`),
      el('div', { class: 'ds-diff-got' }, `replayed: ${d.got}`),
    );
    box.append(item);
  }
  if (v.error) box.append(el('div', {}, `turn ${v.error.turn + 1}: ${v.error.message}`));
  if (v.reason) box.append(el('div', {}, v.reason));
  return box;
}

function rewardBox(w: RowReward): HTMLElement {
  const box = el('div', { class: 'ds-reward', role: 'note' });
  const f = (x: number | null | undefined) => (x === undefined ? '—' : x === null ? 'n/a' : String(Math.round(x * 1000) / 1000));
  box.append(el('strong', {}, 'Reward (the seed’s): '));
  const items =
    w.source === 'eval'
      ? [`score ${f(w.score)}`, `acc ${f(w.acc)}`, `format_r ${f(w.format_r)}`, `tool_reward_component ${f(w.tool_reward_component)}`]
      : [];
  items.push(`tool_success_rate ${f(w.tool_success_rate)}`, `tool_step [${w.tool_step.map((x) => f(x)).join(', ')}]`);
  box.append(document.createTextNode(items.join(' · ')));
  if (w.note) box.append(el('div', { class: 'ds-note' }, w.note));
  return box;
}

function opened({ info, openMs, verify }: DatasetResponses['ready']): void {
  viewer.info = info;
  viewer.overlay = verify;
  header.replaceChildren(
    el('strong', {}, info.file.split(/[\\/]/).pop() ?? ''),
    document.createTextNode(` · ${info.rowCount.toLocaleString()} rows · ${info.format} · opened in ${openMs.toFixed(0)} ms`),
  );
  status.textContent = `${info.rowCount} rows`;
  options(verifySel, verify ? [...new Set(Object.values(verify.status))].sort() : [], 'all');
  verifySel.disabled = !verify;
  setColumns(info.columns);
  layout(true);
  // the facets (data_source, ability values) only: the view and its scroll stay
  ask(messenger.request({ type: 'filter', seq: -1, filter: {} }), (r) => r && filtered(-1, r));
}

function gotPage(page: number, rows: PageRow[]): void {
  viewer.pages.set(page, rows);
  layout(false);
  for (const r of [...scroller.querySelectorAll<HTMLElement>('.ds-body-row.loading')]) drawRow(Number(r.dataset.pos));
}

function gotThumb(index: number, image: { mime: string; data: string }): void {
  viewer.thumbs.set(index, `data:${image.mime};base64,${image.data}`);
  const r = scroller.querySelector<HTMLElement>(`.ds-body-row[data-index="${index}"]`);
  if (r) drawRow(Number(r.dataset.pos));
}

/** Filter pass `seq` is done: its facets fill the pickers; its rows show if it is still the latest. */
function filtered(seq: number, r: FilterResult): void {
  options(dsSel, r.facets.dataSource, 'all');
  options(abSel, r.facets.ability, 'all');
  if (seq !== viewer.seq) return;
  const f = currentFilter();
  viewer.view = f ? r.indexes : undefined;
  status.textContent = f
    ? `${r.indexes.length} of ${viewer.info?.rowCount ?? 0} rows match (${r.ms.toFixed(0)} ms)`
    : `${viewer.info?.rowCount ?? 0} rows`;
  scroller.scrollTop = 0;
  layout(true);
}

function showRow(index: number, m: RowView): void {
  if (index !== viewer.selected) return;
  const bar = el('div', { class: 'ds-detail-bar' });
  const askBtn = el('button', { class: 'ds-btn primary' }, 'Ask about this row');
  askBtn.addEventListener('click', () => messenger.send({ type: 'ask', index }));
  bar.append(el('strong', {}, `Row ${index}`), askBtn);
  const r = new ExchangeRenderer(0, m.exchange.question, m.exchange.inputImages, actions);
  for (const e of exchangeEvents(m.exchange)) if (!(m.promptOnly && e.type === 'done')) r.apply(e);
  const meta = el('details', { class: 'ds-meta' });
  meta.append(el('summary', {}, 'Other fields'), el('pre', {}, m.meta));
  const parts: HTMLElement[] = [bar];
  if (m.verify) parts.push(verifyBox(m.verify));
  if (m.reward) {
    const perCall = m.reward.perCall;
    parts.push(rewardBox(m.reward));
    // per-call markers on the cells, in order (a failed call: −0.5)
    [...r.root.querySelectorAll('details.cell')].forEach((c, i) => {
      const v = perCall[i];
      if (v !== undefined)
        c.querySelector('summary')?.append(
          el(
            'span',
            {
              class: `ds-step ${v < 0 ? 'bad' : 'ok'}`,
              title: 'this call’s score in the seed’s training reward (tool_step): −0.5 for a failed call',
            },
            v < 0 ? `reward ${v}` : 'reward +0',
          ),
        );
    });
  }
  detail.replaceChildren(...parts, r.root, meta);
}

function showOverlay(overlay: VerifyOverlay): void {
  viewer.overlay = overlay;
  options(verifySel, [...new Set(Object.values(overlay.status))].sort(), 'all');
  verifySel.disabled = false;
  renderHead();
  layout(true);
}

function showError(text: string): void {
  errorBox.hidden = false;
  errorBox.textContent = text;
}

window.addEventListener('message', (ev: MessageEvent<ToDataset>) => {
  const m = ev.data;
  if (m.type === 'reply') messenger.settle(m);
  else if (m.type === 'filterProgress' && m.seq === viewer.seq) status.textContent = `Filtering… ${m.done}/${m.total}`;
});
ask(messenger.request({ type: 'ready' }), opened);
