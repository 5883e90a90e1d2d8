/**
 * `stats_{model}.json`: the seed's fields computed exactly as eval.py does (over every sample
 * it would have kept: all but the skipped rows — unreadable, without an answer, or whose image
 * does not load), plus our additions under `codedance`: how many rows were skipped, how
 * the math rows were checked, and which lines of the results file did not count (each sample
 * index counts once, from its last line: resultsScan.ts).
 */
import type { ResultRecord } from './record';
import { describeSkippedLines, type SkippedLine } from './resultsScan';

/** What the stats read of a result record (`statsInput` keeps only this of a line). */
export type StatsInput = Pick<ResultRecord, 'status' | 'acc' | 'judge_score' | 'try_count' | 'tool_call_count' | 'tool_success_rate'> & {
  codedance?: Partial<ResultRecord['codedance']>;
};

const CODEDANCE_FIELDS = [
  'skipped',
  'error',
  'tool_errors',
  'tool_timeouts',
  'outcome',
  'judge_error',
  'judge_cached',
  'latency_ms',
  'tokens',
  'data_source',
] as const;

/** The fields of a parsed result line the stats read (not its trajectory or images): small enough to keep one per sample. */
export function statsInput(r: Record<string, unknown>): StatsInput {
  const c = r.codedance as Record<string, unknown> | undefined;
  const error = c?.error as { name?: unknown } | undefined;
  const codedance = c
    ? Object.fromEntries(CODEDANCE_FIELDS.filter((k) => c[k] !== undefined).map((k) => [k, k === 'error' ? { name: error?.name } : c[k]]))
    : undefined;
  const { status, acc, judge_score, try_count, tool_call_count, tool_success_rate } = r as unknown as StatsInput;
  return {
    status,
    acc,
    judge_score,
    try_count,
    tool_call_count,
    tool_success_rate,
    ...(codedance ? { codedance: codedance as StatsInput['codedance'] } : {}),
  };
}

export interface SeedStats {
  total_samples: number;
  success_samples: number;
  success_rate: number;
  avg_acc: number;
  avg_judge_score: number;
  avg_try_count: number;
  avg_reasoning_turns: number;
  tool_call_sample_count: number;
  avg_code_exec_success_rate: number;
  model_name: string;
  data_source: string;
}

export interface ExtraStats {
  dataset: string;
  scoring: 'llm-judge' | 'no-judge (normalized exact match; not comparable with judged numbers)';
  /** rows recorded as skipped and left out of the seed's fields (see each line's codedance.error) */
  skipped_samples: number;
  /** by reason: BadRow (unreadable, no question or answer), ImageLoadError */
  skipped_by_reason: Record<string, number>;
  /** the math rows' symbolic check: "math check: math_verify …" or "math check: approximate (…)"; absent when no math row was scored */
  math_check?: string;
  correct: number;
  per_source: Record<string, { n: number; acc: number; correct: number }>;
  by_try_count: Record<string, { correct: number; incorrect: number }>;
  turns_histogram: Record<string, number>;
  tool_calls_histogram: Record<string, number>;
  tool_calls: number;
  tool_error_rate: number;
  tool_timeout_rate: number;
  sample_error_rate: number;
  sample_timeout_rate: number;
  judge_errors: number;
  judge_cache_hits: number;
  latency_ms: { p50: number; p90: number; p99: number; mean: number; max: number };
  tokens: { prompt: number; completion: number; total: number; per_sample: number };
  outcomes: Record<string, number>;
  /** lines of the results file that did not count (absent when every line did): not JSON, no
   * sample index, or a sample written again on a later line (the last counts); at most 100 listed */
  skipped_lines?: { count: number; note: string; lines: SkippedLine[] };
}

