/**
 * `seedFields(trajectory)`: the fields of the seed's result line (eval/eval.py `save_info`) that
 * come from the run, derived from the trajectory alone: `pred_ans`, `input`, `output`,
 * `multi_modal_data`, `try_count` and the tool-call counts, plus the per-sample figures our
 * `codedance` fields add. A result record stores the trajectory; these are recomputed from it.
 */
import type { ChatMessage, ContentPart } from '../protocol/types';
import type { Trajectory } from '../trajectory/types';

export interface SeedRunFields {
  question: string;
  pred_ans: string;
  input: string;
  output: string;
  multi_modal_data: { image: string[] };
  try_count: number;
  tool_call_count: number;
  tool_success_count: number;
  tool_success_rate: number | null;
}

export interface RunFigures {
  toolErrors: number;
  toolTimeouts: number;
  modelMs: number;
  execMs: number;
  endpoints: string[];
}

const SUCCESS_ERROR_STRINGS = ['Code executed successfully. No explicit output or figures produced.', 'Error', 'timeout', 'Exception'].map(
  (s) => s.toLowerCase(),
);

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

/**
 * The observation messages that answered each turn (turn index → messages): the messages after
 * the turn's assistant message up to the next one. Turns map to the last assistant messages in
 * order (a follow-up's history holds earlier ones before them); a discarded turn has none.
 */
export function turnObservations(t: Trajectory): Map<number, ChatMessage[]> {
  const assistantAt = t.messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  const kept = t.turns.filter((x) => !x.discarded);
  const base = assistantAt.length - kept.length;
  const out = new Map<number, ChatMessage[]>();
  if (base < 0) return out;
  kept.forEach((turn, k) => {
    const from = assistantAt[base + k] + 1;
    const to = assistantAt[base + k + 1] ?? t.messages.length;
    if (to > from) out.set(turn.index, t.messages.slice(from, to));
  });
  return out;
}

/** The seed's run fields and our per-sample figures, from the trajectory. */
export function seedFields(t: Trajectory): SeedRunFields & { figures: RunFigures } {
  const images: string[] = t.inputImages.map((im) => im.data); // eval.py: the input as bare base64
  const observations = turnObservations(t);
  // eval.py's print_messages: system text, user text (image part omitted), then per model call
  const system = t.messages[0]?.role === 'system' ? messageText(t.messages[0]) : '';
  const user = t.messages[1]?.role === 'user' ? messageText(t.messages[1]) : '';
  const lines: string[] = [`system\n${system}`, `user\n${user}`];
  const f: RunFigures = {
    toolErrors: 0,
    toolTimeouts: 0,
    modelMs: 0,
    execMs: 0,
    endpoints: [...new Set(t.turns.map((x) => x.endpoint).filter(Boolean))],
  };
  let toolCalls = 0;
  let toolSuccess = 0;
  for (const turn of t.turns) {
    f.modelMs += turn.latencyMs;
    lines.push(`assistant\n${turn.content}`);
    const obs = observations.get(turn.index) ?? [];
    turn.cells.forEach((c, k) => {
      toolCalls++;
      f.execMs += c.durationMs ?? 0;
      if (seedToolSuccess(obs[k] ? messageText(obs[k]) : '', c.stderr)) toolSuccess++;
      if (c.status === 'timeout') f.toolTimeouts++;
      else if (c.status !== 'ok') f.toolErrors++;
      for (const im of c.images) images.push(`data:image/png;base64,${im.data}`); // eval.py labels every figure image/png
    });
    // eval.py wraps the tool response in <tool_response> once more for its printout
    for (const m of obs) lines.push(`user\n<tool_response>\n${messageText(m)}\n</tool_response>`);
  }
  return {
    question: t.question,
    pred_ans: t.turns.length ? t.turns[t.turns.length - 1].content : '',
    input: '',
    output: lines.join('\n'),
    multi_modal_data: { image: images },
    try_count: t.turns.length,
    tool_call_count: toolCalls,
    tool_success_count: toolSuccess,
    tool_success_rate: toolCalls > 0 ? toolSuccess / toolCalls : null,
    figures: f,
  };
}
