/**
 * `deepeyes`: DeepEyes-7B as its own evaluation script asks it (Visual-Agent/DeepEyes
 * eval/eval_vstar.py at 6c5e796; every string and rule, with file and lines, in
 * docs/protocols.md). No function calling: the system prompt lists one tool,
 * `image_zoom_in_tool`, in `<tools>` (its schema's quirk kept: it requires `bbox` while its only
 * box property is `bbox_2d`); the model writes `<tool_call>{…}</tool_call>` in its text; the
 * call is a crop of the ORIGINAL image, smart-resized, that comes back as a `user` message
 * `<tool_response>`, image, the instruction again, `</tool_response>`; the run ends at the first
 * reply holding `</answer>`, after 11 model calls, or when a call fails.
 *
 * The repository reads the call with `eval()`. Here it is read as a Python literal
 * (pyLiteral.ts: the same value for every literal, nothing run), and the crop runs in the
 * kernel as the repository runs it (kernel/prelude/inputs.py `_deepeyes_zoom`). A call it could
 * not have used — not a literal, no `arguments` or `bbox_2d`, a box the crop rejects — raised
 * in its loop, which ended the sample with the reply as `pred_ans`; here it ends the run the same
 * way, the call recorded as a failed one (a malformed call, or a failed cell).
 */
import { pyStrip } from './extract';
import { parsePyLiteral, PyLiteralError, pyGetItem, pyToJs } from './pyLiteral';
import type {
  AssistantTurn,
  ChatMessage,
  ContentPart,
  ObservationInput,
  ParsedTurn,
  ProtocolAdapter,
  QuestionContext,
  ToolRegion,
} from './types';

/** eval_vstar.py `instruction_prompt_system` (lines 53-71), trailing double spaces included */
export const DEEPEYES_SYSTEM_PROMPT = [
  'You are a helpful assistant.',
  '',
  '# Tools',
  'You may call one or more functions to assist with the user query.',
  'You are provided with function signatures within <tools></tools> XML tags:',
  '<tools>',
  '{"type":"function","function":{"name":"image_zoom_in_tool","description":"Zoom in on a specific region of an image by cropping it based on a bounding box (bbox) and an optional object label.","parameters":{"type":"object","properties":{"bbox_2d":{"type":"array","items":{"type":"number"},"minItems":4,"maxItems":4,"description":"The bounding box of the region to zoom in, as [x1, y1, x2, y2], where (x1, y1) is the top-left corner and (x2, y2) is the bottom-right corner."},"label":{"type":"string","description":"The name or label of the object in the specified bounding box (optional)."}},"required":["bbox"]}}}',
  '</tools>',
  '',
  '# How to call a tool',
  'Return a json object with function name and arguments within <tool_call></tool_call> XML tags:',
  '<tool_call>',
  '{"name": <function-name>, "arguments": <args-json-object>}',
  '</tool_call>',
  '',
  '**Example**:  ',
  '<tool_call>  ',
  '{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [10, 20, 100, 200], "label": "the apple on the desk"}}  ',
  '</tool_call>',
].join('\n');

/** eval_vstar.py `USER_PROMPT_V2` (line 72): the end of the question, and of every tool response */
export const DEEPEYES_USER_PROMPT =
  '\nThink first, call **image_zoom_in_tool** if needed, then answer. Format strictly as:  <think>...</think>  <tool_call>...</tool_call> (if tools needed)  <answer>...</answer> ';

/** eval_vstar.py `instruction_prompt_before` (lines 74-76) */
export const DEEPEYES_QUESTION_TEMPLATE = 'Question: {question}\nOptions: {options}\n' + DEEPEYES_USER_PROMPT;

