/**
 * `codedance eval table RUN…`: one table across benchmarks and runs (core/eval/tableModel.ts):
 * accuracy with its 95 % interval, n, errors/timeouts and tool calls per benchmark and run; each
 * run after the first against the first on the samples both have (difference, McNemar's p, the
 * samples that flipped); the settings of each run and the rows whose runs differ in one.
 * Printed for a person, or as JSON, Markdown, LaTeX or CSV, to stdout or a file.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomicSync } from '../core/files/atomicWrite';
import { loadResultsTable } from '../core/eval/tableModel';
import {
  cellAt,
  ciText,
  comparisonAt,
  flagsOf,
  legend,
  pText,
  pct,
  renderTable,
  settingsLines,
  signedPts,
  TABLE_FORMATS,
  type TableFormat,
} from '../core/eval/tableExport';
import type { ResultsTable, SampleFlip } from '../core/eval/tableTypes';
import { CliError, EXIT } from './errors';

export const EVAL_TABLE_USAGE = `usage: codedance eval table RUN [RUN…] [--json | --format md|latex|csv] [--out FILE]

  RUN                      an eval output folder (<save path>/<model name>/: result_<model>_<dataset>.jsonl
                           files with their manifests), or one results file
  --json                   the whole table as JSON (every flipped sample included)
  --format F               md (Markdown), latex (a booktabs tabular) or csv (one row per benchmark and run)
  --out FILE               write it to FILE instead of stdout (its extension .md/.tex/.csv/.json picks the
                           format when none is given)
  --flips N                flipped samples listed per benchmark and direction in the printed table (default 20)

Rows are benchmarks: the one a run's manifest names, else each sample's data_source (a sample without
one goes under its dataset's name). Each run after the first is compared with the first on the
samples both have: the difference in accuracy and McNemar's test (exact binomial below 25 differing
samples, else chi-square with continuity correction). Rows whose runs differ in protocol, protocol
prompts, scoring, judge model, max turns, image budget or dataset file are flagged (⚠), as are runs
that do not record one of them.`;

const EXT_FORMAT: Record<string, TableFormat | 'json'> = { '.md': 'md', '.tex': 'latex', '.csv': 'csv', '.json': 'json' };

function parseTableArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        format: { type: 'string' },
        out: { type: 'string' },
        flips: { type: 'string', default: '20' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${EVAL_TABLE_USAGE}`, EXIT.usage);
  }
}

/** What to write: 'json', an export format, or the printed table ('text'). */
function outputFormat(v: ReturnType<typeof parseTableArgs>['values']): TableFormat | 'json' | 'text' {
  if (v.json && v.format) throw new CliError('give --json or --format, not both', EXIT.usage);
  if (v.format !== undefined && !TABLE_FORMATS.includes(v.format as TableFormat))
    throw new CliError(`--format must be one of ${TABLE_FORMATS.join(', ')}, got '${v.format}'`, EXIT.usage);
  if (v.json) return 'json';
  if (v.format) return v.format as TableFormat;
  return (v.out && EXT_FORMAT[path.extname(v.out).toLowerCase()]) || 'text';
}

export async function runEvalTableCli(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseTableArgs(argv);
  if (v.help) {
    console.log(EVAL_TABLE_USAGE);
    return EXIT.ok;
  }
  if (!positionals.length) throw new CliError(`give at least one RUN (an eval output folder)\n\n${EVAL_TABLE_USAGE}`, EXIT.usage);
  const flips = Number(v.flips);
  if (!Number.isInteger(flips) || flips < 0) throw new CliError(`--flips must be a whole number >= 0, got '${v.flips}'`, EXIT.usage);
  const format = outputFormat(v);
  const table = await loadResultsTable(positionals);
  for (const r of table.runs) for (const note of r.notes) process.stderr.write(`warning: ${r.label}: ${note}\n`);
  const text =
    format === 'json' ? JSON.stringify(table, null, 1) + '\n' : format === 'text' ? humanTable(table, flips) : renderTable(table, format);
  if (v.out) {
    writeFileAtomicSync(path.resolve(v.out), text);
    process.stderr.write(`wrote ${path.resolve(v.out)}\n`);
  } else process.stdout.write(text);
  return EXIT.ok;
}

/** Columns padded to their widest cell, two spaces apart. */
function columns(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  return rows.map((r) =>
    r
      .map((c, i) => c + ' '.repeat(widths[i] - [...c].length))
      .join('  ')
      .trimEnd(),
  );
}

/** The table for a terminal: the numbers, the comparisons, the flipped samples, the flags and the settings. */
export function humanTable(t: ResultsTable, maxFlips: number): string {
  const head = ['benchmark', ...t.runs.map((r) => r.label), ...t.comparisons.map((c) => `${t.runs[c.b].label} vs ${t.runs[c.a].label}`)];
  const rows = [head];
  for (const b of t.benchmarks) {
    const cells = [flagsOf(t, b).length ? `${b} ⚠` : b];
    t.runs.forEach((_, run) => {
      const c = cellAt(t, b, run);
      cells.push(
        c ? `${pct(c.accuracy)}% ${ciText(c)} n=${c.n} err ${c.errors}/to ${c.timeouts} tools ${c.meanToolCalls.toFixed(2)}` : '—',
      );
    });
    for (const cmp of t.comparisons) {
      const c = comparisonAt(t, cmp.b, b);
      cells.push(c ? `${signedPts(c.diff)} pts (n=${c.paired}) p=${pText(c.test.p)} ${c.test.method}` : '—');
    }
    rows.push(cells);
  }
  const out = [...columns(rows), '', legend(t)];
  const flipLines = t.comparisons.flatMap((cmp) =>
    cmp.rows
      .filter((r) => r.flips.length)
      .flatMap((r) => [
        `${r.benchmark} (${t.runs[cmp.b].label} vs ${t.runs[cmp.a].label}):`,
        ...(['correct-to-wrong', 'wrong-to-correct'] as const).map(
          (d) =>
            `  ${d.replace(/-to-/, '→')}: ${flipList(
              r.flips.filter((f) => f.direction === d),
              maxFlips,
            )}`,
        ),
      ]),
  );
  if (flipLines.length) out.push('', 'flipped samples (sample index; --json lists every one with its results files):', ...flipLines);
  if (t.flags.length) out.push('', 'not comparable as they stand:', ...t.flags.map((f) => `  ⚠ ${f.benchmark}: ${f.message}`));
  out.push('', 'settings:', ...settingsLines(t).map((l) => `  ${l}`));
  return out.join('\n') + '\n';
}

function flipList(flips: SampleFlip[], max: number): string {
  if (!flips.length) return 'none';
  const shown = flips.slice(0, max).map((f) => f.key);
  if (!shown.length) return String(flips.length);
  return `${flips.length} (${shown.join(', ')}${flips.length > shown.length ? `, … ${flips.length - shown.length} more` : ''})`;
}
