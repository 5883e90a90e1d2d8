/**
 * Format B, `codedance-tools`: the seed's training rollout format (configs/tool_config.yaml,
 * verl/tools/code_tool.py) through the OpenAI tools API, as vLLM serves it with the hermes tool
 * parser. One tool, `execute_python_code(code)`; results are `tool` messages with the training
 * tool's exact texts; at most 6 assistant turns; the last one is preceded by the seed's
 * "Turn limit reached…" user message.
 *
 * Choices where the seed is silent:
 * - System prompt: eval.py's (the only CodeDance system prompt published). User text: the
 *   question with `<image>` removed, `"\n"`, and {@link CODEDANCE_TOOLS_INSTRUCTION}: the first
 *   and last sentences of eval.py's instruction around one sentence naming the tool (eval.py's
 *   middle sentence asks for `<code>` blocks, which contradicts function calling).
 *   `instruction: 'eval'` sends eval.py's instruction verbatim instead.
 * - A `<tool_call>{…}</tool_call>` block left in the text (vLLM without `--tool-call-parser
 *   hermes`, or a block its parser could not read) is read here; a broken one is a malformed
 *   call (an error observation) instead of ending the run as the training rollout would.
 * - Fallback code (a ```python block and no tool call) has no tool_call_id, and the OpenAI API
 *   accepts a `tool` message only as the answer to a tool call. Its observation is therefore a
 *   `user` message whose text parts are `"<tool_response>\n"`, the tool result parts and
 *   `"\n</tool_response>"`: exactly what the Qwen2.5-VL chat template renders for a `tool`
 *   message, so the model sees the same tokens.
 * - Images in tool results: vLLM accepts image parts in a `tool` message (the default,
 *   `imagesInToolMessage: true`); the official OpenAI API does not. With `false` the tool message
 *   keeps the text parts and the images follow, after all tool messages of the turn, in one
 *   `user` message as `"Output image:"` + image pairs. Code read from text (raw `<tool_call>` or
 *   ```python) is answered the fallback way too.
 * - A reply with no tool call and no ```python block ends the rollout (as in training): it is
 *   final, its answer the first `<answer>…</answer>`, else the text after `</think>`. Only an
 *   empty reply counts as `empty` (the loop re-sends the request).
 */
import {
  CODEDANCE_INSTRUCTION,
  CODEDANCE_SYSTEM_PROMPT,
  OUTPUT_IMAGE_LABEL,
  QWEN_MAX_PIXELS,
  QWEN_MIN_PIXELS,
  seedImagePart,
  seedPromptText,
  stderrPart,
} from './codedance';
import { afterThink, codeFromToolCall, extractAnswerTag, extractPythonBlock, rawToolCalls, sanitizeToolCall } from './extract';
import { capObservationText, imageDataUrl, seedError, seedErrorBlock } from './results';
import type { ExecutionResult } from '../kernel/types';
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

export const EXECUTE_PYTHON_CODE = 'execute_python_code';
export const EXECUTE_PYTHON_CODE_DESCRIPTION =
  'Executes Python code within a persistent, sandboxed virtual environment.  This tool is highly effective for a variety of tasks, including mathematical calculations, data analysis, and image manipulation. ';
export const EXECUTE_PYTHON_CODE_PARAM_DESCRIPTION =
  "Execute Python code with access to common libraries (PIL, cv2, matplotlib, numpy, etc.). Access input images via 'input_image' variable or 'Image.open('input_image.jpg')'. Output results using print(), plt.show(), or other display functions.";

/** code_tool.py's USER_PROMPT, the last text of every successful tool result */
export const TOOL_USER_PROMPT =
  "\nThink with the tool's result, then answer. Determine if it adequately answers the user's question. If the information is insufficient or irrelevant, formulate a new strategy and execute a new tool call to obtain a helpful result.";
export const TOOL_SUCCESS_OUTPUT_PREFIX = 'Code execution successful, output:\n';
export const TOOL_OUTPUT_BEFORE_ERROR_PREFIX = 'Output before error:\n';
export const TOOL_NO_CODE = 'Error: No code provided to execute.';
export const TURN_LIMIT_MESSAGE =
  'Turn limit reached. Based on the analysis so far, directly provide the final answer using the <think></think><answer></answer> format. Do not use any more tools or execute code.';

/** Not a seed string: see the module comment. */
export const CODEDANCE_TOOLS_INSTRUCTION =
  'Think step-by-step within <think></think>. You can call the execute_python_code tool to run Python code whenever it helps your reasoning. You must provide your final answer in <answer></answer>.';