export const DEEPEYES_TOOL_NAME = 'image_zoom_in_tool';
/** eval_vstar.py `start_token` / `end_token` (lines 80-81) */
export const TOOL_CALL_START = '<tool_call>';
export const TOOL_CALL_END = '</tool_call>';
export const DEEPEYES_TOOL_RESPONSE_OPEN = '<tool_response>';
export const DEEPEYES_TOOL_RESPONSE_CLOSE = '</tool_response>';
/** the stop string of every request: `"<|im_end|>\n".strip()` (line 187) */
export const DEEPEYES_STOP = '<|im_end|>';
/** `while` + `if try_count > 10: break` (lines 175-181, 259): at most 11 model calls */
export const DEEPEYES_MAX_CALLS = 11;

/** eval_vstar.py `abc_map` (line 47) stops at F; later options go on with G, H, … (the repository raises KeyError there) */
const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** `option_str` (lines 131-133): "\n" then "A. opt\n" per option */
export function deepeyesOptions(options: readonly string[] = []): string {
  return '\n' + options.map((o, i) => `${LETTERS[i] ?? String(i + 1)}. ${o}\n`).join('');
}

/** `instruction_prompt_before.format(question=…, options=…)` (line 135): one pass, like str.format */
export function deepeyesPrompt(question: string, options?: readonly string[]): string {
  const values: Record<string, string> = { question, options: deepeyesOptions(options) };
  return DEEPEYES_QUESTION_TEMPLATE.replace(/\{(question|options)\}/g, (_, k: string) => values[k]);
}

/** An image part as the repository builds every image part: a `data:image/jpeg` URL whatever the bytes (lines 148, 207). */
export function deepeyesImagePart(base64: string): ContentPart {
  return { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${base64}` } };
}

/** `response_message.split(start_token)[1].split(end_token)[0].strip()` (line 193); undefined without a `<tool_call>` */
export function deepeyesToolCallText(content: string): string | undefined {
  if (!content.includes(TOOL_CALL_START)) return undefined;
  return pyStrip(content.split(TOOL_CALL_START)[1].split(TOOL_CALL_END)[0]);
}

/** The sample's `pred_ans` (lines 265-268): between the first `<answer>` and the `</answer>` after it when both are there, else the whole reply. */
export function deepeyesAnswer(content: string): string {
  if (content.includes('</answer>') && content.includes('<answer>')) return pyStrip(content.split('<answer>')[1].split('</answer>')[0]);
  return content;
}

/** The tool call of a reply, read without running it: the request, or why the repository's loop would have raised. */
export function deepeyesCall(
  text: string,
): { ok: true; arguments: Record<string, unknown>; name: string; bbox: string } | { ok: false; message: string } {
  let action;
  try {
    action = parsePyLiteral(text);
  } catch (e) {
    const err = e as PyLiteralError;
    return {
      ok: false,
      message: `${err.pyName ?? 'SyntaxError'}: ${err.message} (the <tool_call> is not a Python literal, which the repository's eval() reads)`,
    };
  }
  // action_list['arguments']['bbox_2d'] (line 199); the name is never looked at
  const args = pyGetItem(action, 'arguments');
  if (!args.ok) return { ok: false, message: args.error };
  const bbox = pyGetItem(args.value, 'bbox_2d');
  if (!bbox.ok) return { ok: false, message: bbox.error };
  const asJs = pyToJs(args.value, text);
  const name = pyGetItem(action, 'name');
  return {
    ok: true,
    arguments: asJs && typeof asJs === 'object' && !Array.isArray(asJs) ? (asJs as Record<string, unknown>) : {},
    name: name.ok && name.value.kind === 'str' ? (name.value.value as string) : DEEPEYES_TOOL_NAME,
    bbox: text.slice(bbox.value.start, bbox.value.end),
  };
}

/**
 * The box a call crops and the image it is in, for the trajectory and UIs: `bbox_2d` when it is
 * four finite numbers (what the crop can use; a call the crop rejects fails without one), in the
 * FIRST input image (`pil_img`, the question's image file, line 136).
 */
export function deepeyesRegion(args: Record<string, unknown>): ToolRegion | undefined {
  const b = args.bbox_2d;
  if (!Array.isArray(b) || b.length !== 4 || !b.every((x) => typeof x === 'number' && Number.isFinite(x))) return undefined;
  return { imageIndex: 0, bbox: [b[0], b[1], b[2], b[3]] as ToolRegion['bbox'] };
}

