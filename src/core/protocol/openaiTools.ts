/**
 * `openai-tools`: generic function calling for GPT-4o-class models behind the OpenAI API (or
 * any server with tools and vision). Not a seed format: plain English prompts, one tool
 * `run_python(code)`. The OpenAI API rejects images in `tool` messages, so each tool message
 * carries text only and the images of the turn follow in one `user` message. The final answer
 * is an assistant message without tool calls; `<answer>…</answer>` is used when present,
 * otherwise the whole text.
 */
import type { ExecutionResult } from '../kernel/types';
import { codeFromToolCall, extractAnswerTag, sanitizeToolCall } from './extract';
import { capObservationText, imageDataUrl, kernelDiedMessage, stripAnsi } from './results';
import type {
  AssistantTurn,
  ChatMessage,
  CodeRequest,
  ContentPart,
  ObservationContext,
  ObservationInput,
  ParsedTurn,
  ProtocolAdapter,
} from './types';

export const RUN_PYTHON = 'run_python';

export const OPENAI_TOOLS_SYSTEM_PROMPT = [
  'You are a careful visual reasoning assistant. You can run Python code with the `run_python` tool to inspect images and compute exact answers.',
  '',
  "The tool runs your code in a persistent Jupyter kernel: variables, imports and files are kept between calls. The question's image is preloaded as the PIL Image `input_image` (all images, when there are several, as the list `input_images`) and saved in the working directory as `input_image.jpg`. PIL, numpy and matplotlib are available. Results come back as text (what the code prints, and errors) and as images (from plt.show(), Image.show(), or an image as the last expression of the code).",
  '',
  'Work step by step: look at the image, measure or compute with code when it helps, check the results, and call the tool again when they are not enough. When you are done, reply without calling the tool and give the final answer, as short as possible, inside <answer></answer>.',
].join('\n');

export const RUN_PYTHON_DESCRIPTION =
  'Run Python code in a persistent Jupyter kernel and return its printed output, errors and images. The input image is available as the PIL Image `input_image` and as the file input_image.jpg.';
export const RUN_PYTHON_CODE_DESCRIPTION =
  'Complete Python code to run. Print the values you need; show images with plt.show() or Image.show().';

export const RUN_PYTHON_TOOL = {
  type: 'function',
  function: {
    name: RUN_PYTHON,
    description: RUN_PYTHON_DESCRIPTION,
    parameters: {
      type: 'object',
      properties: { code: { type: 'string', description: RUN_PYTHON_CODE_DESCRIPTION } },
      required: ['code'],
    },
  },
} as const;

export const LAST_TURN_MESSAGE = 'This is your last turn: do not call the tool again. Give your final answer now inside <answer></answer>.';
export const NO_OUTPUT_TEXT = 'The code ran successfully and printed nothing. Use print() to see values.';

/** Longest stdout/stderr/traceback sent back, in characters; the middle is cut beyond it. */
export const MAX_OUTPUT_CHARS = 20_000;

function clip(s: string, max = MAX_OUTPUT_CHARS): string {
  if (s.length <= max) return s;
  const keep = Math.floor(max / 2);
  return `${s.slice(0, keep)}\n… (${s.length - 2 * keep} characters cut) …\n${s.slice(-keep)}`;
}

/** The text of one tool result. */
export function openaiToolResultText(result: ExecutionResult, timeoutMs: number | undefined): string {
  const blocks: string[] = [];
  const stdout = result.stdout.trimEnd();
  const stderr = result.stderr.trimEnd();
  if (stdout.trim()) blocks.push(`stdout:\n${clip(stdout)}`);
  if (stderr.trim()) blocks.push(`stderr:\n${clip(stderr)}`);
  const n = result.images.length;
  if (n) blocks.push(`${n} image${n === 1 ? '' : 's'} produced; ${n === 1 ? 'it follows' : 'they follow'} in the next message.`);
  const e = result.error;
  switch (result.status) {
    case 'ok':
      if (!blocks.length) blocks.push(NO_OUTPUT_TEXT);
      break;
    case 'timeout':
      blocks.push(
        `Error: the code did not finish${timeoutMs !== undefined ? ` within ${timeoutMs / 1000} s` : ' in time'} and was interrupted. ${result.restarted ? 'The kernel had to be restarted: variables from earlier cells are gone.' : 'Variables defined before the interruption are kept.'}`,
      );
      break;
    case 'died':
      blocks.push(`Error: ${kernelDiedMessage(e?.evalue)}.`);
      break;
    default: {
      if (!e) {
        blocks.push('Error: the execution failed without an error message.');
        break;
      }
      const line = e.lineno !== undefined ? ` (line ${e.lineno})` : '';
      let text = `Error: ${e.ename}: ${e.evalue}${line}`;
      const tb = stripAnsi(e.traceback.join('\n')).trim();
      if (tb) text += `\n${clip(tb, 4000)}`;
      blocks.push(text);
    }
  }
  return blocks.join('\n\n');
}