export const EXECUTE_PYTHON_CODE_TOOL = {
  type: 'function',
  function: {
    name: EXECUTE_PYTHON_CODE,
    description: EXECUTE_PYTHON_CODE_DESCRIPTION,
    parameters: {
      type: 'object',
      properties: { code: { type: 'string', description: EXECUTE_PYTHON_CODE_PARAM_DESCRIPTION } },
      required: ['code'],
    },
  },
} as const;

export interface CodedanceToolsOptions {
  /** put output images inside the `tool` message (vLLM: yes; the official OpenAI API rejects it). Default true. */
  imagesInToolMessage?: boolean;
  /** the user instruction: ours (default, see module comment) or eval.py's verbatim */
  instruction?: 'tools' | 'eval';
  /** max assistant turns; default 6 (multiturn_config.yaml) */
  maxTurns?: number;
}

/** code_tool.py's result content for one execution (images as OpenAI `image_url` parts). */
export function trainingToolResultParts(result: ExecutionResult, timeoutMs: number | undefined): ContentPart[] {
  const parts: ContentPart[] = [];
  const stdout = result.stdout.trim();
  const stderr = result.stderr.trim();
  const err = seedError(result, { timeoutMs, secondsStyle: 'float' });
  if (!err) {
    if (stdout) parts.push({ type: 'text', text: TOOL_SUCCESS_OUTPUT_PREFIX + stdout });
    if (stderr) parts.push({ type: 'text', text: stderrPart(stderr) });
    for (const img of result.images) {
      parts.push({ type: 'text', text: OUTPUT_IMAGE_LABEL });
      parts.push({ type: 'image_url', image_url: { url: imageDataUrl(img, 'seed') } });
    }
    parts.push({ type: 'text', text: TOOL_USER_PROMPT });
  } else {
    if (stdout) parts.push({ type: 'text', text: TOOL_OUTPUT_BEFORE_ERROR_PREFIX + stdout });
    let block = seedErrorBlock(err);
    if (stderr) block += `\n\nStderr output:\n${stderr}`;
    parts.push({ type: 'text', text: block });
  }
  return parts;
}

function malformedMessage(reason: 'unknown-tool' | 'bad-json' | 'no-code', detail: string): string {
  switch (reason) {
    case 'no-code':
      return TOOL_NO_CODE;
    case 'unknown-tool':
      return `Error: Unknown tool '${detail}'. The only tool is ${EXECUTE_PYTHON_CODE}.`;
    case 'bad-json':
      return `Error: The arguments of ${EXECUTE_PYTHON_CODE} are not valid JSON (${detail}).`;
  }
}

export function createCodedanceToolsProtocol(options: CodedanceToolsOptions = {}): ProtocolAdapter {
  const imagesInToolMessage = options.imagesInToolMessage ?? true;
  const instruction = options.instruction === 'eval' ? CODEDANCE_INSTRUCTION : CODEDANCE_TOOLS_INSTRUCTION;

  return {
    id: 'codedance-tools',
    constants: {
      system: CODEDANCE_SYSTEM_PROMPT,
      instruction,
      tool: JSON.stringify(EXECUTE_PYTHON_CODE_TOOL),
      successOutput: TOOL_SUCCESS_OUTPUT_PREFIX,
      outputBeforeError: TOOL_OUTPUT_BEFORE_ERROR_PREFIX,
      userPrompt: TOOL_USER_PROMPT,
      noCode: TOOL_NO_CODE,
      turnLimit: TURN_LIMIT_MESSAGE,
      imagesInToolMessage: String(imagesInToolMessage),
    },
    defaultSampling: { temperature: 0.01, top_p: 1, max_tokens: 2048 },
    defaultMaxTurns: options.maxTurns ?? 6,
    imagePreparation: { resize: 'qwen-smart', minPixels: QWEN_MIN_PIXELS, maxPixels: QWEN_MAX_PIXELS },
    tools: () => [structuredClone(EXECUTE_PYTHON_CODE_TOOL)],

    initialMessages(question: string, imagesPng: string[]): ChatMessage[] {
      return [
        { role: 'system', content: [{ type: 'text', text: CODEDANCE_SYSTEM_PROMPT }] },
        { role: 'user', content: [...imagesPng.map(seedImagePart), { type: 'text', text: seedPromptText(question, instruction) }] },
      ];
    },

    parse: parseToolsTurn,

    assistantMessage(turn: AssistantTurn): ChatMessage {
      const calls = (turn.toolCalls ?? []).map(sanitizeToolCall);
      if (calls.length === 0) return { role: 'assistant', content: turn.content ?? '' };
      return { role: 'assistant', content: turn.content ? turn.content : null, tool_calls: calls };
    },

    observation: (executed: ObservationInput[], malformed: ParsedTurn['malformed'], ctx: ObservationContext): ChatMessage[] =>
      toolsObservation(executed, malformed, ctx, imagesInToolMessage),

    isFinal: (p: ParsedTurn): boolean => p.code.length === 0 && p.malformed.length === 0 && p.answer !== undefined,
  };
}

