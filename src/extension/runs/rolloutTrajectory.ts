/**
 * A rollout the trainer dumped (`input`/`output` decoded with skip_special_tokens, the reward
 * fields beside them) as a Trajectory, so that the run view draws it with the chat's renderer and
 * the exporters write it like a chat exchange.
 *
 * What the decoded text looks like (CodeDance's configs/multiturn_config.yaml chat template, with
 * `<|im_start|>`, `<|im_end|>` and the vision tokens stripped): the prompt is
 * `system\n<system prompt>\nuser\n<question>\nassistant\n`; the response is the first assistant
 * turn, then for each tool round `\nuser\n<tool_response>\n…\n</tool_response>` (several for
 * several calls) and `\nassistant\n` before the next turn. The training rollout's last-turn
 * message (`Turn limit reached. …`) is a user turn of its own.
 * The conversation is then read as a dataset row is (core/training-data/rowTrajectory.ts): each
 * assistant turn's code (a `<tool_call>` or a `<code>` block) becomes a cell whose output is the
 * tool response after it.
 */
import { createHash } from 'node:crypto';
import { CODEDANCE_INSTRUCTION } from '../../core/protocol/codedance';
import { CODEDANCE_TOOLS_INSTRUCTION, TURN_LIMIT_MESSAGE } from '../../core/protocol/codedanceTools';
import { IMAGE_TOKEN } from '../../core/protocol/sftText';
import type { ChatMessage } from '../../core/protocol/types';
import type { TrajectoryReward } from '../../core/reward/reward';
import { toolCallCount } from '../../core/runs/rollouts';
import type { Rollout } from '../../core/runs/types';
import { rowTrajectory } from '../../core/training-data/rowTrajectory';
import type { Trajectory } from '../../core/trajectory/types';
import type { RolloutRow } from '../../protocol/runs';

/** The question without the format's instruction after it (the chat adds its own when it is asked again). */
export function bareQuestion(question: string): string {
  for (const instruction of [CODEDANCE_TOOLS_INSTRUCTION, CODEDANCE_INSTRUCTION])
    if (question.endsWith(instruction)) return question.slice(0, -instruction.length).trim();
  return question;
}

