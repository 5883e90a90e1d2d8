/**
 * One result line: the seed's fields (eval/eval.py `save_info`) derived from the agent's
 * trajectory, plus our additions under `codedance` (never mixed into the seed's fields), the
 * trajectory itself among them.
 */
import { createTrajectory } from '../trajectory/create';
import type { Trajectory } from '../trajectory/types';
import type { DatasetSample } from '../data/types';
import type { JudgeResult, ScoreDetail } from '../reward/score';
import { seedFields } from './seedFields';

/** what eval.py writes per sample */
export interface SeedRecord {
  question: string;
  ground_truth: string;
  pred_ans: string;
  input: string;
  output: string;
  multi_modal_data: { image: string[] };
  status: 'success' | 'error';
  index: number;
  acc: number;
  judge_score: number;
  judge_result: JudgeResult | Record<string, never>;
  try_count: number;
  tool_call_count: number;
  tool_success_count: number;
  tool_success_rate: number | null;
}

export interface CodedanceFields {
  data_source: string;
  scorer: ScoreDetail['scorer'];
  score_method: ScoreDetail['method'];
  judge_text?: string;
  judge_cached?: boolean;
  judge_error?: string;
  verdict_unparsed?: boolean;
  /** trajectory status: answered | max_turns | error | timeout | skipped */
  outcome: 'answered' | 'max_turns' | 'error' | 'timeout' | 'skipped' | 'cancelled';
  error?: { name: string; message: string };
  /** the seed drops a row whose image cannot be loaded; we record it and leave it out of the stats */
  skipped?: boolean;
  attempts: number;
  turns: number;
  tool_errors: number;
  tool_timeouts: number;
  latency_ms: number;
  model_ms: number;
  exec_ms: number;
  /** waiting for a started kernel from the pool */
  kernel_wait_ms?: number;
  tokens: { prompt: number; completion: number; total: number };
  endpoints: string[];
  finished_at: string;
  /**
   * The whole run (schema 2+): messages, turns, cells, sampling; every image payload a file ref
   * into the `images` folder beside the results file (see recordTrajectory.ts). The seed's fields
   * above are derived from it (seedFields.ts). Schema 1 lines hold an older per-turn copy here,
   * read through `recordTrajectory`.
   */
  trajectory?: Trajectory;
}

export interface ResultRecord extends SeedRecord {
  codedance: CodedanceFields;
}

/**
 * A finished sample's result line: the seed's fields derived from the trajectory (seedFields.ts),
 * the score, and the trajectory itself (images still inline: `storeRecordImages` swaps them for
 * files before the line is written).
 */
export function buildRecord(
  sample: DatasetSample,
  traj: Trajectory,
  score: SampleScore,
  extra: { attempts: number; timedOut: boolean; latencyMs: number; kernelWaitMs?: number },
): ResultRecord {
  const { figures, ...seed } = seedFields(traj);
  const failed = traj.status === 'error' || traj.status === 'cancelled' || extra.timedOut;
  const outcome: CodedanceFields['outcome'] = extra.timedOut
    ? 'timeout'
    : traj.status === 'running'
      ? 'error'
      : (traj.status as CodedanceFields['outcome']);
  return {
    question: seed.question,
    ground_truth: sample.answer,
    pred_ans: seed.pred_ans,
    input: seed.input,
    output: seed.output,
    multi_modal_data: seed.multi_modal_data,
    status: failed ? 'error' : 'success',
    index: sample.index,
    ...seedScore(score),
    try_count: seed.try_count,
    tool_call_count: seed.tool_call_count,
    tool_success_count: seed.tool_success_count,
    tool_success_rate: seed.tool_success_rate,
    codedance: {
      data_source: sample.dataSource,
      ...scoreDetail(score),
      outcome,
      error: extra.timedOut ? { name: 'SampleTimeout', message: `the sample did not finish within its time limit` } : traj.error,
      attempts: extra.attempts,
      turns: traj.turns.length,
      tool_errors: figures.toolErrors,
      tool_timeouts: figures.toolTimeouts,
      latency_ms: Math.round(extra.latencyMs),
      model_ms: Math.round(figures.modelMs),
      exec_ms: Math.round(figures.execMs),
      kernel_wait_ms: extra.kernelWaitMs !== undefined ? Math.round(extra.kernelWaitMs) : undefined,
      tokens: { prompt: traj.usage.promptTokens, completion: traj.usage.completionTokens, total: traj.usage.totalTokens },
      endpoints: figures.endpoints,
      finished_at: new Date().toISOString(),
      trajectory: traj,
    },
  };
}

type SampleScore = { result: JudgeResult; detail: ScoreDetail } | undefined;

/** The seed's score fields; no score (the judge failed) scores 0. */
function seedScore(score: SampleScore): Pick<ResultRecord, 'acc' | 'judge_score' | 'judge_result'> {
  return { acc: score?.result.acc ?? 0, judge_score: score?.result.score ?? 0, judge_result: score?.result ?? {} };
}

/** How the sample was scored (scorer, method, the judge's text and troubles). */
function scoreDetail(
  score: SampleScore,
): Pick<CodedanceFields, 'scorer' | 'score_method' | 'judge_text' | 'judge_cached' | 'judge_error' | 'verdict_unparsed'> {
  const d = score?.detail;
  return {
    scorer: d?.scorer ?? 'default',
    score_method: d?.method ?? 'judge-error',
    judge_text: d?.judgeText,
    judge_cached: d?.cached,
    judge_error: d?.judgeError,
    verdict_unparsed: d?.unparsed,
  };
}

/** A trajectory for a sample whose run failed before the loop could make one (kernel start failed, …). */
export function failedTrajectory(
  sample: DatasetSample,
  run: { model: string; endpoints: string[]; protocol: string },
  e: Error,
): Trajectory {
  return createTrajectory({
    id: `failed-${sample.index}`,
    question: sample.question,
    model: run.model,
    endpoints: run.endpoints,
    protocol: run.protocol,
    status: 'error',
    error: { name: e.name, message: e.message },
  });
}

/** A row the seed would drop (its image does not load): recorded, left out of the stats. */
export function skippedRecord(sample: DatasetSample, reason: string): ResultRecord {
  return {
    question: sample.question,
    ground_truth: sample.answer,
    pred_ans: '',
    input: '',
    output: '',
    multi_modal_data: { image: [] },
    status: 'error',
    index: sample.index,
    acc: 0,
    judge_score: 0,
    judge_result: {},
    try_count: 0,
    tool_call_count: 0,
    tool_success_count: 0,
    tool_success_rate: null,
    codedance: {
      data_source: sample.dataSource,
      scorer: 'default',
      score_method: 'no-answer',
      outcome: 'skipped',
      skipped: true,
      error: { name: 'ImageLoadError', message: reason },
      attempts: 0,
      turns: 0,
      tool_errors: 0,
      tool_timeouts: 0,
      latency_ms: 0,
      model_ms: 0,
      exec_ms: 0,
      tokens: { prompt: 0, completion: 0, total: 0 },
      endpoints: [],
      finished_at: new Date().toISOString(),
    },
  };
}
