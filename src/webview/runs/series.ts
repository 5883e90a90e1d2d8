/**
 * The run view's charts as data (pure: no DOM, the unit tests run it in Node): which metric keys
 * each chart of the first screen shows, each run's x values (the step, or hours of training),
 * every chart's series aligned on one x axis for uPlot (gaps as null), the tool-call counts as
 * shares of `actor/cnt_total`, the EMA smoothing TensorBoard uses (debiased at the start), and the
 * checkpoints' evals as points at their steps (one series per dataset, its numbers for the hover).
 */
import type { StepMetrics } from '../../core/runs/types';
import type { CheckpointEvalSeries } from '../../protocol/runs';

export type XMode = 'step' | 'time';

/** One line of a chart: a metric key, optionally divided by another key of the same step. */
export interface LineSpec {
  key: string;
  /** the legend's name for it (default: the key) */
  label?: string;
  /** plotted as key / per (a share), e.g. actor/cnt_tool_call_correct / actor/cnt_total */
  per?: string;
  /** the right-hand axis (a ratio beside a length) */
  right?: boolean;
}

export interface ChartSpec {
  id: string;
  title: string;
  lines: LineSpec[];
  /** every key with this prefix, as points (validation runs every test_freq steps) */
  prefix?: string;
  points?: boolean;
  /** the chart was added by the user (it can be removed) */
  added?: boolean;
  /** the runs' checkpoint evals drawn on it as points, a series per dataset */
  evals?: boolean;
}

const TOOL_COUNTS = ['cnt_tool_call_correct', 'cnt_tool_call_incorrect', 'cnt_no_tool_call_correct', 'cnt_no_tool_call_incorrect'];

/** The first screen (issue #23): what researchers watch in a CodeDance RL run. */
export const DEFAULT_CHARTS: ChartSpec[] = [
  { id: 'score', title: 'Reward · critic/score/mean', lines: [{ key: 'critic/score/mean' }] },
  { id: 'acc', title: 'Accuracy · actor/acc, checkpoint evals (points)', lines: [{ key: 'actor/acc' }], evals: true },
  { id: 'tool-success', title: 'Tool success rate · actor/tool_success_rate', lines: [{ key: 'actor/tool_success_rate' }] },
  { id: 'format', title: 'Format score · actor/format_score', lines: [{ key: 'actor/format_score' }] },
  { id: 'turns', title: 'Turns per rollout · actor/mean_num_turns', lines: [{ key: 'actor/mean_num_turns' }] },
  {
    id: 'length',
    title: 'Response length · response_length/mean, clip_ratio (right)',
    lines: [{ key: 'response_length/mean' }, { key: 'response_length/clip_ratio', right: true }],
  },
  {
    id: 'tool-use',
    title: 'Tool use × correctness · share of actor/cnt_total',
    lines: TOOL_COUNTS.map((k) => ({ key: `actor/${k}`, per: 'actor/cnt_total', label: k.replace(/^cnt_/, '').replaceAll('_', ' ') })),
  },
  { id: 'val', title: 'Validation · val-core/*', lines: [], prefix: 'val-core/', points: true },
];

/** The keys the first screen already shows (the key picker offers the others first). */
export function shownKeys(charts: ChartSpec[], keys: string[]): Set<string> {
  const out = new Set<string>();
  for (const c of charts) {
    for (const l of c.lines) out.add(l.key);
    if (c.prefix) for (const k of keys) if (k.startsWith(c.prefix)) out.add(k);
  }
  return out;
}

/** A chart of one key the user picked. */
export function keyChart(key: string): ChartSpec {
  return { id: `key:${key}`, title: key, lines: [{ key }], added: true, points: key.startsWith('val-') };
}

/**
 * Each step's x: the step number, or hours of training. Hours come from the sum of
 * `timing_s/step` up to the step (verl times every step), else from when the line was read
 * (`seenAt`, a live run), measured from the first step; null when neither is known.
 */
