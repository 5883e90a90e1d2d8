/**
 * Dataset viewer webview (bundled for the browser as dist/dataset.js). A virtualized table over
 * the rows the extension pages in (only the visible rows are in the DOM; pages of 100 rows are
 * asked for as they scroll into view), a column picker, image thumbnails of the visible rows,
 * filters (data_source, ability, tool calls, correct/wrong, verify status) and text search run by
 * the extension over the file; a row opens as a rendered trajectory through the chat's own
 * renderer (ExchangeRenderer). All text goes in as text.
 */
import { el } from '../dom';
import { ExchangeRenderer, type ExchangeActions } from '../exchange';
import { exchangeEvents } from '../panelEvents';
import type { DatasetViewInfo, FromDataset, PageRow, RowFilter, ToDataset, VerifyOverlay, VerifyRowRecord, RowReward } from './protocol';

interface VsCodeApi {
  postMessage(msg: FromDataset): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();
const post = (m: FromDataset) => vscode.postMessage(m);

const ROW_H = 44;
const PAGE = 100;
let info: DatasetViewInfo | undefined;
let overlay: VerifyOverlay | undefined;
/** row positions → file indexes when filtered; undefined = all rows in order */
let view: number[] | undefined;
const pages = new Map<number, PageRow[]>();
const asked = new Set<number>();
const thumbs = new Map<number, string>();
const thumbAsked = new Set<number>();
let shown: string[] = [];
let selected: number | undefined;
let seq = 0;

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
for (const [v, t] of [['', 'correct + wrong'], ['correct', 'correct'], ['wrong', 'wrong']]) correctSel.append(el('option', { value: v }, t));
const verifySel = el('select', { 'aria-label': 'Verify status' });
const colBtn = el('button', { class: 'ds-btn', 'aria-expanded': 'false' }, 'Columns…');
const verifyBtn = el('button', { class: 'ds-btn', title: 'Replay every row’s code in fresh kernels and compare with the recorded outputs' }, 'Verify code…');
colBtn.addEventListener('click', () => {
  columnsBox.hidden = !columnsBox.hidden;
  colBtn.setAttribute('aria-expanded', String(!columnsBox.hidden));
});
verifyBtn.addEventListener('click', () => post({ type: 'verify' }));
const label = (text: string, ...c: HTMLElement[]) => {
  const l = el('label', { class: 'ds-field' });
  l.append(el('span', {}, text), ...c);
  return l;
};
controls.append(search, label('data_source', dsSel), label('ability', abSel), label('tool calls', minTools, maxTools), label('result', correctSel), label('verify', verifySel), colBtn, verifyBtn);

function options(sel: HTMLSelectElement, values: string[], all: string): void {
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '' }, all), ...values.map((v) => el('option', { value: v }, v || '(empty)')));
  sel.value = values.includes(cur) ? cur : '';
}

let filterTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleFilter(): void {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(runFilter, 250);
}
function currentFilter(): RowFilter | undefined {
  const f: RowFilter = {};
  if (search.value.trim()) f.search = search.value.trim();
  if (dsSel.value) f.dataSource = dsSel.value;
  if (abSel.value) f.ability = abSel.value;
  if (minTools.value !== '') f.minToolCalls = Number(minTools.value);
  if (maxTools.value !== '') f.maxToolCalls = Number(maxTools.value);
  if (correctSel.value) f.correct = correctSel.value as 'correct' | 'wrong';
  if (verifySel.value && overlay) f.indexes = Object.entries(overlay.status).flatMap(([i, s]) => (s === verifySel.value ? [Number(i)] : []));
  return Object.keys(f).length ? f : undefined;
}
function runFilter(): void {
  const f = currentFilter();
  seq++;
  if (!f) {
    view = undefined;
    status.textContent = `${info?.rowCount ?? 0} rows`;
    layout();
    return;
  }
  status.textContent = 'Filtering…';
  post({ type: 'filter', seq, filter: f });
}
for (const c of [search, minTools, maxTools]) c.addEventListener('input', scheduleFilter);
for (const c of [dsSel, abSel, correctSel, verifySel]) c.addEventListener('change', runFilter);