function malformedMessage(reason: 'unknown-tool' | 'bad-json' | 'no-code', detail: string): string {
  switch (reason) {
    case 'no-code':
      return `Error: ${RUN_PYTHON} was called without code. Call it with {"code": "<python source>"}.`;
    case 'unknown-tool':
      return `Error: there is no tool named '${detail}'. The only tool is ${RUN_PYTHON}.`;
    case 'bad-json':
      return `Error: the arguments of ${RUN_PYTHON} are not valid JSON (${detail}). Call it with {"code": "<python source>"}.`;
  }
}

export interface OpenaiToolsOptions {
  /** `detail` of the input image parts; default: not sent (the API's `auto`) */
  imageDetail?: 'auto' | 'low' | 'high';
  /** max model calls; default 10 */
  maxTurns?: number;
}

export function createOpenaiToolsProtocol(options: OpenaiToolsOptions = {}): ProtocolAdapter {
  const detail = options.imageDetail;
  return {
    id: 'openai-tools',
    constants: {
      system: OPENAI_TOOLS_SYSTEM_PROMPT,
      tool: JSON.stringify(RUN_PYTHON_TOOL),
      lastTurn: LAST_TURN_MESSAGE,
      noOutput: NO_OUTPUT_TEXT,
    },
    defaultSampling: { temperature: 0, max_tokens: 4096 },
    defaultMaxTurns: options.maxTurns ?? 10,
    imagePreparation: { resize: 'none' },
    tools: () => [structuredClone(RUN_PYTHON_TOOL)],

    initialMessages(question: string, imagesPng: string[]): ChatMessage[] {
      const images: ContentPart[] = imagesPng.map((b64) => ({
        type: 'image_url',
        image_url: { url: `data:image/png;base64,${b64}`, ...(detail ? { detail } : {}) },
      }));
      return [
        { role: 'system', content: OPENAI_TOOLS_SYSTEM_PROMPT },
        { role: 'user', content: [...images, { type: 'text', text: question.replaceAll('<image>', '').trim() }] },
      ];
    },

    parse(turn: AssistantTurn): ParsedTurn {
      const content = turn.content ?? '';
      const code: CodeRequest[] = [];
      const malformed: ParsedTurn['malformed'] = [];
      for (const call of turn.toolCalls ?? []) {
        const r = codeFromToolCall(call, RUN_PYTHON);
        if (r.ok) code.push({ code: r.code, toolCallId: call.id });
        else malformed.push({ toolCallId: call.id, message: malformedMessage(r.reason, r.detail) });
      }
      const noTool = code.length === 0 && malformed.length === 0;
      let answer = extractAnswerTag(content);
      if (answer === undefined && noTool && content.trim()) answer = content.trim();
      return { code, answer, malformed, empty: noTool && !content.trim() };
    },

    assistantMessage(turn: AssistantTurn): ChatMessage {
      const calls = (turn.toolCalls ?? []).map(sanitizeToolCall);
      if (calls.length === 0) return { role: 'assistant', content: turn.content ?? '' };
      return { role: 'assistant', content: turn.content ? turn.content : null, tool_calls: calls };
    },

    observation(executed: ObservationInput[], malformed: ParsedTurn['malformed'], ctx: ObservationContext): ChatMessage[] {
      executed = capObservationText(executed, ctx.maxObservationTokens);
      const out: ChatMessage[] = [];
      const images: ContentPart[] = [];
      for (const x of executed) {
        const text = openaiToolResultText(x.result, ctx.timeoutMs);
        const id = x.request.toolCallId;
        if (id !== undefined) out.push({ role: 'tool', tool_call_id: id, content: text });
        else out.push({ role: 'user', content: text });
        x.result.images.forEach((img, k) => {
          images.push({ type: 'text', text: `Image ${k + 1} of ${x.result.images.length} from ${id ? `tool call ${id}` : 'the code'}:` });
          images.push({ type: 'image_url', image_url: { url: imageDataUrl(img, 'true') } });
        });
      }
      for (const m of malformed) {
        if (m.toolCallId !== undefined) out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.message });
        else out.push({ role: 'user', content: m.message });
      }
      // tool messages must directly follow the assistant message; user messages come after them all
      out.sort((a, b) => Number(a.role !== 'tool') - Number(b.role !== 'tool'));
      if (images.length) out.push({ role: 'user', content: images });
      if (ctx.turnIndex + 2 === ctx.maxTurns) out.push({ role: 'user', content: LAST_TURN_MESSAGE });
      return out;
    },

    isFinal: (p: ParsedTurn): boolean => p.code.length === 0 && p.malformed.length === 0 && p.answer !== undefined,
  };
}