export function xValues(steps: StepMetrics[], mode: XMode): (number | null)[] {
  if (mode === 'step') return steps.map((s) => s.step);
  if (steps.some((s) => Number.isFinite(s.values['timing_s/step']))) {
    let total = 0;
    return steps.map((s) => {
      const t = s.values['timing_s/step'];
      if (Number.isFinite(t)) total += t;
      return total / 3600;
    });
  }
  const t0 = steps.find((s) => s.seenAt !== undefined)?.seenAt;
  return steps.map((s) => (t0 === undefined || s.seenAt === undefined ? null : (s.seenAt - t0) / 3_600_000));
}

/** One step's value of a line: the key's value, or its share of `per`; null when missing or not finite. */
export function lineValue(s: StepMetrics, line: LineSpec): number | null {
  const v = s.values[line.key];
  if (v === undefined || !Number.isFinite(v)) return null;
  if (!line.per) return v;
  const d = s.values[line.per];
  return d === undefined || !Number.isFinite(d) || d === 0 ? null : v / d;
}

/**
 * Exponential moving average over the values in order, nulls skipped (kept as null), debiased as
 * TensorBoard does so that the first points are not pulled towards 0. `weight` 0: the values.
 */
export function smooth(values: (number | null)[], weight: number): (number | null)[] {
  if (!(weight > 0)) return values.slice();
  const w = Math.min(weight, 0.999);
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null) return null;
    last = last * w + (1 - w) * v;
    n++;
    return last / (1 - w ** n);
  });
}

/** A run as the charts see it. */
export interface RunSeriesInput {
  id: string;
  label: string;
  steps: StepMetrics[];
  evals?: CheckpointEvalSeries[];
}

export interface SeriesData {
  run: string;
  runIndex: number;
  /** the line's index in its chart (its colour); a prefix chart's keys in order */
  lineIndex: number;
  label: string;
  key: string;
  right: boolean;
  points: boolean;
  /** the unsmoothed values of a smoothed line (drawn faint, kept out of the legend) */
  raw: boolean;
  values: (number | null)[];
  /** a checkpoint eval series: the legend's text at each x (accuracy, samples, scoring), null where none */
  hover?: (string | null)[];
}

export interface ChartData {
  /** the union of every run's x values, ascending */
  xs: number[];
  series: SeriesData[];
  /** for each run: step → x, to place checkpoint marks */
  xOfStep: Map<string, Map<number, number>>;
}

/** The lines of a chart given the keys the runs have (a prefix chart: each key under it). */
export function chartLines(spec: ChartSpec, keys: string[]): LineSpec[] {
  if (!spec.prefix) return spec.lines;
  return keys.filter((k) => k.startsWith(spec.prefix!)).map((k) => ({ key: k, label: k.slice(spec.prefix!.length) }));
}

/**
 * A chart's data: every run × line as a series over the union of the runs' x values (null where
 * a run has no value), with a faint raw series beside each smoothed line when smoothing is on.
 */
export function chartData(spec: ChartSpec, runs: RunSeriesInput[], opts: { x: XMode; smoothing: number; keys: string[] }): ChartData {
  const lines = chartLines(spec, opts.keys);
  const perRun = runs.map((r) => {
    const xs = xValues(r.steps, opts.x);
    const xOfStep = new Map<number, number>();
    r.steps.forEach((s, i) => xs[i] !== null && xOfStep.set(s.step, xs[i]!));
    return { r, xs, xOfStep };
  });
  const runXs = perRun.flatMap((p) => p.xs.filter((x): x is number => x !== null));
  const xs = [...new Set(spec.evals ? [...runXs, ...evalXs(perRun, opts.x)] : runXs)].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const series: SeriesData[] = [];
  perRun.forEach(({ r, xs: rx }, runIndex) => {
    lines.forEach((line, lineIndex) => {
      const own = r.steps.map((s) => lineValue(s, line));
      const smoothed = spec.points ? own : smooth(own, opts.smoothing);
      const spread = (vals: (number | null)[]) => {
        const out: (number | null)[] = new Array(xs.length).fill(null);
        vals.forEach((v, i) => {
          const x = rx[i];
          if (x !== null) out[at.get(x)!] = v;
        });
        return out;
      };
      if (!own.some((v) => v !== null)) return;
      const base = { run: r.id, runIndex, lineIndex, key: line.key, right: !!line.right, points: !!spec.points };
      const label = `${runs.length > 1 ? `${r.label} · ` : ''}${line.label ?? line.key}`;
      if (!spec.points && opts.smoothing > 0) series.push({ ...base, label: `${label} (raw)`, raw: true, values: spread(own) });
      series.push({ ...base, label, raw: false, values: spread(smoothed) });
    });
  });
  if (spec.evals) series.push(...evalSeries(runs, perRun, xs, opts.x, lines.length));
  return { xs, series, xOfStep: new Map(perRun.map((p) => [p.r.id, p.xOfStep])) };
}