export interface Stats extends SeedStats {
  codedance: ExtraStats;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** `counts[key]` one more */
function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class StatsAccumulator {
  private n = 0;
  private skipped = 0;
  private skippedBy: Record<string, number> = {};
  private success = 0;
  private acc = 0;
  private correct = 0;
  private judge = 0;
  private tries = 0;
  private toolSamples = 0;
  private toolRateSum = 0;
  private toolCalls = 0;
  private toolErrors = 0;
  private toolTimeouts = 0;
  private errors = 0;
  private timeouts = 0;
  private judgeErrors = 0;
  private cacheHits = 0;
  private latencies: number[] = [];
  private tokens = { prompt: 0, completion: 0, total: 0 };
  private perSource: Record<string, { n: number; acc: number; correct: number }> = {};
  private byTry: Record<string, { correct: number; incorrect: number }> = {};
  private turnsHist: Record<string, number> = {};
  private toolHist: Record<string, number> = {};
  private outcomes: Record<string, number> = {};

  /** One sample (each index once: a results file is read through resultsScan.ts). */
  add(r: StatsInput): void {
    const c = r.codedance ?? {};
    if (c.skipped) {
      this.skipped++;
      bump(this.skippedBy, c.error?.name ?? 'skipped');
      bump(this.outcomes, 'skipped');
      return;
    }
    this.n++;
    this.addScore(r, c);
    this.addTools(r, c);
    this.addRun(r, c);
    bump(this.turnsHist, String(r.try_count));
    bump(this.toolHist, String(r.tool_call_count));
    bump(this.outcomes, c.outcome ?? r.status);
  }

  /** success, accuracy, judge score and tries, overall, per data source and per try count */
  private addScore(r: StatsInput, c: NonNullable<StatsInput['codedance']>): void {
    if (r.status === 'success') this.success++;
    this.acc += r.acc ?? 0;
    if (r.acc === 1) this.correct++;
    this.judge += r.judge_score ?? 0;
    this.tries += r.try_count ?? 0;
    const ps = (this.perSource[c.data_source ?? 'default'] ??= { n: 0, acc: 0, correct: 0 });
    ps.n++;
    ps.acc += r.acc ?? 0;
    if (r.acc === 1) ps.correct++;
    const bt = (this.byTry[String(r.try_count)] ??= { correct: 0, incorrect: 0 });
    if (r.acc === 1) bt.correct++;
    else bt.incorrect++;
  }

  /** code executions: samples with any, their success rate, errors and timeouts */
  private addTools(r: StatsInput, c: NonNullable<StatsInput['codedance']>): void {
    if ((r.tool_call_count ?? 0) > 0) {
      this.toolSamples++;
      this.toolRateSum += r.tool_success_rate ?? 0;
    }
    this.toolCalls += r.tool_call_count ?? 0;
    this.toolErrors += c.tool_errors ?? 0;
    this.toolTimeouts += c.tool_timeouts ?? 0;
  }

  /** how the sample ran: timeouts, errors, the judge, latency and tokens */
  private addRun(r: StatsInput, c: NonNullable<StatsInput['codedance']>): void {
    if (c.outcome === 'timeout') this.timeouts++;
    if (r.status === 'error') this.errors++;
    if (c.judge_error) this.judgeErrors++;
    if (c.judge_cached) this.cacheHits++;
    if (c.latency_ms !== undefined) this.latencies.push(c.latency_ms);
    if (c.tokens) {
      this.tokens.prompt += c.tokens.prompt;
      this.tokens.completion += c.tokens.completion;
      this.tokens.total += c.tokens.total;
    }
  }

  get count(): number {
    return this.n;
  }
  get correctCount(): number {
    return this.correct;
  }
  get errorCount(): number {
    return this.errors;
  }
  get skippedCount(): number {
    return this.skipped;
  }

  finish(meta: {
    modelName: string;
    dataSource: string;
    dataset: string;
    judged: boolean;
    mathCheck?: string;
    skippedLines?: readonly SkippedLine[];
  }): Stats {
    const skippedLines = meta.skippedLines ?? [];
    const n = this.n;
    const div = (a: number, b: number) => (b > 0 ? a / b : 0);
    const lat = [...this.latencies].sort((a, b) => a - b);
    const perSource = Object.fromEntries(
      Object.entries(this.perSource).map(([k, v]) => [k, { n: v.n, acc: div(v.acc, v.n), correct: v.correct }]),
    );
    return {
      total_samples: n,
      success_samples: this.success,
      success_rate: div(this.success, n),
      avg_acc: div(this.acc, n),
      avg_judge_score: div(this.judge, n),
      avg_try_count: div(this.tries, n),
      avg_reasoning_turns: div(this.tries, n),
      tool_call_sample_count: this.toolSamples,
      avg_code_exec_success_rate: div(this.toolRateSum, this.toolSamples),
      model_name: meta.modelName,
      data_source: meta.dataSource,
      codedance: {
        dataset: meta.dataset,
        scoring: meta.judged ? 'llm-judge' : 'no-judge (normalized exact match; not comparable with judged numbers)',
        skipped_samples: this.skipped,
        skipped_by_reason: this.skippedBy,
        ...(meta.mathCheck ? { math_check: meta.mathCheck } : {}),
        correct: this.correct,
        per_source: perSource,
        by_try_count: this.byTry,
        turns_histogram: this.turnsHist,
        tool_calls_histogram: this.toolHist,
        tool_calls: this.toolCalls,
        tool_error_rate: div(this.toolErrors, this.toolCalls),
        tool_timeout_rate: div(this.toolTimeouts, this.toolCalls),
        sample_error_rate: div(this.errors, n),
        sample_timeout_rate: div(this.timeouts, n),
        judge_errors: this.judgeErrors,
        judge_cache_hits: this.cacheHits,
        latency_ms: {
          p50: percentile(lat, 50),
          p90: percentile(lat, 90),
          p99: percentile(lat, 99),
          mean: div(
            lat.reduce((a, b) => a + b, 0),
            lat.length,
          ),
          max: lat.length ? lat[lat.length - 1] : 0,
        },
        tokens: { ...this.tokens, per_sample: div(this.tokens.total, n) },
        outcomes: this.outcomes,
        ...(skippedLines.length
          ? { skipped_lines: { count: skippedLines.length, note: describeSkippedLines(skippedLines)!, lines: skippedLines.slice(0, 100) } }
          : {}),
      },
    };
  }
}
