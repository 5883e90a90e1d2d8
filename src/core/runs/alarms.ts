/**
 * Alarms over a run's metric series: what researchers watch for (codedance-rl-runs.md §4), each
 * with the step and the numbers that triggered it. Pure: the caller passes the time, whether the
 * job runs, its end state and the log's tail. The rules and their thresholds: docs/runs.md.
 */
import { toolUse } from './keyMetrics';
import { exceptionLine, lastTraceback } from './traceback';
import type { Alarm, AlarmThresholds, RunMetrics, StepMetrics } from './types';

export const DEFAULT_THRESHOLDS: AlarmThresholds = {
  toolUseCollapseRatio: 0.25,
  earlySteps: 50,
  toolSuccessDrop: 0.2,
  formatDrop: 0.2,
  clipRatio: 0.1,
  hangFactor: 5,
};

/** an early mean needs at least this many steps before the step it is compared with */
export const MIN_EARLY_STEPS = 3;

/** Keys whose NaN/inf means the run is broken: the reward, the losses, the gradient. */
export const NAN_KEYS = [
  'critic/score/mean',
  'critic/rewards/mean',
  'critic/advantages/mean',
  'critic/returns/mean',
  'actor/pg_loss',
  'actor/grad_norm',
  'actor/entropy',
  'actor/kl_loss',
  'actor/pg_clipfrac',
  'actor/ppo_kl',
  'critic/vf_loss',
  'critic/grad_norm',
] as const;

export interface AlarmContext {
  /** Unix ms */
  now: number;
  /** the job runs (a hang is only a hang while it does) */
  running: boolean;
  /** the job's state: a terminal one raises `job-ended` */
  job?: { status: string; exitCode?: number };
  /** the end of the log, for the traceback of a job that died */
  logTail?: string;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'STOPPED']);

interface Point {
  step: number;
  v: number;
}

/** `pick` over the steps, finite values only. */
function series(steps: readonly StepMetrics[], pick: (values: Record<string, number>) => number | undefined): Point[] {
  const out: Point[] = [];
  for (const s of steps) {
    const v = pick(s.values);
    if (v !== undefined && Number.isFinite(v)) out.push({ step: s.step, v });
  }
  return out;
}

interface EarlyVsLast {
  mean: number;
  from: number;
  to: number;
  last: Point;
}

