/**
 * The seed's training reward (`llm_judge_qwen_tool_step.py`, `compute_score_batch`) for one
 * trajectory, by the eval's own scoring functions (score.ts: `answerAndFormat`,
 * `rewardParts`, `toolCallScores`), never a second implementation. The trainer scores the whole
 * rollout response (every reply and every `<tool_response>` after the prompt), so the text here
 * is the trajectory's messages after its prompt in the dataset cards' form (protocol/sftText.ts): the
 * tool part (tool_step, tool_success_rate) and format_r need nothing else; acc, score and
 * tool_reward_component need acc, which comes from the eval's verdict (the judge's or the math
 * check's) or, for a chat answer with a known ground truth that the eval did not judge, from the
 * eval's `--no-judge` rule (`normalizedAcc`), and is left out when there is no ground truth.
 * No node built-ins here.
 */
import { answerAndFormat, normalizedAcc, rewardParts, scorerFor, toolCallScores } from './score';
import type { ChatMessage } from '../protocol/types';
import type { Trajectory } from '../trajectory/types';
import { toSftMessages } from '../protocol/sftText';

export interface TrajectoryReward {
  data_source: string;
  /** where acc came from: the eval's verdict, or the `--no-judge` rule against a known ground truth */
  accFrom?: 'eval' | 'normalized-match';
  acc?: number;
  score?: number;
  tool_reward_component?: number;
  format_r: number;
  tool_step: number[];
  tool_success_rate: number | null;
  /** each `<tool_response>`'s own score in order: −0.5 for a failed call, else 0 */
  perCall: number[];
  /** cell id → its call's score, when the calls map one to one onto the trajectory's cells */
  cells?: Record<string, number>;
}

function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c))
    return c
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('');
  return '';
}

/** The reward of a response text (the rollout after the prompt); acc absent: only the parts that need none. */
export function responseReward(
  dataSource: string,
  response: string,
  acc?: { value: number; from: TrajectoryReward['accFrom'] },
): TrajectoryReward {
  const scorer = scorerFor(dataSource);
  const fmt = answerAndFormat(scorer, response);
  const parts = rewardParts(scorer, response, acc?.value ?? 0, fmt.formatError);
  const r: TrajectoryReward = {
    data_source: dataSource,
    format_r: parts.format_r,
    tool_step: parts.tool_step,
    tool_success_rate: parts.tool_success_rate,
    perCall: toolCallScores(response),
  };
  if (acc) Object.assign(r, { accFrom: acc.from, acc: parts.acc, score: parts.score, tool_reward_component: parts.tool_reward_component });
  return r;
}

/** The rollout text of messages: every message after the prompt, as the dataset rows hold them, joined by newlines. */
export function responseText(messages: readonly ChatMessage[], promptLength: number): string {
  let sft;
  try {
    sft = toSftMessages(messages.slice(promptLength)).messages;
  } catch {
    // an image that is not inline (a file ref): the text is what counts here
    sft = messages.slice(promptLength).map((m) => ({ content: contentText(m.content) }));
  }
  return sft.map((m) => m.content).join('\n');
}

/** The index of this exchange's first reply in its messages (a follow-up's messages hold the earlier exchanges). */
function promptLength(t: Pick<Trajectory, 'messages' | 'turns'>): number {
  const own = t.turns.filter((x) => !x.discarded).length;
  const assistants = t.messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  return own > 0 && assistants.length >= own ? assistants[assistants.length - own] : t.messages.length;
}

/** The cells (and malformed calls) in the order their `<tool_response>`s follow (runAgent's observation order). */
function callOrder(t: Pick<Trajectory, 'turns'>): (string | undefined)[] {
  return t.turns.filter((x) => !x.discarded).flatMap((x) => [...x.cells.map((c) => c.id), ...x.malformed.map(() => undefined)]);
}

export interface RewardContext {
  dataSource?: string;
  /** the eval's acc for this trajectory's answer */
  acc?: number;
}

/**
 * The reward of one trajectory; undefined when it has no reply yet. acc: the context's (the
 * eval's verdict), else the trajectory's reference (an eval sample opened in the chat: its verdict
 * while the answer is the one it judged, else the `--no-judge` rule against its ground truth).
 */
export function trajectoryReward(
  t: Pick<Trajectory, 'messages' | 'turns' | 'reference'>,
  o: RewardContext = {},
): TrajectoryReward | undefined {
  if (!t.turns.some((x) => !x.discarded)) return undefined;
  const cut = promptLength(t);
  const response = responseText(t.messages, cut);
  const ref = t.reference;
  const dataSource = o.dataSource ?? ref?.dataSource ?? '';
  let acc: { value: number; from: TrajectoryReward['accFrom'] } | undefined;
  if (o.acc !== undefined) acc = { value: o.acc, from: 'eval' };
  else if (ref) {
    const last = t.messages
      .slice(cut)
      .filter((m) => m.role === 'assistant')
      .pop();
    const answer = answerAndFormat(scorerFor(dataSource), contentText(last?.content)).answer;
    if (ref.judged && answer !== undefined && answer === ref.judged.answer) acc = { value: ref.judged.acc, from: 'eval' };
    else
      acc = { value: answer === undefined ? 0 : normalizedAcc(scorerFor(dataSource), answer, ref.groundTruth), from: 'normalized-match' };
  }
  const r = responseReward(dataSource, response, acc);
  const order = callOrder(t);
  if (order.length === r.perCall.length) {
    r.cells = {};
    order.forEach((id, i) => {
      if (id !== undefined) r.cells![id] = r.perCall[i];
    });
  }
  return r;
}