export function createDeepeyesProtocol(): ProtocolAdapter {
  return {
    id: 'deepeyes',
    constants: {
      system: DEEPEYES_SYSTEM_PROMPT,
      userPrompt: DEEPEYES_USER_PROMPT,
      questionTemplate: DEEPEYES_QUESTION_TEMPLATE,
      optionLine: '{letter}. {option}\n',
      toolCallStart: TOOL_CALL_START,
      toolCallEnd: TOOL_CALL_END,
      toolResponseOpen: DEEPEYES_TOOL_RESPONSE_OPEN,
      toolResponseClose: DEEPEYES_TOOL_RESPONSE_CLOSE,
      imageUrlPrefix: 'data:image/jpeg;base64,',
      stop: DEEPEYES_STOP,
      crop: 'crop(left, top, right, bottom) of the original image; smart_resize(right - left, bottom - top, factor=28, min 4*28*28, max 16384*28*28); resize BICUBIC; PNG',
    },
    // temperature 0.0, max_tokens 10240, stop ["<|im_end|>"]; no top_p (lines 182-188)
    defaultSampling: { temperature: 0, max_tokens: 10240, stop: [DEEPEYES_STOP] },
    defaultMaxTurns: DEEPEYES_MAX_CALLS,
    // the image file as it is (encode_image_to_base64, lines 83-85, 138); the crops start from it too (line 136)
    imagePreparation: { resize: 'original' },
    tools: () => undefined,

    initialMessages(question: string, images: string[], context?: QuestionContext): ChatMessage[] {
      return [
        { role: 'system', content: DEEPEYES_SYSTEM_PROMPT },
        { role: 'user', content: [...images.map(deepeyesImagePart), { type: 'text', text: deepeyesPrompt(question, context?.options) }] },
      ];
    },

    parse(turn: AssistantTurn): ParsedTurn {
      const content = turn.content ?? '';
      const final = content.includes('</answer>');
      const answer = final ? deepeyesAnswer(content) : undefined;
      const callText = deepeyesToolCallText(content);
      if (callText === undefined) {
        // neither a call nor </answer>: the reply is not appended and the same request goes again (lines 249-256)
        return { code: [], answer, malformed: [], empty: !final, fallbackAnswer: content };
      }
      const call = deepeyesCall(callText);
      if (!call.ok) return { code: [], answer, malformed: [{ message: call.message }], empty: false, fallbackAnswer: content };
      const region = deepeyesRegion(call.arguments);
      const tool = {
        name: call.name,
        arguments: call.arguments,
        kernel: { kind: 'deepeyes-zoom' as const, bbox: call.bbox },
        ...(region ? { region } : {}),
      };
      return { code: [{ code: callText, tool }], answer, malformed: [], empty: false, fallbackAnswer: content };
    },

    assistantMessage: (turn: AssistantTurn): ChatMessage => ({ role: 'assistant', content: turn.content ?? '' }),

    observation(executed: ObservationInput[], malformed: ParsedTurn['malformed']): ChatMessage[] {
      // a failed call raised in the repository's loop: nothing more was sent
      if (malformed.length || executed.some((x) => x.result.status !== 'ok')) return [];
      const content: ContentPart[] = [{ type: 'text', text: DEEPEYES_TOOL_RESPONSE_OPEN }];
      for (const x of executed) for (const img of x.result.images) content.push(deepeyesImagePart(img.data));
      content.push({ type: 'text', text: DEEPEYES_USER_PROMPT }, { type: 'text', text: DEEPEYES_TOOL_RESPONSE_CLOSE });
      return [{ role: 'user', content }];
    },

    isFinal: (parsed: ParsedTurn, executed: readonly ObservationInput[] = []): boolean =>
      parsed.answer !== undefined || parsed.malformed.length > 0 || executed.some((x) => x.result.status !== 'ok'),
  };
}
