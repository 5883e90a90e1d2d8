/**
 * The metrics a CodeDance run is watched by (the seed's trainer adds the `actor/*` ones on top of
 * verl's: codedance-rl-runs.md §1), and the shares derived from its rollout counts.
 */

export interface KeyMetric {
  /** a key of the metric line, or a derived `share/…` key (toolCallShares) */
  key: string;
  /** a short column label */
  label: string;
}

/** The four rollout counts of the seed's trainer, each as a share of `actor/cnt_total`. */
export const TOOL_CALL_COUNTS = [
  'actor/cnt_tool_call_correct',
  'actor/cnt_tool_call_incorrect',
  'actor/cnt_no_tool_call_correct',
  'actor/cnt_no_tool_call_incorrect',
] as const;

export const KEY_METRICS: readonly KeyMetric[] = [
  { key: 'critic/score/mean', label: 'score' },
  { key: 'actor/acc', label: 'acc' },
  { key: 'actor/tool_success_rate', label: 'tool_ok' },
  { key: 'actor/format_score', label: 'format' },
  { key: 'actor/mean_num_turns', label: 'turns' },
  { key: 'response_length/mean', label: 'resp_len' },
  { key: 'response_length/clip_ratio', label: 'clipped' },
  { key: 'share/tool_call_correct', label: 'tool+ok' },
  { key: 'share/tool_call_incorrect', label: 'tool+bad' },
  { key: 'share/no_tool_call_correct', label: 'none+ok' },
  { key: 'share/no_tool_call_incorrect', label: 'none+bad' },
];

/** `share/<count>`: each of the four counts over `actor/cnt_total` (absent when the step has no counts). */
export function toolCallShares(values: Record<string, number>): Record<string, number> {
  const total = values['actor/cnt_total'];
  const out: Record<string, number> = {};
  if (!(total > 0)) return out;
  for (const k of TOOL_CALL_COUNTS) if (k in values) out[`share/${k.slice('actor/cnt_'.length)}`] = values[k] / total;
  return out;
}

/**
 * How much the step's rollouts used the tool: the share of rollouts with a tool call
 * ((correct + incorrect with a call) / total), else verl's `tool_call_counts/mean` (calls per
 * rollout). `source` names which, so a message can say what was measured.
 */
export function toolUse(values: Record<string, number>): { value: number; source: string } | undefined {
  const total = values['actor/cnt_total'];
  const a = values['actor/cnt_tool_call_correct'];
  const b = values['actor/cnt_tool_call_incorrect'];
  if (total > 0 && Number.isFinite(a) && Number.isFinite(b))
    return { value: (a + b) / total, source: 'share of rollouts with a tool call' };
  const calls = values['tool_call_counts/mean'];
  if (Number.isFinite(calls)) return { value: calls, source: 'tool calls per rollout' };
  return undefined;
}

/** A step's values with the derived shares added: what a table or chart of the key metrics reads. */
export function withDerived(values: Record<string, number>): Record<string, number> {
  return { ...values, ...toolCallShares(values) };
}
