/**
 * `codedance train`'s text output: the key metrics a step per row (fixed columns, so rows
 * printed one at a time while following line up), the validation points, the alarms, a rollout
 * summary per row, and JSON with NaN/±Infinity kept (as the strings "NaN", "Infinity", "-Infinity").
 */
import { KEY_METRICS, toolCallCount, withDerived, type Alarm, type Rollout, type StepMetrics } from '../core/runs';

/** A number in 4 significant digits; nan/inf as verl prints them; '' when absent. */
export function fmtNum(v: number | undefined): string {
  if (v === undefined) return '';
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(+v.toPrecision(4));
}

const COLUMNS = [{ key: 'step', label: 'STEP' }, ...KEY_METRICS, { key: 'val-core/acc', label: 'val_acc' }];
const width = (label: string) => Math.max(label.length, label === 'STEP' ? 5 : 8);

function line(cells: string[]): string {
  return cells
    .map((c, i) => (i === 0 ? c.padEnd(width(COLUMNS[i].label)) : c.padStart(width(COLUMNS[i].label))))
    .join(' ')
    .trimEnd();
}

export function metricsHeader(): string {
  return line(COLUMNS.map((c) => c.label));
}

export function metricsRow(s: StepMetrics): string {
  const v = withDerived(s.values);
  return line([String(s.step), ...COLUMNS.slice(1).map((c) => fmtNum(v[c.key]))]);
}

/** `validation at step N: key=value, …` for a step with `val-core/*` values, else undefined. */
export function validationLine(s: StepMetrics): string | undefined {
  const keys = Object.keys(s.values)
    .filter((k) => k.startsWith('val-core/'))
    .sort();
  if (!keys.length) return undefined;
  return `validation at step ${s.step}: ${keys.map((k) => `${k}=${fmtNum(s.values[k])}`).join(', ')}`;
}

export function alarmLines(alarms: Alarm[]): string[] {
  const out: string[] = [];
  for (const a of alarms) {
    out.push(`ALARM ${a.kind} (step ${a.step}): ${a.message}`);
    if (a.detail) out.push(...a.detail.split('\n').map((l) => `    ${l}`));
  }
  return out;
}

/** One line of text, at most `n` characters. */
function short(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

export function rolloutTable(rs: Rollout[]): string[] {
  const head = ['STEP', 'IDX', 'SCORE', 'ACC', 'TOOLS', 'TOOL_OK', 'FORMAT', 'IMAGES', 'SOURCE', 'ANSWER'];
  const num = (x: unknown) => (typeof x === 'number' ? fmtNum(x) : '');
  const rows = rs.map((r) => [
    String(r.step),
    String(r.index),
    fmtNum(r.score),
    num(r.fields.acc),
    String(toolCallCount(r)),
    num(r.fields.tool_success_rate),
    num(r.fields.format_r),
    String(r.images.length),
    r.dataSource ?? (typeof r.fields.data_source === 'string' ? r.fields.data_source : ''),
    short(typeof r.fields.answer === 'string' ? r.fields.answer : (/<answer>([\s\S]*?)<\/answer>/.exec(r.output)?.[1] ?? ''), 40),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows].map((r) =>
    r
      .map((c, i) => (i >= 2 && i <= 7 ? c.padStart(w[i]) : c.padEnd(w[i])))
      .join('  ')
      .trimEnd(),
  );
}

/** JSON text in which NaN and ±Infinity survive as strings (JSON itself has no such numbers). */
export function toJson(x: unknown, indent?: number): string {
  return JSON.stringify(x, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), indent);
}
