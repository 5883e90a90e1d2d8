/**
 * The results table (tableModel.ts) as text: Markdown, LaTeX (a booktabs `tabular`) and CSV (one
 * row per benchmark and run, for a spreadsheet or pandas). Markdown and LaTeX have, per run,
 * accuracy (%) with its 95 % Wilson interval, n, errors/timeouts and tool calls per sample, then
 * per comparison with the first run the paired difference (points) and McNemar's p; a flagged row
 * is marked (⚠ / †) and its flags follow the table with every run's settings (protocol first).
 */
import { SETTING_FIELDS } from './tableCompare';
import type { BenchmarkComparison, CellSettings, ResultsTable, SettingFlag, TableCell } from './tableTypes';

export type TableFormat = 'md' | 'latex' | 'csv';

export const TABLE_FORMATS: readonly TableFormat[] = ['md', 'latex', 'csv'];

export function renderTable(t: ResultsTable, format: TableFormat): string {
  return format === 'md' ? tableMarkdown(t) : format === 'latex' ? tableLatex(t) : tableCsv(t);
}

/** 71.2 */
export const pct = (x: number) => (100 * x).toFixed(1);
/** [64.3, 77.2] */
export const ciText = (c: TableCell) => (c.ci ? `[${pct(c.ci[0])}, ${pct(c.ci[1])}]` : '[n/a]');
/** +5.2 / -3.1 (points) */
export const signedPts = (d: number) => `${d > 0 ? '+' : d < 0 ? '-' : '±'}${Math.abs(100 * d).toFixed(1)}`;
/** 0.031, 4.2e-5 */
export const pText = (p: number) => (p >= 0.001 ? p.toFixed(3) : p.toExponential(1));

export function cellAt(t: ResultsTable, benchmark: string, run: number): TableCell | undefined {
  return t.cells.find((c) => c.benchmark === benchmark && c.run === run);
}

export function comparisonAt(t: ResultsTable, b: number, benchmark: string): BenchmarkComparison | undefined {
  return t.comparisons.find((c) => c.b === b)?.rows.find((r) => r.benchmark === benchmark);
}

export const flagsOf = (t: ResultsTable, benchmark: string): SettingFlag[] => t.flags.filter((f) => f.benchmark === benchmark);

/** A sentence on what the numbers are, for under the table. */
export function legend(t: ResultsTable): string {
  const cmp = t.comparisons.length
    ? ` Δ: the difference in accuracy with ${t.runs[0].label} on the samples both runs have (points); p: McNemar's test on those samples (exact binomial when fewer than 25 samples differ, else chi-square with continuity correction).`
    : '';
  return `Accuracy (%) with its 95% Wilson score interval; n: samples; err/to: samples that ended in an error / of them timeouts; tools: code executions per sample.${cmp}`;
}

/** One line per run and distinct settings: "qwen (chart, vstar): protocol codedance, protocol prompts 1a2b…, …". */
export function settingsLines(t: ResultsTable): string[] {
  const out: string[] = [];
  t.runs.forEach((r, run) => {
    const byText = new Map<string, string[]>();
    for (const c of t.cells.filter((x) => x.run === run && x.benchmark !== t.pooled)) {
      const text = settingsText(c.settings);
      byText.set(text, [...(byText.get(text) ?? []), c.benchmark]);
    }
    for (const [text, benches] of byText) out.push(`${r.label}${byText.size > 1 ? ` (${benches.join(', ')})` : ''}: ${text}`);
  });
  return out;
}

export function settingsText(s: CellSettings): string {
  return SETTING_FIELDS.map(([f, name]) => `${name} ${s[f]}`).join(' · ');
}

// ---------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------

const mdEscape = (s: string) => s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|');

function tableMarkdown(t: ResultsTable): string {
  const head = ['Benchmark'];
  for (const r of t.runs) head.push(`${r.label} acc. % [95% CI]`, `${r.label} n`, `${r.label} err/to`, `${r.label} tools`);
  for (const c of t.comparisons) head.push(`Δ ${t.runs[c.b].label} − ${t.runs[c.a].label}`, `p`);
  const lines = [row(head), row(head.map((_, i) => (i ? '---:' : '---')))];
  for (const b of t.benchmarks) {
    const cells = [flagsOf(t, b).length ? `${b} ⚠` : b];
    t.runs.forEach((_, run) => cells.push(...runCells(cellAt(t, b, run), '—')));
    for (const c of t.comparisons) cells.push(...comparisonCells(comparisonAt(t, c.b, b), '—'));
    lines.push(row(cells));
  }
  lines.push('', legend(t));
  if (t.flags.length) lines.push('', ...t.flags.map((f) => `- ⚠ ${f.benchmark}: ${f.message}`));
  lines.push('', 'Settings:', '', ...settingsLines(t).map((l) => `- ${l}`));
  return lines.join('\n') + '\n';
}

const row = (cells: string[]) => `| ${cells.map(mdEscape).join(' | ')} |`;

function runCells(c: TableCell | undefined, none: string): string[] {
  if (!c) return [none, none, none, none];
  return [`${pct(c.accuracy)} ${ciText(c)}`, String(c.n), `${c.errors}/${c.timeouts}`, c.meanToolCalls.toFixed(2)];
}

function comparisonCells(c: BenchmarkComparison | undefined, none: string): string[] {
  if (!c) return [none, none];
  return [`${signedPts(c.diff)} (n=${c.paired})`, pText(c.test.p)];
}

// ---------------------------------------------------------------------------------------------
// LaTeX (booktabs)
// ---------------------------------------------------------------------------------------------