/** The mean of the first `earlySteps` points (never the last one) and the last point. */
function earlyVsLast(points: Point[], t: AlarmThresholds): EarlyVsLast | undefined {
  const n = Math.min(Math.max(1, Math.floor(t.earlySteps)), points.length - 1);
  if (n < MIN_EARLY_STEPS) return undefined;
  const early = points.slice(0, n);
  return { mean: early.reduce((a, p) => a + p.v, 0) / n, from: early[0].step, to: early[n - 1].step, last: points[points.length - 1] };
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3).replace(/\.?0+$/, ''));
const pct = (x: number) => `${+(x * 100).toFixed(1)} %`;

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${+(s / 3600).toFixed(1)} h`;
}

function toolUseCollapse(m: RunMetrics, t: AlarmThresholds): Alarm[] {
  // one measure throughout: the share when the last step has the counts, else calls per rollout
  let source: string | undefined;
  for (let i = m.steps.length - 1; i >= 0 && !source; i--) source = toolUse(m.steps[i].values)?.source;
  const points = series(m.steps, (v) => {
    const u = toolUse(v);
    return u && u.source === source ? u.value : undefined;
  });
  const e = earlyVsLast(points, t);
  if (!e || !(e.mean > 0) || e.last.v >= t.toolUseCollapseRatio * e.mean) return [];
  return [
    {
      kind: 'tool-use-collapse',
      step: e.last.step,
      message: `tool use collapsing: ${source} ${fmt(e.last.v)} at step ${e.last.step}, ${fmt(e.mean)} in steps ${e.from}–${e.to} (threshold: below ${pct(t.toolUseCollapseRatio)} of the early mean)`,
      values: { value: e.last.v, earlyMean: e.mean, ratio: e.last.v / e.mean, threshold: t.toolUseCollapseRatio },
    },
  ];
}

/** `key`'s last value `drop` (absolute) or more below its early mean. */
function fallingBelowEarly(m: RunMetrics, t: AlarmThresholds, key: string, drop: number): EarlyVsLast | undefined {
  const e = earlyVsLast(
    series(m.steps, (v) => v[key]),
    t,
  );
  return e && e.last.v < e.mean - drop ? e : undefined;
}

function toolSuccessFalling(m: RunMetrics, t: AlarmThresholds): Alarm[] {
  const e = fallingBelowEarly(m, t, 'actor/tool_success_rate', t.toolSuccessDrop);
  if (!e) return [];
  return [
    {
      kind: 'tool-success-falling',
      step: e.last.step,
      message: `tool success rate falling: ${fmt(e.last.v)} at step ${e.last.step}, ${fmt(e.mean)} in steps ${e.from}–${e.to} (threshold: ${fmt(t.toolSuccessDrop)} below the early mean)`,
      values: { value: e.last.v, earlyMean: e.mean, drop: e.mean - e.last.v, threshold: t.toolSuccessDrop },
    },
  ];
}

function formatErrorsRising(m: RunMetrics, t: AlarmThresholds): Alarm[] {
  const e = fallingBelowEarly(m, t, 'actor/format_score', t.formatDrop);
  if (!e) return [];
  return [
    {
      kind: 'format-errors-rising',
      step: e.last.step,
      message: `format errors rising: format score ${fmt(e.last.v)} at step ${e.last.step}, ${fmt(e.mean)} in steps ${e.from}–${e.to} (threshold: ${fmt(t.formatDrop)} below the early mean)`,
      values: { value: e.last.v, earlyMean: e.mean, drop: e.mean - e.last.v, threshold: t.formatDrop },
    },
  ];
}

function lengthClipped(m: RunMetrics, t: AlarmThresholds): Alarm[] {
  const last = series(m.steps, (v) => v['response_length/clip_ratio']).at(-1);
  if (!last || last.v <= t.clipRatio) return [];
  const s = m.steps.find((x) => x.step === last.step)!;
  const max = s.values['response_length/max'];
  return [
    {
      kind: 'length-clipped',
      step: last.step,
      message: `${pct(last.v)} of responses cut at the length cap at step ${last.step}${Number.isFinite(max) ? ` (longest ${fmt(max)} tokens)` : ''} (threshold: above ${pct(t.clipRatio)})`,
      values: { clipRatio: last.v, threshold: t.clipRatio, ...(Number.isFinite(max) && { maxLength: max }) },
    },
  ];
}

function nanValues(m: RunMetrics): Alarm[] {
  const hit = m.steps.filter((s) => NAN_KEYS.some((k) => k in s.values && !Number.isFinite(s.values[k])));
  if (!hit.length) return [];
  const last = hit[hit.length - 1];
  const keys = NAN_KEYS.filter((k) => k in last.values && !Number.isFinite(last.values[k]));
  return [
    {
      kind: 'nan',
      step: last.step,
      message: `${keys.map((k) => `${k} = ${String(last.values[k])}`).join(', ')} at step ${last.step}${hit.length > 1 ? ` (${hit.length} steps with NaN/inf, the first at step ${hit[0].step})` : ''}`,
      values: { firstStep: hit[0].step, steps: hit.length },
    },
  ];
}

/** The median time of one step: from when consecutive lines were read live, else verl's `timing_s/step`. */
export function medianStepMs(steps: readonly StepMetrics[]): number | undefined {
  const per: number[] = [];
  for (let i = 1; i < steps.length; i++) {
    const a = steps[i - 1];
    const b = steps[i];
    // lines read in one catch-up share a time: only a later reading tells a step's duration
    if (a.seenAt !== undefined && b.seenAt !== undefined && b.seenAt > a.seenAt) per.push((b.seenAt - a.seenAt) / (b.step - a.step));
  }
  if (per.length < 2) {
    per.length = 0;
    for (const s of steps) if (s.values['timing_s/step'] > 0) per.push(s.values['timing_s/step'] * 1000);
  }
  if (!per.length) return undefined;
  per.sort((x, y) => x - y);
  const mid = per.length >> 1;
  return per.length % 2 ? per[mid] : (per[mid - 1] + per[mid]) / 2;
}

function hang(m: RunMetrics, t: AlarmThresholds, ctx: AlarmContext): Alarm[] {
  if (!ctx.running) return [];
  let last: StepMetrics | undefined;
  for (const s of m.steps) if (s.seenAt !== undefined && (!last || s.seenAt >= last.seenAt!)) last = s;
  const median = medianStepMs(m.steps);
  if (!last || median === undefined) return [];
  const silent = ctx.now - last.seenAt!;
  const limit = t.hangFactor * median;
  if (silent <= limit) return [];
  return [
    {
      kind: 'hang',
      step: last.step,
      message: `no metric line for ${duration(silent)} since step ${last.step} while the job runs (median step ${duration(median)}; threshold: ${fmt(t.hangFactor)}× that, ${duration(limit)})`,
      values: { silentMs: silent, medianStepMs: median, threshold: t.hangFactor },
    },
  ];
}

function jobEnded(m: RunMetrics, ctx: AlarmContext): Alarm[] {
  const job = ctx.job;
  if (!job || !TERMINAL.has(job.status)) return [];
  const step = m.steps.at(-1)?.step ?? 0;
  // a finished job's log may hold a worker's harmless warning traceback: only a failed or stopped job's is its cause
  const tb = ctx.logTail && job.status !== 'SUCCEEDED' ? lastTraceback(ctx.logTail) : undefined;
  const exit = job.exitCode !== undefined ? ` (exit ${job.exitCode})` : '';
  const after = m.steps.length ? ` after step ${step}` : ' before its first step';
  return [
    {
      kind: 'job-ended',
      step,
      message: `the job ${job.status === 'SUCCEEDED' ? 'finished' : `ended ${job.status}`}${exit}${after}${tb ? `: ${exceptionLine(tb)}` : ''}`,
      values: { ...(job.exitCode !== undefined && { exitCode: job.exitCode }), lastStep: step },
      ...(tb && { detail: tb }),
    },
  ];
}

/** Every alarm the run raises now. */
export function evaluateAlarms(metrics: RunMetrics, t: AlarmThresholds, ctx: AlarmContext): Alarm[] {
  return [
    ...toolUseCollapse(metrics, t),
    ...toolSuccessFalling(metrics, t),
    ...formatErrorsRising(metrics, t),
    ...lengthClipped(metrics, t),
    ...nanValues(metrics),
    ...hang(metrics, t, ctx),
    ...jobEnded(metrics, ctx),
  ];
}
