/**
 * The seed's training reward for a dataset row (reward.ts, on the eval's scoring functions):
 *  - an eval results line: the whole rollout of its trajectory (or the seed's `output` text when
 *    the line has none) with the eval's acc;
 *  - an SFT row: its response (every message after the first user message): tool_step,
 *    tool_success_rate and format_r. acc and score need the judge and a ground truth, which an
 *    SFT row does not carry: left out, and said so.
 */
import type { Trajectory, TrajectoryReference } from '../trajectory/types';
import { responseReward, trajectoryReward, type TrajectoryReward } from './reward';

export interface RowReward extends TrajectoryReward {
  source: 'eval' | 'response';
  note?: string;
}

function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c))
    return c
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('');
  return '';
}

export function rowReward(row: Record<string, unknown>): RowReward | undefined {
  const cd = row.codedance as { data_source?: unknown; trajectory?: Partial<Trajectory> } | undefined;
  if (typeof row.acc === 'number' && row.judge_result && typeof row.judge_result === 'object') {
    const dataSource = typeof cd?.data_source === 'string' ? cd.data_source : '';
    const t = cd?.trajectory;
    const note = 'the training reward of the whole rollout, with the eval’s acc (the eval itself scores only the last assistant message)';
    if (t && Array.isArray(t.messages) && Array.isArray(t.turns)) {
      const r = trajectoryReward(t as Trajectory, { dataSource, acc: row.acc });
      if (r) return { ...r, source: 'eval', note };
    }
    return {
      ...responseReward(dataSource, typeof row.output === 'string' ? row.output : '', { value: row.acc, from: 'eval' }),
      source: 'eval',
      note,
    };
  }
  const msgs = row.messages;
  if (!Array.isArray(msgs)) return undefined;
  const first = msgs.findIndex((m) => (m as { role?: unknown })?.role === 'user');
  const response = msgs
    .slice(first + 1)
    .map((m) => contentText((m as { content?: unknown })?.content))
    .join('\n');
  if (!response.includes('<tool_response>')) return undefined;
  return {
    ...responseReward('', response),
    source: 'response',
    note: 'acc and score need the judge and a ground truth (not in an SFT row)',
  };
}

/**
 * What a row knows about its question's correct answer, for a chat asked from it: an RL row's
 * `reward_model.ground_truth` (else `extra_info.answer`) and `data_source`; an eval results line's
 * `ground_truth` with the eval's verdict on the answer it judged. Undefined without one (an SFT row).
 */
export function rowReference(row: Record<string, unknown>, origin: string): TrajectoryReference | undefined {
  const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v : typeof v === 'number' ? String(v) : undefined);
  const cd = obj(row.codedance);
  const gt = str(obj(row.reward_model).ground_truth) ?? str(obj(row.extra_info).answer) ?? str(row.ground_truth);
  if (gt === undefined) return undefined;
  const dataSource = str(row.data_source) ?? str(cd.data_source) ?? '';
  const judged = str(obj(row.judge_result).answer);
  return {
    groundTruth: gt,
    dataSource,
    origin,
    judged: typeof row.acc === 'number' && judged !== undefined ? { answer: judged, acc: row.acc } : undefined,
  };
}
