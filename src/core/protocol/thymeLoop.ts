/**
 * The loop of Thyme's evaluation (yfzhang114/Thyme eval/VLMEvalKit/vlmeval/vlm/thyme/model.py
 * 244-485 at b9285b7), replayed over the model calls a run has made so far: which generation
 * and iteration the next call is, the assistant message it continues, and the final answer.
 * Pure: the state is the run's own record (RunView), so one adapter serves every run.
 *
 * The repository's loop: up to 5 generations (`max_retry`, config.py 693), each from the
 * question again, with a fresh sandbox context, the first at the run's temperature and the
 * others at 1.0 (407); in each, up to 5 model calls (`max_iterations`, 692), every one
 * continuing the same assistant message (add_generation_prompt only on the first, 287-294). A
 * call whose `<code>` block the sandbox gives nothing for is dropped (its iteration spent,
 * 339-343); one with neither a block nor `</answer>` ends the generation (369-374); one with
 * `</answer>` ends the run (385-388). After 5 generations without an answer a plain prompt is
 * asked once (414-449).
 */
import {
  SANDBOX_OUTPUT_CLOSE,
  SANDBOX_OUTPUT_OPEN,
  THYME_NO_ANSWER,
  THYME_SIMPLE_SYSTEM_PROMPT,
  thymeCode,
  thymePromptParts,
  thymeSimplePrompt,
  pyStripText,
} from './thymePrompt';
import type { ChatMessage, ContentPart, RequestPlan, RunView, TurnView } from './types';

/** config.py 692-693 (`Thyme-7B`: max_iterations=5, max_retry=5) */
export const THYME_MAX_ITERATIONS = 5;
export const THYME_MAX_GENERATIONS = 5;
/** every model call the loop can make: 5 generations of 5, and the plain prompt */
export const THYME_MAX_CALLS = THYME_MAX_ITERATIONS * THYME_MAX_GENERATIONS + 1;
/** model.py 366/373/407: the temperature of the generations after the first */
export const THYME_RETRY_TEMPERATURE = 1.0;

export interface ThymeState {
  /** `loop`: a generation goes on; `fallback`: the next call is the plain prompt; `done`: answered */
  phase: 'loop' | 'fallback' | 'done';
  /** 0-based generation of the next call */
  generation: number;
  /** model calls already made in this generation */
  iteration: number;
  /** the assistant message this generation has made so far (its text, sandbox outputs) */
  parts: ContentPart[];
}

/** What one model call did to the conversation (model.py 316-388). */
type Step = { kind: 'kept' | 'answer'; parts: ContentPart[] } | { kind: 'failed' } | { kind: 'break' };

const text = (t: string): ContentPart => ({ type: 'text', text: t });

/** The parts between the sandbox tags for a cell: its images, else what it printed (model.py 350-359). */
function sandboxParts(cell: TurnView['cells'][number]): ContentPart[] {
  if (cell.images.length) return cell.images.map((im) => ({ type: 'image_url', image_url: { url: `data:${im.mime};base64,${im.data}` } }));
  return [text(pyStripText(cell.stdout))];
}

export function thymeStep(turn: TurnView): Step {
  const segment = turn.content ?? '';
  const answered = segment.includes('</answer>');
  if (thymeCode(segment) !== undefined) {
    const cell = turn.cells[0];
    if (!cell || cell.status !== 'ok') return { kind: 'failed' };
    // a reply with `</answer>` AND a block is appended twice (316-320, then 346-349), as there
    const parts = [
      ...(answered ? [text(segment)] : []),
      text(segment),
      text(SANDBOX_OUTPUT_OPEN),
      ...sandboxParts(cell),
      text(SANDBOX_OUTPUT_CLOSE),
    ];
    return { kind: answered ? 'answer' : 'kept', parts };
  }
  return answered ? { kind: 'answer', parts: [text(segment)] } : { kind: 'break' };
}

/** The state after `turns` (the calls made so far, in order). */
export function thymeState(turns: readonly TurnView[]): ThymeState {
  let s: ThymeState = { phase: 'loop', generation: 0, iteration: 0, parts: [] };
  for (const turn of turns) {
    if (s.phase !== 'loop') {
      s = { ...s, phase: 'done' };
      continue;
    }
    const step = thymeStep(turn);
    s.iteration++;
    if (step.kind === 'kept' || step.kind === 'answer') s.parts = [...s.parts, ...step.parts];
    if (step.kind === 'answer') s.phase = 'done';
    else if (step.kind === 'break' || s.iteration >= THYME_MAX_ITERATIONS) {
      const generation = s.generation + 1;
      s = { phase: generation >= THYME_MAX_GENERATIONS ? 'fallback' : 'loop', generation, iteration: 0, parts: [] };
    }
  }
  return s;
}

