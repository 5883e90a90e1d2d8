/**
 * One result line, with the seed's fields (eval/eval.py `save_info`) computed from the agent's
 * trajectory, plus our additions under `codedance` (never mixed into the seed's fields).
 */
import type { ChatMessage, ContentPart } from '../protocol/types';
import type { CodeCell, Trajectory } from '../trajectory/types';
import type { DatasetSample } from '../data/types';
import type { JudgeResult, ScoreDetail } from './score';

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

/** A trajectory image whose pixels live in `multi_modal_data.image[ref]` (or nowhere: ref -1). */
export interface ImageRef {
  id: string;
  mime: string;
  width?: number;
  height?: number;
  source: string;
  ref: number;
}

export interface StoredCell extends Omit<CodeCell, 'images'> {
  images: ImageRef[];
}

export interface StoredTurn {
  index: number;
  content: string;
  latencyMs: number;
  firstTokenMs?: number;
  endpoint: string;
  retries: number;
  discarded?: boolean;
  usage?: { promptTokens: number; completionTokens: number; totalTokens: number };
  cells: StoredCell[];
  /** the observation text the model got back after this turn (images as "Output image:") */
  observation?: string;
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
  trajectory?: { id: string; model: string; protocol: string; status: string; answer?: string; inputImages: ImageRef[]; turns: StoredTurn[] };
}

export interface ResultRecord extends SeedRecord {
  codedance: CodedanceFields;
}

const SUCCESS_ERROR_STRINGS = ['Code executed successfully. No explicit output or figures produced.', 'Error', 'timeout', 'Exception'].map((s) => s.toLowerCase());

export function messageText(m: ChatMessage): string {
  const c = m.content;
  if (typeof c === 'string' || c === null) return c ?? '';
  return (c as ContentPart[])
    .filter((p): p is Extract<ContentPart, { type: 'text' }> => p.type === 'text')
    .map((p) => p.text)
    .join('\n');
}

/**
 * eval.py's success test for one tool response: none of the error strings (case-insensitive)
 * in its text parts, and no stderr.
 */
export function seedToolSuccess(observationText: string, stderr: string): boolean {
  const t = observationText.toLowerCase();
  return SUCCESS_ERROR_STRINGS.every((s) => !t.includes(s)) && !stderr.trim();
}

export function buildRecord(
  sample: DatasetSample,
  traj: Trajectory,
  observations: Map<number, ChatMessage[]>,
  score: { result: JudgeResult; detail: ScoreDetail } | undefined,
  extra: { attempts: number; timedOut: boolean; latencyMs: number; kernelWaitMs?: number },
): ResultRecord {
  const images: string[] = [];
  const input = traj.inputImages.map((im) => {
    images.push(im.data); // eval.py: the input as bare base64 PNG
    return { id: im.id, mime: im.mime, width: im.width, height: im.height, source: im.source, ref: images.length - 1 };
  });
  // eval.py's print_messages: system text, user text (image part omitted), then per model call
  const system = traj.messages[0] && traj.messages[0].role === 'system' ? messageText(traj.messages[0]) : '';
  const user = traj.messages[1] && traj.messages[1].role === 'user' ? messageText(traj.messages[1]) : '';
  const lines: string[] = [`system\n${system}`, `user\n${user}`];
  let toolCalls = 0;
  let toolSuccess = 0;
  let toolErrors = 0;
  let toolTimeouts = 0;
  let execMs = 0;
  let modelMs = 0;
  const turns: StoredTurn[] = traj.turns.map((t) => {
    modelMs += t.latencyMs;
    lines.push(`assistant\n${t.content}`);
    const obs = observations.get(t.index) ?? [];
    const cells: StoredCell[] = t.cells.map((c, k) => {
      toolCalls++;
      execMs += c.durationMs ?? 0;
      const text = obs[k] ? messageText(obs[k]) : '';
      if (seedToolSuccess(text, c.stderr)) toolSuccess++;
      if (c.status === 'timeout') toolTimeouts++;
      else if (c.status !== 'ok') toolErrors++;
      const refs = c.images.map((im) => {
        images.push(`data:image/png;base64,${im.data}`); // eval.py labels every figure image/png
        return { id: im.id, mime: im.mime, width: im.width, height: im.height, source: im.source, ref: images.length - 1 };
      });
      return { ...c, images: refs };
    });
    const obsText = obs.map(messageText).join('\n');
    // eval.py wraps the tool response in <tool_response> once more for its printout
    for (const m of obs) lines.push(`user\n<tool_response>\n${messageText(m)}\n</tool_response>`);
    return {
      index: t.index,
      content: t.content,
      latencyMs: Math.round(t.latencyMs),
      firstTokenMs: t.firstTokenMs !== undefined ? Math.round(t.firstTokenMs) : undefined,
      endpoint: t.endpoint,
      retries: t.retries,
      discarded: t.discarded,
      usage: t.usage,
      cells,
      observation: obs.length ? obsText : undefined,
    };
  });
  const last = traj.turns.length ? traj.turns[traj.turns.length - 1].content : '';
  const failed = traj.status === 'error' || traj.status === 'cancelled' || extra.timedOut;
  const outcome: CodedanceFields['outcome'] = extra.timedOut ? 'timeout' : traj.status === 'running' ? 'error' : (traj.status as CodedanceFields['outcome']);
  return {
    question: sample.question,
    ground_truth: sample.answer,
    pred_ans: last,
    input: '',
    output: lines.join('\n'),
    multi_modal_data: { image: images },
    status: failed ? 'error' : 'success',
    index: sample.index,
    acc: score?.result.acc ?? 0,
    judge_score: score?.result.score ?? 0,
    judge_result: score?.result ?? {},
    try_count: traj.turns.length,
    tool_call_count: toolCalls,
    tool_success_count: toolSuccess,
    tool_success_rate: toolCalls > 0 ? toolSuccess / toolCalls : null,
    codedance: {
      data_source: sample.dataSource,
      scorer: score?.detail.scorer ?? 'default',
      score_method: score?.detail.method ?? 'judge-error',
      judge_text: score?.detail.judgeText,
      judge_cached: score?.detail.cached,
      judge_error: score?.detail.judgeError,
      verdict_unparsed: score?.detail.unparsed,
      outcome,
      error: extra.timedOut ? { name: 'SampleTimeout', message: `the sample did not finish within its time limit` } : traj.error,
      attempts: extra.attempts,
      turns: traj.turns.length,
      tool_errors: toolErrors,
      tool_timeouts: toolTimeouts,
      latency_ms: Math.round(extra.latencyMs),
      model_ms: Math.round(modelMs),
      exec_ms: Math.round(execMs),
      kernel_wait_ms: extra.kernelWaitMs !== undefined ? Math.round(extra.kernelWaitMs) : undefined,
      tokens: { prompt: traj.usage.promptTokens, completion: traj.usage.completionTokens, total: traj.usage.totalTokens },
      endpoints: [...new Set(traj.turns.map((t) => t.endpoint).filter(Boolean))],
      finished_at: new Date().toISOString(),
      trajectory: { id: traj.id, model: traj.model, protocol: traj.protocol, status: traj.status, answer: traj.answer, inputImages: input, turns },
    },
  };
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