/** An eval point's x: its step, or (hours) the x of that step of the run's metrics; undefined when not known. */
function evalX(step: number, mode: XMode, xOfStep: Map<number, number>): number | undefined {
  return mode === 'step' ? step : xOfStep.get(step);
}

/** The x values the runs' checkpoint evals add (a step the metrics have not reached yet). */
function evalXs(runs: { r: RunSeriesInput; xOfStep: Map<number, number> }[], mode: XMode): number[] {
  return runs.flatMap(({ r, xOfStep }) =>
    (r.evals ?? []).flatMap((s) => s.points.map((p) => evalX(p.step, mode, xOfStep)).filter((x): x is number => x !== undefined)),
  );
}

/** The legend's text of one eval point. */
export function evalHover(p: CheckpointEvalSeries['points'][number]): string {
  return `${Number(p.accuracy.toPrecision(4))} · n ${p.n}${p.judged ? '' : ' · no judge'}`;
}

/** Each run's evals as point series (a dataset's colour the same in every run), placed on the chart's xs. */
function evalSeries(
  runs: RunSeriesInput[],
  perRun: { r: RunSeriesInput; xOfStep: Map<number, number> }[],
  xs: number[],
  mode: XMode,
  firstLine: number,
): SeriesData[] {
  const at = new Map(xs.map((x, i) => [x, i]));
  const datasets = [...new Set(runs.flatMap((r) => (r.evals ?? []).map((s) => s.dataset)))];
  return perRun.flatMap(({ r, xOfStep }, runIndex) =>
    (r.evals ?? []).flatMap((s) => {
      const values: (number | null)[] = new Array(xs.length).fill(null);
      const hover: (string | null)[] = new Array(xs.length).fill(null);
      for (const p of s.points) {
        const x = evalX(p.step, mode, xOfStep);
        const i = x === undefined ? undefined : at.get(x);
        if (i === undefined) continue;
        values[i] = p.accuracy;
        hover[i] = evalHover(p);
      }
      if (!values.some((v) => v !== null)) return [];
      const label = `${runs.length > 1 ? `${r.label} · ` : ''}eval ${s.dataset}`;
      const lineIndex = firstLine + datasets.indexOf(s.dataset);
      return [{ run: r.id, runIndex, lineIndex, label, key: `eval:${s.dataset}`, right: false, points: true, raw: false, values, hover }];
    }),
  );
}

/** Every key of the runs, sorted. */
export function allKeys(runs: RunSeriesInput[]): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const s of r.steps) for (const k of Object.keys(s.values)) keys.add(k);
  return [...keys].sort();
}

/**
 * Merges newly read steps into a run's steps (ascending by step): a step seen again is replaced
 * by the newer line (a run resumed from a checkpoint prints the steps after it again).
 */
export function mergeSteps(steps: StepMetrics[], incoming: StepMetrics[]): StepMetrics[] {
  if (!incoming.length) return steps;
  const last = steps.at(-1)?.step ?? -Infinity;
  if (incoming.every((s, i) => s.step > (i ? incoming[i - 1].step : last))) return steps.concat(incoming);
  const byStep = new Map(steps.map((s) => [s.step, s]));
  for (const s of incoming) byStep.set(s.step, s);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}
