/**
 * The seed's training reward (llm_judge_qwen_tool_step.py) for a dataset row, computed by the
 * eval's own scoring functions (eval/score.ts), never a second implementation:
 *  - an eval results line: its `judge_result` as the eval scored it (acc, format_r, tool_step,
 *    tool_success_rate, tool_reward_component, score);
 *  - an SFT row: the tool part from its response (every message after the first user message,
 *    as the trainer's rollout text): tool_step and tool_success_rate. acc and score need the
 *    judge and a ground truth, which an SFT row does not carry: left out, and said so.
 * `perCall` is each `<tool_response>`'s own score (−0.5 for a failed call, else 0), recovered
 * from the discounted tool_step list (step_i − 0.2·step_{i+1}).
 */
import { toolRewardStep, toolSuccessRate } from '../eval/score';

export interface RowReward {
  source: 'eval' | 'response';
  acc?: number;
  format_r?: number;
  score?: number;
  tool_step: number[];
  tool_success_rate: number | null;
  tool_reward_component?: number;
  perCall: number[];
  note?: string;
}

const round = (x: number) => Math.round(x * 1e6) / 1e6;

function perCall(steps: number[]): number[] {
  // the last entry is the appended terminal 0; one entry per call before it
  return steps.slice(0, -1).map((s, i) => round(s - 0.2 * steps[i + 1]));
}

function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join('');
  return '';
}

export function rowReward(row: Record<string, unknown>): RowReward | undefined {
  const jr = row.judge_result as Record<string, unknown> | undefined;
  if (jr && typeof jr === 'object' && Array.isArray(jr.tool_step)) {
    const steps = (jr.tool_step as unknown[]).map(Number);
    const num = (k: string) => (typeof jr[k] === 'number' ? (jr[k] as number) : undefined);
    return { source: 'eval', acc: num('acc'), format_r: num('format_r'), score: num('score'), tool_step: steps, tool_success_rate: num('tool_success_rate') ?? null, tool_reward_component: num('tool_reward_component'), perCall: perCall(steps), note: 'as the eval scored it: the seed’s eval scores the last assistant message' };
  }
  const msgs = row.messages;
  if (!Array.isArray(msgs)) return undefined;
  const first = msgs.findIndex((m) => (m as { role?: unknown })?.role === 'user');
  const response = msgs
    .slice(first + 1)
    .map((m) => contentText((m as { content?: unknown })?.content))
    .join('\n');
  if (!response.includes('<tool_response>')) return undefined;
  const steps = toolRewardStep(response);
  return { source: 'response', tool_step: steps, tool_success_rate: toolSuccessRate(response), perCall: perCall(steps), note: 'acc and score need the judge and a ground truth (not in an SFT row)' };
}
