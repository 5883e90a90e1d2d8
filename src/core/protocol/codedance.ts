/**
 * Format A, `codedance`: the seed's evaluation format (eval/eval.py), the one CodeDance's
 * published numbers come from. No function calling: the model writes
 * `<code>\n```python\n…\n```\n</code>` in its text, the observation comes back as a `user`
 * message wrapped in `<tool_response>` … `</tool_response>`, and the run stops at the first
 * reply holding both `<answer>` and `</answer>`. Every string here is a protocol constant.
 */
import type { ExecutionResult } from '../kernel/types';
import { extractAnswerTag, extractSeedCode, hasFullAnswer } from './extract';
import { capObservationText, imageDataUrl, seedError, seedErrorBlock } from './results';
import type { AssistantTurn, ChatMessage, ContentPart, ObservationContext, ObservationInput, ParsedTurn, ProtocolAdapter } from './types';

export const CODEDANCE_SYSTEM_PROMPT =
  "You are a helpful assistant.\n\nSolve the following problem step by step. You may write Python code to assist with the user query. When an image is supplied, you can either use the preloaded PIL Image object `input_image` or access the image file directly via the **relative path** `'input_image.jpg'`.";

export const CODEDANCE_INSTRUCTION =
  'Think step-by-step within <think></think>. You now have the ability to selectively write executable Python code to enhance your reasoning process. The Python code should be complete scripts, including necessary imports. \nEach code snippet is wrapped with `<code>\n```python\ncode snippet\n```\n</code>`. You must provide your final answer in <answer></answer>.';

/** eval.py's MAX_PIXELS, sent as `max_pixels` beside each input image part */
export const QWEN_MAX_PIXELS = 16384 * 28 * 28;
export const QWEN_MIN_PIXELS = 4 * 28 * 28;

export const TOOL_RESPONSE_OPEN = '<tool_response>';
export const TOOL_RESPONSE_CLOSE = '</tool_response>';
export const OUTPUT_PREFIX = 'Output:\n';
export const OUTPUT_IMAGE_LABEL = 'Output image:';
/** the seed's exit() note, appended to stdout by the kernel layer (documented here for the hash) */
export const EXIT_NOTE = '\nNOTE: Code execution was halted by a call to exit() or quit(). Do not use exit() or quit() in your code.';

/** `"Stderr output:\n```\n" + stderr + "\n```"` (both seed tools, on success) */
export function stderrPart(stderr: string): string {
  return 'Stderr output:\n```\n' + stderr + '\n```';
}

/** The input image part exactly as eval.py builds it: JPEG label, PNG bytes, `max_pixels` beside `image_url`. */
export function seedImagePart(pngBase64: string): ContentPart {
  return { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${pngBase64}` }, max_pixels: QWEN_MAX_PIXELS };
}

/** The first user message's text: `(question + "\n" + INSTRUCTION).replace("<image>", "")`. */
export function seedPromptText(question: string, instruction: string): string {
  return (question + '\n' + instruction).replaceAll('<image>', '');
}

/** The parts between `<tool_response>` and `</tool_response>` for one executed cell (eval.py). */
export function evalObservationParts(result: ExecutionResult, timeoutMs: number | undefined): ContentPart[] {
  const parts: ContentPart[] = [];
  const stdout = result.stdout.trim();
  if (stdout) parts.push({ type: 'text', text: OUTPUT_PREFIX + stdout });
  const stderr = result.stderr.trim();
  if (stderr) parts.push({ type: 'text', text: stderrPart(stderr) });
  for (const img of result.images) {
    parts.push({ type: 'text', text: OUTPUT_IMAGE_LABEL });
    parts.push({ type: 'image_url', image_url: { url: imageDataUrl(img, 'seed') } });
  }
  const err = seedError(result, { timeoutMs, secondsStyle: 'int' });
  if (err) parts.push({ type: 'text', text: seedErrorBlock(err) });
  return parts;
}

function wrap(parts: ContentPart[]): ChatMessage {
  return { role: 'user', content: [{ type: 'text', text: TOOL_RESPONSE_OPEN }, ...parts, { type: 'text', text: TOOL_RESPONSE_CLOSE }] };
}

export function createCodedanceProtocol(): ProtocolAdapter {
  return {
    id: 'codedance',
    constants: {
      system: CODEDANCE_SYSTEM_PROMPT,
      instruction: CODEDANCE_INSTRUCTION,
      maxPixels: String(QWEN_MAX_PIXELS),
      codePattern: '<code>\\s*```python\\s*\\n(.*?)\\n```\\s*</code>',
      fallbackCodePattern: '```python\\s*\\n(.*?)\\n```',
      toolResponseOpen: TOOL_RESPONSE_OPEN,
      toolResponseClose: TOOL_RESPONSE_CLOSE,
      output: OUTPUT_PREFIX,
      stderr: stderrPart('{stderr}'),
      outputImage: OUTPUT_IMAGE_LABEL,
      executionError: '--- Execution Error ({type}) ---\n{error}',
      exitNote: EXIT_NOTE,
    },
    defaultSampling: { temperature: 0.01, top_p: 1, max_tokens: 2048 },
    defaultMaxTurns: 7,
    imagePreparation: { resize: 'qwen-smart', minPixels: QWEN_MIN_PIXELS, maxPixels: QWEN_MAX_PIXELS },
    tools: () => undefined,

    initialMessages(question: string, imagesPng: string[]): ChatMessage[] {
      return [
        { role: 'system', content: [{ type: 'text', text: CODEDANCE_SYSTEM_PROMPT }] },
        {
          role: 'user',
          content: [...imagesPng.map(seedImagePart), { type: 'text', text: seedPromptText(question, CODEDANCE_INSTRUCTION) }],
        },
      ];
    },

    parse(turn: AssistantTurn): ParsedTurn {
      const content = turn.content ?? '';
      const code = extractSeedCode(content);
      const final = hasFullAnswer(content);
      // eval.py's stop rule is "both tags present"; the text is the judge's first <answer>…</answer> match
      const answer = final ? (extractAnswerTag(content) ?? '') : undefined;
      return { code: code !== undefined ? [{ code }] : [], answer, malformed: [], empty: code === undefined && !final };
    },

    assistantMessage: (turn: AssistantTurn): ChatMessage => ({ role: 'assistant', content: turn.content ?? '' }),

    observation(executed: ObservationInput[], malformed: ParsedTurn['malformed'], ctx: ObservationContext): ChatMessage[] {
      executed = capObservationText(executed, ctx.maxObservationTokens);
      const out = executed.map((x) => wrap(evalObservationParts(x.result, ctx.timeoutMs)));
      // this format has no tool calls, so nothing is malformed; render defensively all the same
      for (const m of malformed) out.push(wrap([{ type: 'text', text: seedErrorBlock({ type: 'Error', text: m.message }) }]));
      return out;
    },

    isFinal: (parsed: ParsedTurn): boolean => parsed.answer !== undefined,
  };
}