const LATEX_SPECIAL: Record<string, string> = {
  '\\': '\\textbackslash{}',
  '&': '\\&',
  '%': '\\%',
  $: '\\$',
  '#': '\\#',
  _: '\\_',
  '{': '\\{',
  '}': '\\}',
  '~': '\\textasciitilde{}',
  '^': '\\textasciicircum{}',
  '|': '\\textbar{}',
  '<': '\\textless{}',
  '>': '\\textgreater{}',
};
export const latexEscape = (s: string) => s.replace(/[\\&%$#_{}~^|<>]/g, (ch) => LATEX_SPECIAL[ch]);
/** a signed difference in LaTeX: a real minus sign, ± in math mode */
const latexSigned = (s: string) =>
  latexEscape(s)
    .replace(/^-(?=\d)/, '$-$')
    .replace(/^±/, '$\\pm$');
/** a p-value in LaTeX: 4.2e-5 as $4.2 \\times 10^{-5}$ */
const latexP = (s: string) =>
  s.replace(
    /^(\d(?:\.\d+)?)e([-+]?)(\d+)$/,
    (_, m: string, sign: string, e: string) => `$${m} \\times 10^{${sign === '-' ? '-' : ''}${e}}$`,
  );
/** a LaTeX comment line: no line break can end it early */
const comment = (s: string) => `% ${s.replace(/[\r\n]+/g, ' ')}`;

function tableLatex(t: ResultsTable): string {
  const spec = `l${'rrrr'.repeat(t.runs.length)}${'rr'.repeat(t.comparisons.length)}`;
  const groups: string[] = [];
  const rules: string[] = [];
  let col = 2;
  for (const r of t.runs) {
    groups.push(`\\multicolumn{4}{c}{${latexEscape(r.label)}}`);
    rules.push(`\\cmidrule(lr){${col}-${col + 3}}`);
    col += 4;
  }
  for (const c of t.comparisons) {
    groups.push(`\\multicolumn{2}{c}{${latexEscape(t.runs[c.b].label)} $-$ ${latexEscape(t.runs[c.a].label)}}`);
    rules.push(`\\cmidrule(lr){${col}-${col + 1}}`);
    col += 2;
  }
  const sub = [
    'Benchmark',
    ...t.runs.flatMap(() => ['Acc.\\ (\\%) [95\\% CI]', '$n$', 'Err./TO', 'Tools']),
    ...t.comparisons.flatMap(() => ['$\\Delta$ (pts)', '$p$']),
  ];
  const body: string[] = [];
  for (const b of t.benchmarks) {
    if (b === t.pooled) body.push('\\midrule');
    const cells = [`${latexEscape(b)}${flagsOf(t, b).length ? '$^\\dagger$' : ''}`];
    t.runs.forEach((_, run) => cells.push(...runCells(cellAt(t, b, run), '--').map(latexEscape)));
    for (const c of t.comparisons) {
      const [diff, p] = comparisonCells(comparisonAt(t, c.b, b), '--');
      cells.push(latexSigned(diff), latexP(p));
    }
    body.push(`${cells.join(' & ')} \\\\`);
  }
  return [
    comment(legend(t)),
    ...settingsLines(t).map(comment),
    `\\begin{tabular}{${spec}}`,
    '\\toprule',
    ` & ${groups.join(' & ')} \\\\`,
    rules.join(' '),
    `${sub.join(' & ')} \\\\`,
    '\\midrule',
    ...body,
    '\\bottomrule',
    '\\end{tabular}',
    ...t.flags.map((f) => comment(`† ${f.benchmark}: ${f.message}`)),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180), one row per benchmark and run
// ---------------------------------------------------------------------------------------------

const CSV_HEAD = [
  'benchmark',
  'run',
  'path',
  ...SETTING_FIELDS.map(([f]) => f),
  'n',
  'correct',
  'accuracy',
  'ci_low',
  'ci_high',
  'errors',
  'timeouts',
  'skipped',
  'mean_tool_calls',
  'baseline',
  'paired',
  'diff',
  'mcnemar_method',
  'mcnemar_statistic',
  'p_value',
  'correct_to_wrong',
  'wrong_to_correct',
  'flags',
];

const csvField = (v: string | number | undefined) => {
  const s = v === undefined ? '' : typeof v === 'number' ? String(Number(v.toPrecision(6))) : v;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

function tableCsv(t: ResultsTable): string {
  const lines = [CSV_HEAD.join(',')];
  for (const b of t.benchmarks)
    t.runs.forEach((r, run) => {
      const c = cellAt(t, b, run);
      if (!c) return;
      const cmp = run > 0 ? comparisonAt(t, run, b) : undefined;
      const flags = flagsOf(t, b).filter((f) => f.kind === 'differs' || f.run === run);
      const values = [
        b,
        r.label,
        r.path,
        ...SETTING_FIELDS.map(([f]) => c.settings[f]),
        c.n,
        c.correct,
        c.accuracy,
        c.ci?.[0],
        c.ci?.[1],
        c.errors,
        c.timeouts,
        c.skipped,
        c.meanToolCalls,
        ...(cmp ? comparisonCsv(t, cmp) : ['', '', '', '', '', '', '', '']),
        flags.map((f) => f.message).join('; '),
      ];
      lines.push(values.map(csvField).join(','));
    });
  return lines.join('\r\n') + '\r\n';
}

function comparisonCsv(t: ResultsTable, c: BenchmarkComparison): (string | number | undefined)[] {
  return [t.runs[0].label, c.paired, c.diff, c.test.method, c.test.statistic, c.test.p, c.test.b, c.test.c];
}