// ----- columns -----
function setColumns(cols: string[]): void {
  shown = cols.filter((c) => !['images', 'multi_modal_data'].includes(c)).slice(0, 6);
  columnsBox.replaceChildren();
  for (const c of cols) {
    const box = el('input', { type: 'checkbox', value: c });
    box.checked = shown.includes(c);
    box.addEventListener('change', () => {
      shown = cols.filter((x) => (x === c ? box.checked : shown.includes(x)));
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
  tableHead.replaceChildren(el('div', { class: 'ds-cell ds-idx', role: 'columnheader' }, '#'), el('div', { class: 'ds-cell ds-thumb', role: 'columnheader' }, 'image'), ...shown.map((c) => el('div', { class: 'ds-cell', role: 'columnheader' }, c)));
  if (overlay) tableHead.append(el('div', { class: 'ds-cell ds-verify', role: 'columnheader' }, 'verify'));
}

// ----- virtualized rows -----
const rowCount = () => (view ? view.length : (info?.rowCount ?? 0));
let raf = 0;
function layout(force = false): void {
  spacer.style.height = `${rowCount() * ROW_H}px`;
  if (force) for (const r of [...scroller.querySelectorAll('.ds-body-row')]) r.remove();
  paint();
}
function paint(): void {
  if (raf) return;
  raf = requestAnimationFrame(() => {
    raf = 0;
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
  const index = view ? view[pos] : pos;
  const page = Math.floor(index / PAGE);
  const data = pages.get(page)?.[index % PAGE];
  if (!data && !asked.has(page)) {
    asked.add(page);
    post({ type: 'page', page });
  }
  scroller.querySelector(`.ds-body-row[data-pos="${pos}"]`)?.remove();
  const row = el('div', { class: `ds-row ds-body-row${data ? '' : ' loading'}${index === selected ? ' selected' : ''}`, role: 'row', 'data-pos': String(pos), 'data-index': String(index), tabindex: '-1' });
  row.style.top = `${pos * ROW_H}px`;
  row.append(el('div', { class: 'ds-cell ds-idx' }, String(index)));
  const th = el('div', { class: 'ds-cell ds-thumb' });
  if (data?.facts.images) {
    const src = thumbs.get(index);
    if (src) th.append(el('img', { src, alt: `image of row ${index}` }));
    else if (!thumbAsked.has(index)) {
      thumbAsked.add(index);
      post({ type: 'thumb', index });
    }
  }
  row.append(th);
  for (const c of shown) row.append(el('div', { class: 'ds-cell', title: data?.cells[c] ?? '' }, data ? (data.error && c === shown[0] ? `⚠ ${data.error}` : (data.cells[c] ?? '')) : '…'));
  if (overlay) row.append(el('div', { class: `ds-cell ds-verify v-${overlay.status[index] ?? 'none'}` }, overlay.status[index] ?? ''));
  row.addEventListener('click', () => open(index));
  scroller.append(row);
}
scroller.addEventListener('scroll', paint);
new ResizeObserver(() => paint()).observe(scroller);
scroller.addEventListener('keydown', (e) => {
  if (selected === undefined || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp')) return;
  e.preventDefault();
  const pos = view ? view.indexOf(selected) : selected;
  const next = Math.max(0, Math.min(rowCount() - 1, pos + (e.key === 'ArrowDown' ? 1 : -1)));
  scroller.scrollTop = Math.min(scroller.scrollTop, next * ROW_H);
  if ((next + 1) * ROW_H > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = (next + 1) * ROW_H - scroller.clientHeight;
  open(view ? view[next] : next);
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
  selected = index;
  for (const r of scroller.querySelectorAll<HTMLElement>('.ds-body-row')) r.classList.toggle('selected', Number(r.dataset.index) === index);
  detail.replaceChildren(el('div', { class: 'ds-loading' }, `Row ${index}…`));
  post({ type: 'row', index });
}

/** What verify found for the row: its status and, for a differing or failing row, where and what. */
function verifyBox(v: VerifyRowRecord): HTMLElement {
  const box = el('div', { class: `ds-verify-box v-${v.status}`, role: 'note' });
  box.append(el('strong', {}, `Verify: ${v.status}`));
  for (const d of v.diffs ?? []) {
    const item = el('div', { class: 'ds-diff' });
    item.append(el('div', {}, `turn ${d.turn + 1}: ${d.what} differs`), el('div', { class: 'ds-diff-exp' }, `recorded: ${d.expected}`), el('div', { class: 'ds-diff-got' }, `replayed: ${d.got}`));
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
  const items = w.source === 'eval' ? [`score ${f(w.score)}`, `acc ${f(w.acc)}`, `format_r ${f(w.format_r)}`, `tool_reward_component ${f(w.tool_reward_component)}`] : [];
  items.push(`tool_success_rate ${f(w.tool_success_rate)}`, `tool_step [${w.tool_step.map((x) => f(x)).join(', ')}]`);
  box.append(document.createTextNode(items.join(' · ')));
  if (w.note) box.append(el('div', { class: 'ds-note' }, w.note));
  return box;
}

window.addEventListener('message', (ev: MessageEvent<ToDataset>) => {
  const m = ev.data;
  switch (m.type) {
    case 'info':
      info = m.info;
      overlay = m.verify;
      header.replaceChildren(el('strong', {}, m.info.file.split(/[\\/]/).pop() ?? ''), document.createTextNode(` · ${m.info.rowCount.toLocaleString()} rows · ${m.info.format} · opened in ${m.openMs.toFixed(0)} ms`));
      status.textContent = `${m.info.rowCount} rows`;
      options(verifySel, overlay ? [...new Set(Object.values(overlay.status))].sort() : [], 'all');
      verifySel.disabled = !overlay;
      setColumns(m.info.columns);
      layout(true);
      post({ type: 'filter', seq: -1, filter: {} }); // the facets (data_source, ability values) only: the view and its scroll stay
      return;
    case 'page':
      pages.set(m.page, m.rows);
      layout(false);
      for (const r of [...scroller.querySelectorAll<HTMLElement>('.ds-body-row.loading')]) drawRow(Number(r.dataset.pos));
      return;
    case 'thumb':
      if (m.image) {
        thumbs.set(m.index, `data:${m.image.mime};base64,${m.image.data}`);
        const r = scroller.querySelector<HTMLElement>(`.ds-body-row[data-index="${m.index}"]`);
        if (r) drawRow(Number(r.dataset.pos));
      }
      return;
    case 'filterProgress':
      if (m.seq === seq) status.textContent = `Filtering… ${m.done}/${m.total}`;
      return;
    case 'filtered': {
      options(dsSel, m.facets.dataSource, 'all');
      options(abSel, m.facets.ability, 'all');
      if (m.seq !== seq) return;
      const f = currentFilter();
      view = f ? m.indexes : undefined;
      status.textContent = f ? `${m.indexes.length} of ${info?.rowCount ?? 0} rows match (${m.ms.toFixed(0)} ms)` : `${info?.rowCount ?? 0} rows`;
      scroller.scrollTop = 0;
      layout(true);
      return;
    }
    case 'row': {
      if (m.index !== selected) return;
      const bar = el('div', { class: 'ds-detail-bar' });
      const ask = el('button', { class: 'ds-btn primary' }, 'Ask about this row');
      ask.addEventListener('click', () => post({ type: 'ask', index: m.index }));
      bar.append(el('strong', {}, `Row ${m.index}`), ask);
      const r = new ExchangeRenderer(0, m.exchange.question, m.exchange.inputImages, actions);
      for (const e of exchangeEvents(m.exchange)) if (!(m.promptOnly && e.type === 'done')) r.apply(e);
      const meta = el('details', { class: 'ds-meta' });
      meta.append(el('summary', {}, 'Other fields'), el('pre', {}, m.meta));
      const parts: HTMLElement[] = [bar];
      if (m.verify) parts.push(verifyBox(m.verify));
      if (m.reward) {
        parts.push(rewardBox(m.reward));
        // per-call markers on the cells, in order (a failed call: −0.5)
        [...r.root.querySelectorAll('details.cell')].forEach((c, i) => {
          const v = m.reward!.perCall[i];
          if (v !== undefined) c.querySelector('summary')?.append(el('span', { class: `ds-step ${v < 0 ? 'bad' : 'ok'}`, title: 'this call’s score in the seed’s training reward (tool_step): −0.5 for a failed call' }, v < 0 ? `reward ${v}` : 'reward +0'));
        });
      }
      detail.replaceChildren(...parts, r.root, meta);
      return;
    }
    case 'verify':
      overlay = m.overlay;
      options(verifySel, [...new Set(Object.values(overlay.status))].sort(), 'all');
      verifySel.disabled = false;
      renderHead();
      layout(true);
      return;
    case 'error':
      errorBox.hidden = false;
      errorBox.textContent = m.text;
      return;
  }
});
post({ type: 'ready' });
