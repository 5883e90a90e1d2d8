/**
 * The results view (bundled for the browser as dist/results.js): one table across benchmarks and
 * runs as the extension sends it (src/protocol/results.ts) — accuracy with its 95 % interval, n,
 * errors/timeouts and tool calls per benchmark and run, each run against the first (difference,
 * McNemar's p), the flagged rows and why, each run's settings (protocol first), and the samples
 * that flipped, each a button that opens it in the eval report. All text goes in as text.
 */
import type {
  BenchmarkComparison,
  CellSettings,
  FromResults,
  ResultsResponses,
  ResultsTable,
  SampleFlip,
  TableCell,
  ToResults,
} from '../../protocol/results';
import { Messenger } from '../messenger';
import { el } from '../report/charts';

interface VsCodeApi {
  postMessage(msg: FromResults): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const messenger = new Messenger<FromResults, ResultsResponses>(acquireVsCodeApi(), showError);

/** flipped samples shown per benchmark and direction (the rest are counted; the CLI's --json lists all) */
const MAX_FLIPS = 500;

const SETTING_NAMES: [keyof CellSettings, string][] = [
  ['protocol', 'protocol'],
  ['prompts', 'protocol prompts'],
  ['scoring', 'scoring'],
  ['judge', 'judge model'],
  ['maxTurns', 'max turns'],
  ['imageBudget', 'image budget'],
  ['dataset', 'dataset file (sha256)'],
  ['revision', 'benchmark revision (Hub)'],
];

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const pts = (d: number) => `${d > 0 ? '+' : d < 0 ? '−' : '±'}${Math.abs(100 * d).toFixed(1)} pts`;
const pText = (p: number) => (p >= 0.001 ? p.toFixed(3) : p.toExponential(1));

const root = document.getElementById('root')!;
root.replaceChildren();
const errorBox = el('div', { class: 'error', role: 'alert', hidden: '' });
const status = el('div', { class: 'muted', 'aria-live': 'polite' });
const content = el('div');
root.append(errorBox, header(), status, content);

function header(): HTMLElement {
  const h = el('header', { class: 'header' });
  h.append(el('h1', {}, 'Eval runs compared'));
  const actions = el('div', { class: 'actions', role: 'toolbar', 'aria-label': 'Results table actions' });
  const pick = el('button', { type: 'button', 'data-action': 'pickRuns' }, 'Compare other runs…');
  pick.addEventListener('click', () => messenger.send({ type: 'pickRuns' }));
  actions.append(pick);
  for (const [format, label] of [
    ['md', 'Markdown'],
    ['latex', 'LaTeX'],
    ['csv', 'CSV'],
  ] as const) {
    const b = el('button', { type: 'button', 'data-export': format }, `Export ${label}…`);
    b.addEventListener('click', () => {
      messenger
        .request({ type: 'export', format })
        .then((file) => (status.textContent = file ? `saved ${file}` : ''))
        .catch((e: Error) => showError(e.message));
    });
    actions.append(b);
  }
  h.append(actions);
  return h;
}

function render(t: ResultsTable): void {
  content.replaceChildren(runsList(t), numbers(t));
  content.append(el('p', { class: 'muted legend' }, legend(t)));
  if (t.flags.length) {
    const box = el('section', { class: 'flags', 'aria-label': 'Not comparable as they stand' });
    box.append(el('h2', {}, 'Not comparable as they stand'));
    const ul = el('ul');
    for (const f of t.flags) ul.append(el('li', { class: 'lines-warning' }, `⚠ ${f.benchmark}: ${f.message}`));
    box.append(ul);
    content.append(box);
  }
  content.append(settingsTable(t));
  for (const [i, c] of t.comparisons.entries()) content.append(flipsSection(t, i, c.rows));
}

function runsList(t: ResultsTable): HTMLElement {
  const ul = el('ul', { class: 'runs' });
  t.runs.forEach((r, i) => {
    const li = el('li', {}, `${r.label}${i === 0 && t.runs.length > 1 ? ' (baseline)' : ''}: `);
    li.append(el('span', { class: 'muted' }, r.path));
    for (const n of r.notes) li.append(el('div', { class: 'lines-warning' }, `⚠ ${n}`));
    ul.append(li);
  });
  return ul;
}

function legend(t: ResultsTable): string {
  const cmp = t.comparisons.length
    ? ` Δ: the difference with ${t.runs[0].label} on the samples both runs have; p: McNemar's test (exact binomial below 25 differing samples, else chi-square with continuity correction).`
    : '';
  return `Accuracy with its 95% Wilson score interval; n: samples; err/to: errors / of them timeouts; tools: code executions per sample.${cmp}`;
}

function numbers(t: ResultsTable): HTMLElement {
  const table = el('table', { class: 'sample-table results-table', id: 'results-table' });
  const head = el('tr');
  head.append(el('th', { scope: 'col' }, 'benchmark'));
  for (const r of t.runs) head.append(el('th', { scope: 'col' }, r.label));
  for (const c of t.comparisons) head.append(el('th', { scope: 'col' }, `${t.runs[c.b].label} vs ${t.runs[c.a].label}`));
  table.append(el('thead'));
  table.tHead!.append(head);
  const body = el('tbody');
  for (const b of t.benchmarks) {
    const flags = t.flags.filter((f) => f.benchmark === b);
    const tr = el('tr', { 'data-benchmark': b, class: b === t.pooled ? 'pooled' : '' });
    const name = el('th', { scope: 'row' }, flags.length ? `${b} ⚠` : b);
    if (flags.length) name.title = flags.map((f) => f.message).join('\n');
    tr.append(name);
    t.runs.forEach((_, run) => tr.append(runCell(t.cells.find((c) => c.benchmark === b && c.run === run))));
    for (const c of t.comparisons) tr.append(comparisonCell(c.rows.find((r) => r.benchmark === b)));
    body.append(tr);
  }
  table.append(body);
  return table;
}

function runCell(c: TableCell | undefined): HTMLElement {
  const td = el('td', { class: 'num' });
  if (!c) return ((td.textContent = '—'), td);
  td.append(el('div', { class: 'acc-cell' }, pct(c.accuracy)));
  const ci = c.ci ? `[${(100 * c.ci[0]).toFixed(1)}, ${(100 * c.ci[1]).toFixed(1)}]` : '[n/a]';
  td.append(el('div', { class: 'muted' }, `${ci} · n ${c.n} · err ${c.errors}/to ${c.timeouts} · tools ${c.meanToolCalls.toFixed(2)}`));
  return td;
}

function comparisonCell(c: BenchmarkComparison | undefined): HTMLElement {
  const td = el('td', { class: 'num' });
  if (!c) return ((td.textContent = '—'), td);
  td.append(el('div', { class: `acc-cell ${c.diff > 0 ? 'up' : c.diff < 0 ? 'down' : ''}` }, pts(c.diff)));
  const shown = c.test.method === 'exact' ? 'exact' : `χ² ${c.test.statistic?.toFixed(2)}`;
  td.append(
    el('div', { class: 'muted' }, `p ${pText(c.test.p)} (${shown}) · n ${c.paired} · ${c.test.b} correct→wrong, ${c.test.c} wrong→correct`),
  );
  return td;
}

/** Each run's settings (its pooled row's: every benchmark together), the ones a flag names marked. */
function settingsTable(t: ResultsTable): HTMLElement {
  const box = el('section', { 'aria-label': 'Settings' });
  box.append(el('h2', {}, 'Settings'));
  const table = el('table', { class: 'sample-table settings-table' });
  const head = el('tr');
  head.append(el('th', { scope: 'col' }, ''));
  for (const r of t.runs) head.append(el('th', { scope: 'col' }, r.label));
  table.append(head);
  const flagged = new Set(t.flags.flatMap((f) => (f.kind === 'differs' ? [f.field] : f.fields)));
  const row = t.pooled ?? t.benchmarks[0];
  for (const [field, name] of SETTING_NAMES) {
    const tr = el('tr', { class: flagged.has(field) ? 'flagged' : '' });
    tr.append(el('th', { scope: 'row' }, flagged.has(field) ? `${name} ⚠` : name));
    t.runs.forEach((_, run) => tr.append(el('td', {}, t.cells.find((c) => c.benchmark === row && c.run === run)?.settings[field] ?? '—')));
    table.append(tr);
  }
  box.append(table);
  return box;
}

/** The flipped samples of one comparison, per benchmark and direction; each opens in the eval report. */
function flipsSection(t: ResultsTable, comparison: number, rows: BenchmarkComparison[]): HTMLElement {
  const c = t.comparisons[comparison];
  const box = el('section', { class: 'flips', 'aria-label': `Flipped samples, ${t.runs[c.b].label} vs ${t.runs[c.a].label}` });
  box.append(el('h2', {}, `Flipped samples: ${t.runs[c.b].label} vs ${t.runs[c.a].label}`));
  const listed = rows.filter((r) => r.flips.length);
  if (!listed.length) box.append(el('p', { class: 'muted' }, 'No sample flipped.'));
  for (const r of listed) {
    box.append(el('h3', {}, r.benchmark));
    for (const [dir, label] of [
      ['correct-to-wrong', 'correct → wrong'],
      ['wrong-to-correct', 'wrong → correct'],
    ] as const) {
      const flips = r.flips.filter((f) => f.direction === dir);
      const line = el('div', { class: `flip-line ${dir}` });
      line.append(el('span', { class: 'flip-label' }, `${label} (${flips.length}):`));
      for (const f of flips.slice(0, MAX_FLIPS)) line.append(flipButton(comparison, r.benchmark, f));
      if (flips.length > MAX_FLIPS) line.append(el('span', { class: 'muted' }, ` … ${flips.length - MAX_FLIPS} more`));
      box.append(line);
    }
  }
  return box;
}

function flipButton(comparison: number, benchmark: string, f: SampleFlip): HTMLElement {
  const b = el('button', { type: 'button', class: 'flip', 'data-key': f.key, title: `sample ${f.key}: ${f.from} → ${f.to}` }, f.key);
  b.addEventListener('click', () => {
    status.textContent = `opening sample ${f.key} in the eval report…`;
    messenger
      .request({ type: 'openSample', comparison, benchmark, key: f.key })
      .then(() => (status.textContent = ''))
      .catch((e: Error) => showError(e.message));
  });
  return b;
}

window.addEventListener('message', (ev: MessageEvent<ToResults>) => {
  const m = ev.data;
  if (m.type === 'table') {
    errorBox.hidden = true;
    render(m.table);
    document.body.dataset.ready = 'true';
  } else if (m.type === 'reply') messenger.settle(m);
});

function showError(text: string): void {
  errorBox.textContent = text;
  errorBox.hidden = false;
}
messenger.send({ type: 'ready' });