/** The decoded prompt's system text and question (the whole prompt when it is not in the chat template's shape). */
export function splitPrompt(input: string): { system?: string; question: string } {
  const m = /^\s*(?:system\n([\s\S]*?)\n)?user\n([\s\S]*?)\n?assistant\n?\s*$/.exec(input);
  if (!m) return { question: input.trim() };
  return { ...(m[1] !== undefined && { system: m[1] }), question: m[2].trim() };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A user turn inside the response: tool responses, or the trainer's turn-limit message (up to the next turn). */
const USER_TURN = new RegExp(
  String.raw`\n?user\n((?:\s*<tool_response>[\s\S]*?</tool_response>)+|${escape(TURN_LIMIT_MESSAGE)})\s*?(?:\nassistant\n|(?=\nuser\n)|\s*$)`,
  'g',
);

/** The response's turns in order: assistant text, then the user turns the rollout fed back. */
export function splitResponse(output: string): { role: 'assistant' | 'user'; content: string }[] {
  const out: { role: 'assistant' | 'user'; content: string }[] = [];
  let at = 0;
  for (const m of output.matchAll(USER_TURN)) {
    const before = output.slice(at, m.index);
    if (before.trim() || !out.length) out.push({ role: 'assistant', content: before.trim() });
    out.push({ role: 'user', content: m[1].trim() });
    at = m.index + m[0].length;
  }
  const rest = output.slice(at);
  if (rest.trim() || !out.length) out.push({ role: 'assistant', content: rest.trim() });
  return out;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/** The reward the trainer computed for the rollout, in the shape the chat's renderer shows (each call's tool_step on its cell). */
export function rolloutReward(r: Rollout, cellIds: string[]): TrajectoryReward {
  const f = r.fields;
  const steps = Array.isArray(f.tool_step) ? f.tool_step.filter((x): x is number => typeof x === 'number') : [];
  const rate = num(f.tool_success_rate);
  const acc = num(f.acc);
  const tool = num(f.tool_reward_component);
  return {
    data_source: r.dataSource ?? '',
    ...(acc !== undefined && { acc }),
    ...(Number.isFinite(r.score) && { score: r.score }),
    ...(tool !== undefined && { tool_reward_component: tool }),
    format_r: num(f.format_r) ?? 0,
    tool_step: steps,
    tool_success_rate: rate !== undefined && Number.isFinite(rate) ? rate : null,
    perCall: steps,
    ...(steps.length && steps.length === cellIds.length && { cells: Object.fromEntries(cellIds.map((id, i) => [id, steps[i]])) }),
  };
}

/** The rollout's chat messages (system, the question with its images, the turns): what an export writes. */
export function rolloutMessages(r: Rollout): ChatMessage[] {
  const { system, question } = splitPrompt(r.input);
  const msgs: ChatMessage[] = [];
  if (system !== undefined) msgs.push({ role: 'system', content: system });
  msgs.push({
    role: 'user',
    content: [
      ...r.images.map((b64) => ({ type: 'image_url' as const, image_url: { url: `data:image/png;base64,${b64}` } })),
      { type: 'text' as const, text: question },
    ],
  });
  for (const t of splitResponse(r.output))
    msgs.push(t.role === 'assistant' ? { role: 'assistant', content: t.content } : { role: 'user', content: t.content });
  return msgs;
}

/** A Trajectory of the rollout: turns, cells (code + the tool response), answer, input images, messages and the trainer's reward. */
export function rolloutTrajectory(r: Rollout, origin: string): { trajectory: Trajectory; reward: TrajectoryReward } {
  const { question } = splitPrompt(r.input);
  const text = (s: string) => s.replaceAll(IMAGE_TOKEN, '');
  const row = {
    messages: [
      { role: 'user', content: IMAGE_TOKEN.repeat(r.images.length) + text(question) },
      ...splitResponse(r.output).map((t) => ({ role: t.role, content: text(t.content) })),
    ],
    images: r.images.map((b64) => `data:image/png;base64,${b64}`),
  };
  const t = rowTrajectory(row, r.index, origin);
  const trajectory: Trajectory = {
    ...t,
    // a tool call's JSON is drawn as its cell (the chat shows function calls the same way); the messages keep it
    turns: t.turns.map((x) => (x.cells.length ? { ...x, content: x.content.replace(/<tool_call>[\s\S]*?<\/tool_call>/g, '').trim() } : x)),
    question: bareQuestion(t.question),
    id: `rollout-${r.step}-${r.index}`,
    model: 'rollout',
    protocol: r.output.includes('<tool_call>') ? 'codedance-tools' : 'codedance',
    maxTurns: t.turns.length,
    messages: rolloutMessages(r),
  };
  const cellIds = trajectory.turns.flatMap((x) => x.cells.map((c) => c.id));
  return { trajectory, reward: rolloutReward(r, cellIds) };
}

/** A short key of the prompt (its text and its input images): the same question at another step has the same one. */
export function promptKey(r: Pick<Rollout, 'input' | 'images'>): string {
  const h = createHash('sha256').update(r.input);
  for (const im of r.images) h.update('\0').update(im);
  return h.digest('hex').slice(0, 16);
}

/** The rollout as a row of the view's list. */
export function rolloutRow(r: Rollout): RolloutRow {
  const f = r.fields;
  const rate = num(f.tool_success_rate);
  const question = bareQuestion(splitPrompt(r.input).question);
  return {
    step: r.step,
    index: r.index,
    dataSource: r.dataSource ?? (typeof f.data_source === 'string' ? f.data_source : '—'),
    score: r.score,
    ...(num(f.acc) !== undefined && { acc: num(f.acc) }),
    ...(num(f.format_r) !== undefined && { format_r: num(f.format_r) }),
    toolCalls: toolCallCount(r),
    ...(rate !== undefined && { tool_success_rate: rate }),
    question: question.length > 300 ? `${question.slice(0, 299)}…` : question,
    promptKey: promptKey(r),
    images: r.images.length,
  };
}