/** The text of an assistant message (its text parts, joined as they are: model.py 454-461). */
export function thymeText(parts: readonly ContentPart[]): string {
  return parts.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

/** model.py 204-221, `_extract_box_answer`: what follows the last `\boxed{`, to its closing brace */
function extractBoxAnswer(response: string): string {
  const resp = response.split('\\boxed{').at(-1) ?? '';
  let counter = 1;
  for (let i = 0; i < resp.length; i++) {
    if (resp[i] === '{') counter++;
    else if (resp[i] === '}') counter--;
    if (counter === 0) return resp.slice(0, i);
    if (i === resp.length - 1) return resp;
  }
  return response;
}

/** model.py 464-483: the first `<answer>…</answer>` of the text, stripped, `\boxed{}` unwrapped */
export function thymeAnswer(finalResponse: string): string {
  const m = /<answer>([\s\S]*?)<\/answer>/.exec(finalResponse);
  const answer = m ? pyStripText(m[1]) : THYME_NO_ANSWER;
  // re.search(r'\\boxed\{(.*?)\}', final_answer): `.` is anything but a newline there
  return /\\boxed\{[^\n]*?\}/.test(answer) ? extractBoxAnswer(answer) : answer;
}

/** model.py 445-449: the plain prompt's reply, wrapped in `<answer>` tags when it has none */
export function thymeWrapFallback(reply: string): string {
  return /<answer>[\s\S]*?<\/answer>/.test(reply) ? reply : `<answer>${reply}</answer>`;
}

/** The messages before this run's first kept reply (system and question, or a follow-up's history). */
export function thymePrefix(run: RunView): ChatMessage[] {
  const kept = run.turns.filter((t) => !t.discarded).length;
  const assistantAt = run.messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  const start = kept > 0 && assistantAt.length >= kept ? assistantAt[assistantAt.length - kept] : run.messages.length;
  return run.messages.slice(0, start);
}

/** The question message of the run (its last user message before the replies). */
export function thymeQuestionMessage(prefix: readonly ChatMessage[]): { images: ContentPart[]; prompt: string } {
  const user = [...prefix].reverse().find((m) => m.role === 'user');
  const parts: ContentPart[] = typeof user?.content === 'string' ? [text(user.content)] : (user?.content ?? []);
  return { images: parts.filter((p) => p.type === 'image_url'), prompt: thymeText(parts) };
}

/** vLLM's sampling parameters beyond the OpenAI ones: model.py 82-91 and the stop strings kept in the reply (as transformers' stop_strings keep them) */
export const THYME_EXTRA = { top_k: 1, repetition_penalty: 1.0, include_stop_str_in_output: true };

/**
 * The next request: the question, and this generation's assistant message to go on with
 * (`continue_final_message`, what model.py 287-294 does by cutting the trailing `<|im_end|>\n`);
 * after 5 generations, the plain prompt without stop strings (414-443).
 */
export function thymeRequest(run: RunView): RequestPlan | undefined {
  const s = thymeState(run.turns);
  const prefix = thymePrefix(run);
  if (s.phase === 'done') return undefined;
  if (s.phase === 'fallback') return { messages: fallbackMessages(run, prefix), sampling: { stop: undefined }, extra: THYME_EXTRA };
  const messages: ChatMessage[] = s.parts.length ? [...prefix, { role: 'assistant', content: s.parts }] : [...prefix];
  const extra = s.iteration > 0 ? { ...THYME_EXTRA, add_generation_prompt: false, continue_final_message: true } : THYME_EXTRA;
  return { messages, ...(s.generation > 0 ? { sampling: { temperature: THYME_RETRY_TEMPERATURE } } : {}), extra };
}

/** model.py 414-443: the plain prompt, asked once after 5 generations without an answer (the question's images, no history) */
function fallbackMessages(run: RunView, prefix: readonly ChatMessage[]): ChatMessage[] {
  const q = thymeQuestionMessage(prefix);
  const question = thymePromptParts(q.prompt)?.question ?? run.question;
  return [
    { role: 'system', content: THYME_SIMPLE_SYSTEM_PROMPT },
    { role: 'user', content: [...q.images, text(thymeSimplePrompt(question))] },
  ];
}

/**
 * The run as Thyme's own record of it (the `messages` model.py holds when it returns): the
 * question, then the last generation's ONE assistant message — each kept reply, each sandbox
 * output inside it between `<sandbox_output>` tags, the answer last — or, when the run ended on
 * the plain prompt, that prompt and its reply. A run without an answer: its generation so far.
 * Earlier generations and dropped replies are not in it: the repository starts each generation
 * from the question again (268-273) and never sends a dropped reply back (338-343).
 */
export function thymeConversation(run: RunView): ChatMessage[] {
  const prefix = thymePrefix(run);
  const last = run.turns.at(-1);
  if (last && thymeState(run.turns.slice(0, -1)).phase === 'fallback')
    return [...fallbackMessages(run, prefix), { role: 'assistant', content: last.content }];
  const s = thymeState(run.turns);
  return s.parts.length ? [...prefix, { role: 'assistant', content: s.parts }] : [...prefix];
}