/** The code of a reply: its tool calls; without any, the `<tool_call>` blocks left in its text, else its first ```python block. */
function parseToolsTurn(turn: AssistantTurn): ParsedTurn {
  const content = turn.content ?? '';
  const code: CodeRequest[] = [];
  const malformed: ParsedTurn['malformed'] = [];
  for (const call of turn.toolCalls ?? []) {
    const r = codeFromToolCall(call, EXECUTE_PYTHON_CODE);
    if (r.ok) code.push({ code: r.code, toolCallId: call.id });
    else malformed.push({ toolCallId: call.id, message: malformedMessage(r.reason, r.detail) });
  }
  if (!turn.toolCalls?.length) textToolCalls(content, code, malformed);
  const tag = extractAnswerTag(content);
  let answer: string | undefined = tag;
  const noTool = code.length === 0 && malformed.length === 0;
  if (answer === undefined && noTool && content.trim() !== '') answer = afterThink(content) || content.trim();
  return { code, answer, malformed, empty: noTool && content.trim() === '' };
}

/** A reply without tool calls: the `<tool_call>` blocks the server left in the text (no tool parser, or its parser failed), else the training rollout's fallback, the first ```python block. */
function textToolCalls(content: string, code: CodeRequest[], malformed: ParsedTurn['malformed']): void {
  for (const raw of rawToolCalls(content)) {
    if (!raw.ok) {
      malformed.push({ message: `Error: The <tool_call> block is not valid JSON (${raw.detail}).` });
      continue;
    }
    const r = codeFromToolCall(raw.call, EXECUTE_PYTHON_CODE);
    if (r.ok) code.push({ code: r.code });
    else malformed.push({ message: malformedMessage(r.reason, r.detail) });
  }
  if (code.length === 0 && malformed.length === 0) {
    const fallback = extractPythonBlock(content);
    if (fallback !== undefined) code.push({ code: fallback });
  }
}

/**
 * The tool messages of a turn's results (code from the text: a user message as the chat template
 * renders a tool message); without `imagesInToolMessage`, the output images move to one user
 * message before the others. Before the last call allowed, the turn-limit message.
 */
function toolsObservation(
  executed: ObservationInput[],
  malformed: ParsedTurn['malformed'],
  ctx: ObservationContext,
  imagesInToolMessage: boolean,
): ChatMessage[] {
  executed = capObservationText(executed, ctx.maxObservationTokens);
  const toolMsgs: ChatMessage[] = [];
  const userMsgs: ChatMessage[] = [];
  const pendingImages: ContentPart[] = [];
  for (const x of executed) {
    const parts = trainingToolResultParts(x.result, ctx.timeoutMs);
    if (x.request.toolCallId === undefined) {
      // fallback code: render what the chat template would have rendered for a tool message
      userMsgs.push({
        role: 'user',
        content: [{ type: 'text', text: '<tool_response>\n' }, ...parts, { type: 'text', text: '\n</tool_response>' }],
      });
    } else if (imagesInToolMessage) {
      toolMsgs.push({ role: 'tool', tool_call_id: x.request.toolCallId, content: parts });
    } else {
      const { text, images } = splitOutputImages(parts);
      pendingImages.push(...images);
      toolMsgs.push({ role: 'tool', tool_call_id: x.request.toolCallId, content: text });
    }
  }
  for (const m of malformed) {
    if (m.toolCallId !== undefined)
      toolMsgs.push({ role: 'tool', tool_call_id: m.toolCallId, content: [{ type: 'text', text: m.message }] });
    else
      userMsgs.push({
        role: 'user',
        content: [
          { type: 'text', text: '<tool_response>\n' },
          { type: 'text', text: m.message },
          { type: 'text', text: '\n</tool_response>' },
        ],
      });
  }
  if (pendingImages.length) userMsgs.unshift({ role: 'user', content: pendingImages });
  const out = [...toolMsgs, ...userMsgs];
  // the next call is the last one allowed: ask for the answer (training only; eval.py does not)
  if (ctx.turnIndex + 2 === ctx.maxTurns) out.push({ role: 'user', content: TURN_LIMIT_MESSAGE });
  return out;
}

/** A tool result's parts without its output images (each with its label), and those images. */
function splitOutputImages(parts: ContentPart[]): { text: ContentPart[]; images: ContentPart[] } {
  const text: ContentPart[] = [];
  const images: ContentPart[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (p.type === 'text' && p.text === OUTPUT_IMAGE_LABEL && parts[i + 1]?.type === 'image_url') {
      images.push(p, parts[i + 1]);
      i++;
    } else text.push(p);
  }
  return { text, images };
}
