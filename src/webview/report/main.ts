/**
 * Eval report webview (bundled for the browser as dist/report.js). Renders what the extension
 * sends (src/protocol/report.ts): accuracy overall and per data_source (SVG bars, A and B side by
 * side), tool-call and latency histograms, error/timeout rates, a filterable table of samples,
 * and a sample's trajectory (the stored Trajectory) with its images. All text goes in as text;
 * images are data: URLs made from the trajectory's inline base64.
 */
import { imageDataUrl } from '../../protocol/images';
import type { FromReport, ReportResponses, ReportRun, ReportSample, ToReport } from '../../protocol/report';
import { Messenger } from '../messenger';
import { barChart, el } from './charts';
import { protocolText, warningsBox } from './compare';
import { rewardBox, rewardCharts } from './reward';
import { SampleTable, type Filter } from './table';
import { secs, turnSection } from './trajectory';

interface VsCodeApi {
  postMessage(msg: FromReport): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const messenger = new Messenger<FromReport, ReportResponses>(acquireVsCodeApi(), showError);
const post = messenger.send.bind(messenger);

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** What the report shows and what the user picked in it (the one mutable state of this page). */
const page = {
  runs: [] as ReportRun[],
  /** why the two runs cannot be compared as they stand (A/B) */
  warnings: [] as string[],
  filter: 'all' as Filter,
  search: '',
  selected: undefined as number | undefined,
  /** samples of run A checked for export */
  checked: new Set<number>(),
};

const root = document.getElementById('root')!;
root.replaceChildren();
const header = el('header', { class: 'header' });
const tilesEl = el('div', { class: 'tiles' });
const charts = el('div', { class: 'charts', 'aria-label': 'Charts' });
const overview = el('section', { class: 'overview' });
overview.append(tilesEl, charts);
const tableWrap = el('section', { class: 'samples', 'aria-label': 'Samples' });
const detail = el('section', { class: 'detail', 'aria-label': 'Sample', 'aria-live': 'polite' });
const errorBox = el('div', { class: 'error', role: 'alert', hidden: '' });
root.append(errorBox, header, overview, el('div', { class: 'split' }));
root.lastElementChild!.append(tableWrap, detail);

// ---------------------------------------------------------------------------------------------
// charts
// ---------------------------------------------------------------------------------------------

function latencyBuckets(all: number[][]): { labels: string[]; counts: number[][] } {
  const flat = all.flat();
  if (!flat.length) return { labels: [], counts: all.map(() => []) };
  const max = Math.max(...flat);
  const n = 10;
  const step = Math.max(1, max / n);
  const labels = Array.from({ length: n }, (_, i) => `${((i * step) / 1000).toFixed(1)}`);
  const counts = all.map((l) => {
    const c = new Array(n).fill(0);
    for (const v of l) c[Math.min(n - 1, Math.floor(v / step))]++;
    return c;
  });
  return { labels: labels.map((l) => `${l}s`), counts };
}

function renderHeader(): void {
  header.replaceChildren();
  const title = el(
    'h1',
    {},
    page.runs.length > 1 ? `${page.runs[0].model} vs ${page.runs[1].model}` : `${page.runs[0].model} on ${page.runs[0].dataset}`,
  );
  header.append(title, ...warningsBox(page.warnings));
  const tiles = tilesEl;
  tiles.replaceChildren();
  for (const r of page.runs) {
    const t = el('div', { class: `tile ${page.runs.length > 1 ? 'run-' + r.label : ''}`, 'data-run': r.label });
    t.append(el('div', { class: 'tile-title' }, page.runs.length > 1 ? `${r.label}: ${r.model} / ${r.dataset}` : r.dataset));
    t.append(el('div', { class: 'acc', id: `acc-${r.label}` }, pct(r.avgAcc)));
    t.append(
      el('div', { class: 'muted' }, `accuracy on ${r.total} sample(s)${r.skipped ? `, ${r.skipped} skipped (image did not load)` : ''}`),
    );
    // lines of the results file that did not count (not JSON, no index, a sample written again later)
    if (r.skippedLines) t.append(el('div', { class: 'lines-warning', title: r.file }, `⚠ results file: ${r.skippedLines.note}`));
    const dl = el('dl', { class: 'rates' });
    const add = (k: string, v: string) => dl.append(el('dt', {}, k), el('dd', {}, v));
    add('sample errors', pct(r.sampleErrorRate));
    add('sample timeouts', pct(r.sampleTimeoutRate));
    add('tool-call errors', pct(r.toolErrorRate));
    add('tool-call timeouts', pct(r.toolTimeoutRate));
    add('latency p50 / p90 / p99', `${secs(r.latency.p50)} / ${secs(r.latency.p90)} / ${secs(r.latency.p99)}`);
    add('protocol', protocolText(r));
    add('scoring', r.scoring);
    if (r.cells) add('python cells', r.cells);
    t.append(dl);
    tiles.append(t);
  }
  const actions = el('div', { class: 'actions' });
  const ab = el(
    'button',
    { type: 'button', 'data-action': 'pickB' },
    page.runs.length > 1 ? 'Compare with another run…' : 'Compare with another run (A/B)…',
  );
  ab.addEventListener('click', () => post({ type: 'pickB' }));
  actions.append(ab);
  header.append(actions);
}

function renderCharts(): void {
  charts.replaceChildren();
  const sources = [...new Set(page.runs.flatMap((r) => Object.keys(r.perSource)))].sort();
  charts.append(
    barChart(
      'Accuracy overall and per data_source',
      ['overall', ...sources],
      page.runs.map((r) => ({ label: r.label, values: [r.avgAcc, ...sources.map((s) => r.perSource[s]?.acc ?? 0)] })),
      { max: 1, format: pct, id: 'chart-accuracy' },
    ),
  );
  const maxTools = Math.max(0, ...page.runs.flatMap((r) => Object.keys(r.toolHistogram).map(Number)));
  const toolCats = Array.from({ length: maxTools + 1 }, (_, i) => String(i));
  charts.append(
    barChart(
      'Tool calls per sample',
      toolCats,
      page.runs.map((r) => ({ label: r.label, values: toolCats.map((c) => r.toolHistogram[c] ?? 0) })),
      { format: String, id: 'chart-tools' },
    ),
  );
  const lb = latencyBuckets(page.runs.map((r) => r.latencies));
  charts.append(
    barChart(
      'Latency per sample',
      lb.labels,
      page.runs.map((r, i) => ({ label: r.label, values: lb.counts[i] })),
      { format: String, id: 'chart-latency' },
    ),
  );
  charts.append(...rewardCharts(page.runs));
}

// ---------------------------------------------------------------------------------------------
// table
// ---------------------------------------------------------------------------------------------

const table = new SampleTable(tableWrap, page, {
  open: (index, inB) => openSample(index, inB),
  exportChecked: (indexes) => post({ type: 'export', run: 'A', indexes }),
});

/** Shows sample `index` below the table (run B's beside it when `inB`), its row marked. */
function openSample(index: number, inB: boolean | undefined): void {
  table.markSelected(index);
  detail.replaceChildren(el('p', { class: 'muted' }, `loading sample ${index}…`));
  // both asked at once, shown in order (A first: it starts the detail afresh)
  const sampleA = messenger.request({ type: 'sample', run: 'A', index });
  const sampleB = inB ? messenger.request({ type: 'sample', run: 'B', index }) : undefined;
  sampleA
    .then(renderDetail)
    .then(() => sampleB?.then(renderDetail))
    .catch((e: Error) => showError(e.message));
}

// ---------------------------------------------------------------------------------------------
// sample detail
// ---------------------------------------------------------------------------------------------

/** The detail's heading: the run (when there are two), the sample and its verdict. */
function sampleTitle(d: ReportSample): string {
  return `${page.runs.length > 1 ? d.run + ' · ' : ''}sample ${d.index}: ${d.status === 'error' ? `error (${d.outcome})` : d.acc === 1 ? 'correct' : 'wrong'}`;
}

const detailParts: Partial<Record<'A' | 'B', HTMLElement>> = {};

function renderDetail(d: ReportSample): void {
  if (d.index !== page.selected) return;
  if (d.run === 'A') {
    detail.replaceChildren();
    delete detailParts.B;
  }
  const box = el('article', { class: `sample run-${d.run}`, 'data-run': d.run });
  const h = el('h2', {}, sampleTitle(d));
  box.append(h);
  const chat = el('button', { type: 'button', 'data-action': 'openInChat' }, 'Open in chat');
  chat.addEventListener('click', () => post({ type: 'openInChat', run: d.run, index: d.index }));
  box.append(chat);
  box.append(el('h3', {}, 'Question'), el('pre', { class: 'text' }, d.question));
  box.append(el('p', {}, `Ground truth: ${d.groundTruth}`));
  if (d.reward) box.append(rewardBox(d.reward));
  if (d.error) box.append(el('p', { class: 'error-text' }, d.error));
  if (d.judgeText !== undefined) box.append(el('p', { class: 'muted' }, `Judge: ${d.judgeText}`));
  const t = d.trajectory;
  const inputImages = t?.inputImages ?? [];
  const imgs = el('div', { class: 'images' });
  for (const im of inputImages)
    imgs.append(el('img', { src: imageDataUrl(im), alt: `input image ${im.id}`, class: 'thumb', 'data-image': im.id }));
  if (t?.inputImages.length) box.append(el('h3', {}, 'Input'), imgs);
  if (t?.migrated?.source === 'eval-record')
    box.append(
      el('p', { class: 'muted' }, `Written by an older CodeDance (schema ${t.migrated.fromVersion}): ${t.migrated.rebuilt.join('; ')}.`),
    );
  for (const turn of t?.turns ?? []) box.append(turnSection(turn, d.reward, inputImages));
  if (!t?.turns.length && d.output) box.append(el('pre', { class: 'text' }, d.output));
  detailParts[d.run] = box;
  detail.replaceChildren(...(['A', 'B'] as const).map((k) => detailParts[k]).filter((x): x is HTMLElement => !!x));
  detail.classList.toggle('ab', !!detailParts.B);
}

window.addEventListener('message', (ev: MessageEvent<ToReport>) => {
  const m = ev.data;
  if (m.type === 'runs') {
    if (m.runs[0]?.file !== page.runs[0]?.file) page.checked.clear();
    page.runs = m.runs;
    page.warnings = m.warnings ?? [];
    errorBox.hidden = true;
    if (!page.runs.length) return;
    if ((page.filter === 'differs' && page.runs.length < 2) || m.select !== undefined) page.filter = 'all';
    if (m.select !== undefined) page.search = '';
    renderHeader();
    renderCharts();
    table.setRuns();
    if (m.select !== undefined)
      openSample(
        m.select,
        page.runs[1]?.samples.some((x) => x.index === m.select),
      );
    document.body.dataset.ready = 'true';
  } else if (m.type === 'reply') messenger.settle(m);
});

function showError(text: string): void {
  errorBox.textContent = text;
  errorBox.hidden = false;
}
post({ type: 'ready' });
