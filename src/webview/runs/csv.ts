/**
 * The run view's metrics as CSV (pure: the unit tests run it in Node): one row per run and step,
 * the columns `run, step, hours, seen_at` and then every metric key of any run (sorted), values as
 * verl printed them (`nan`, `inf`, `-inf` for the non-finite ones), empty where a step lacks a key.
 * Fields are quoted as RFC 4180 says (a comma, a quote or a line break inside).
 */
import type { StepMetrics } from '../../core/runs/types';
import { allKeys, xValues, type RunSeriesInput } from './series';

function field(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A metric value as the CSV holds it: the number, or nan / inf / -inf. */
export function csvNumber(v: number | undefined): string {
  if (v === undefined) return '';
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return String(v);
}

function hours(steps: StepMetrics[]): (number | null)[] {
  return xValues(steps, 'time');
}

export function metricsCsv(runs: RunSeriesInput[]): string {
  const keys = allKeys(runs);
  const rows = [['run', 'step', 'hours', 'seen_at', ...keys].map(field).join(',')];
  for (const r of runs) {
    const h = hours(r.steps);
    r.steps.forEach((s, i) => {
      const cells = [
        r.label,
        String(s.step),
        h[i] === null ? '' : String(Math.round(h[i]! * 1e6) / 1e6),
        s.seenAt === undefined ? '' : new Date(s.seenAt).toISOString(),
        ...keys.map((k) => csvNumber(s.values[k])),
      ];
      rows.push(cells.map(field).join(','));
    });
  }
  return rows.join('\r\n') + '\r\n';
}

/** A file name for the run(s): their labels, plain characters only. */
export function exportName(runs: { label: string }[], ext: string, what?: string): string {
  const base = runs
    .map((r) => r.label)
    .join('_vs_')
    .replace(/[^\w.@() -]+/g, '_')
    .slice(0, 80);
  return `${base || 'run'}${what ? `_${what.replace(/[^\w.-]+/g, '_').slice(0, 30)}` : ''}.${ext}`;
}
