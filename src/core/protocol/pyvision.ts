/**
 * `pyvision`: the loop of agents-x-project/PyVision (inference_engine/ at d08b450: its
 * vis_inference_demo_gpt.py and safe_persis_shared_vis_python_exe.py; every string and rule,
 * with file and lines, in docs/protocols.md). No function calling and no system message: one user
 * message (the template, the image between `<image_clue_0>` tags: pyvisionPrompt.ts); every request
 * stops at `</code>`; a reply holding `<code>` (or `</code>`) runs the LAST ```python block before
 * it, and goes back with `</code>\n` appended, as a list of one text part; the result comes back as
 * a user message `<interpreter>\nText Result:\n…\nImage Result:\n` + `<image_clue_k>` images +
 * `</interpreter>\n` (stdout only, stripped and cut to 400 characters; an error is
 * `<interpreter>Error: …`); the first reply without `<code>` ends the run and is its answer.
 *
 * The code runs in our kernel (sandboxed, approved like any code): the namespace persists across
 * turns, and besides ours it holds PyVision's names (`image_clue_i`, the input images as RGB PIL
 * images, and its executor's imports), bound by the kernel with the images (PYVISION_NAMESPACE).
 */
import { pyStrip } from './extract';
import {
  pyvisionFirstMessage,
  pyvisionImagePart,
  PYVISION_IMAGE_URL_PREFIX,
  PYVISION_INPUT_CLUE,
  PYVISION_TEMPLATE,
  PYVISION_TEMPLATE_MULTI_IMAGE,
} from './pyvisionPrompt';
import type { ExecutionResult, FormatNamespace } from '../kernel/types';
import type {
  AssistantTurn,
  ChatMessage,
  ContentPart,
  ObservationContext,
  ObservationInput,
  ParsedTurn,
  ProtocolAdapter,
  QuestionContext,
} from './types';

/** the stop string of every request (`stop=["</code>"] if exe_code`, lines 482, 533; exe_code is always true, main.py 31) */
export const PYVISION_STOP = '</code>';
export const PYVISION_CODE_OPEN = '<code>';
/** `update_messages_with_code` (line 368): what the code reply goes back with */
export const PYVISION_CODE_CLOSE = '</code>\n';
/** GenericRuntime.exec_code's check before it runs anything (safe_persis_shared_vis_python_exe.py 258-259) */
export const PYVISION_FORBIDDEN = /(\s|^)?(input|os\.system|subprocess)\(/;
/** its report: `f'Error: {str(e)}'` of `RuntimeError("Forbidden function calls detected")` (174, 259) */
export const PYVISION_FORBIDDEN_ERROR = 'Error: Forbidden function calls detected';
/** the report of a cell whose worker does not answer within 20 s (209-214, 358) */
export const PYVISION_TIMEOUT_ERROR = 'Timeout Error';
/** an empty block: `execute_codes` runs nothing and `[0][0]` of its empty result raises (96-101, 499) */
export const PYVISION_EMPTY_CODE = 'IndexError: list index out of range';
/** `PythonExecutor.truncate(s, max_length=400)` (459-472) */
export const PYVISION_MAX_CHARS = 400;
/** ours: the repository's loop has no limit (`while True`, line 491) */
export const PYVISION_MAX_TURNS = 30;
/** ImageRuntime (296-330): HEADERS' imports, and each input image as `image_clue_i` */
export const PYVISION_NAMESPACE: FormatNamespace = {
  modules: { matplotlib: 'matplotlib', plt: 'matplotlib.pyplot', Image: 'PIL.Image', io: 'io', base64: 'base64', np: 'numpy' },
  imageName: 'image_clue_{i}',
};
/** `update_messages_with_execute_content` (lines 327-363) */
export const PYVISION_INTERPRETER = {
  open: '<interpreter>\nText Result:\n{text}\nImage Result:\n',
  clueOpen: '<image_clue_{i}>',
  clueClose: '</image_clue_{i}>',
  none: 'None',
  error: '<interpreter>{error}',
  close: '</interpreter>\n',
};

const text = (t: string): ContentPart => ({ type: 'text', text: t });

/** `call_chatgpt_api`'s stop reason (lines 427-441): a reply runs code when it holds `<code>`, or the stop string itself */
export function pyvisionIsCodeTurn(content: string): boolean {
  return content.includes(PYVISION_CODE_OPEN) || content.includes(PYVISION_STOP);
}

/** `response_text.split("```python")[-1].split("```")[0].strip()` (line 496): the LAST block, or the whole reply up to a ``` */
export function pyvisionCode(content: string): string {
  return pyStrip(content.split('```python').at(-1)!.split('```')[0]);
}

/** `PythonExecutor.truncate`: over 400 characters (code points, as Python counts), the first 200 + "..." + the last 200 */
export function pyTruncate(s: string, max = PYVISION_MAX_CHARS): string {
  const chars = Array.from(s);
  if (chars.length <= max) return s;
  const half = Math.floor(max / 2);
  return chars.slice(0, half).join('') + '...' + chars.slice(-half).join('');
}

/**
 * What PyVision's executor reports for a cell (PersistentWorker._worker_loop 125-174, batch_apply
 * 510-527, evaluate_single_data 499-520): the text (stdout only, stripped and cut; undefined when
 * the cell printed nothing) and images, or the error report.
 */
export function pyvisionReport(
  result: ExecutionResult,
): { ok: true; text?: string; images: ExecutionResult['images'] } | { ok: false; error: string } {
  // a cell that ran out of time, or killed its worker (exit(): SystemExit is no Exception there), never answers: 20 s, then this
  if (result.status === 'timeout' || result.status === 'died' || (result.status === 'ok' && result.exited))
    return { ok: false, error: PYVISION_TIMEOUT_ERROR };
  if (result.status !== 'ok') return { ok: false, error: pyTruncate(pyStrip(`Error: ${result.error?.evalue ?? result.status}`)) };
  return { ok: true, ...(result.stdout ? { text: pyTruncate(pyStrip(result.stdout)) } : {}), images: result.images };
}

/** The `<image_clue_k>` number of the next image: the images of this question so far (its first message's, then those sent back). */
export function pyvisionNextClue(history: readonly ChatMessage[]): number {
  let start = 0;
  history.forEach((m, i) => {
    if (m.role === 'user' && !(Array.isArray(m.content) && m.content[0]?.type === 'text' && m.content[0].text.startsWith('<interpreter>')))
      start = i;
  });
  return history
    .slice(start)
    .reduce((n, m) => n + (Array.isArray(m.content) ? m.content.filter((p) => p.type === 'image_url').length : 0), 0);
}

/** The `<interpreter>` message of one cell; `clue`: the number of its first image. */
export function pyvisionInterpreter(result: ExecutionResult, clue: number): ContentPart[] {
  const r = pyvisionReport(result);
  if (!r.ok) return [text(PYVISION_INTERPRETER.error.replace('{error}', r.error)), text(PYVISION_INTERPRETER.close)];
  const images = r.images.flatMap((img, k) => [
    text(PYVISION_INTERPRETER.clueOpen.replace('{i}', String(clue + k))),
    pyvisionImagePart(img.data),
    text(PYVISION_INTERPRETER.clueClose.replace('{i}', String(clue + k))),
  ]);
  return [
    text(PYVISION_INTERPRETER.open.replace('{text}', r.text ?? PYVISION_INTERPRETER.none)),
    ...(images.length ? images : [text(PYVISION_INTERPRETER.none)]),
    text(PYVISION_INTERPRETER.close),
  ];
}

function parse(turn: AssistantTurn): ParsedTurn {
  const content = turn.content ?? '';
  // no <code>: the reply is the run's last, its `final_response` (lines 537-540); there is no empty reply to send again
  if (!pyvisionIsCodeTurn(content)) return { code: [], answer: content, malformed: [], empty: false };
  const code = pyvisionCode(content);
  if (!code)
    return {
      code: [],
      malformed: [
        { message: `${PYVISION_EMPTY_CODE} (the reply's <code> holds no code: PyVision's loop raises here and the question ends)` },
      ],
      empty: false,
    };
  if (PYVISION_FORBIDDEN.test(code))
    return {
      code: [],
      malformed: [
        { message: `${PYVISION_FORBIDDEN_ERROR} (PyVision's executor refuses code calling input(, os.system( or subprocess(: not run)` },
      ],
      empty: false,
    };
  return { code: [{ code }], malformed: [], empty: false };
}

function observation(executed: ObservationInput[], malformed: ParsedTurn['malformed'], ctx: ObservationContext): ChatMessage[] {
  if (malformed.some((m) => m.message.startsWith(PYVISION_EMPTY_CODE))) return [];
  const out: ChatMessage[] = [];
  let clue = pyvisionNextClue(ctx.history ?? []);
  for (const x of executed) {
    out.push({ role: 'user', content: pyvisionInterpreter(x.result, clue) });
    clue += x.result.status === 'ok' && !x.result.exited ? x.result.images.length : 0;
  }
  for (const m of malformed) {
    if (m.message.startsWith(PYVISION_FORBIDDEN_ERROR))
      out.push({ role: 'user', content: [text(`<interpreter>${PYVISION_FORBIDDEN_ERROR}`), text(PYVISION_INTERPRETER.close)] });
  }
  return out;
}

export function createPyvisionProtocol(): ProtocolAdapter {
  return {
    id: 'pyvision',
    constants: {
      template: PYVISION_TEMPLATE,
      templateMultiImage: PYVISION_TEMPLATE_MULTI_IMAGE,
      placeholder: '<IMAGE_PLACE_HOLDER_{i}>',
      imageInformation: 'width of image_clue_{i}: {width}, height of image_clue_{i}: {height}\n',
      inputClueOpen: PYVISION_INPUT_CLUE.open,
      inputClueClose: PYVISION_INPUT_CLUE.close,
      imageUrlPrefix: PYVISION_IMAGE_URL_PREFIX,
      stop: PYVISION_STOP,
      codeClose: PYVISION_CODE_CLOSE,
      code: 'response_text.split("```python")[-1].split("```")[0].strip()',
      interpreterOpen: PYVISION_INTERPRETER.open,
      interpreterClueOpen: PYVISION_INTERPRETER.clueOpen,
      interpreterClueClose: PYVISION_INTERPRETER.clueClose,
      interpreterNone: PYVISION_INTERPRETER.none,
      interpreterError: PYVISION_INTERPRETER.error,
      interpreterClose: PYVISION_INTERPRETER.close,
      forbidden: PYVISION_FORBIDDEN.source,
      forbiddenError: PYVISION_FORBIDDEN_ERROR,
      timeoutError: PYVISION_TIMEOUT_ERROR,
      truncate: `${PYVISION_MAX_CHARS}: s[:200] + "..." + s[-200:]`,
      namespace: JSON.stringify(PYVISION_NAMESPACE),
    },
    // main.py's defaults (33-36) and run.sh: max_tokens 10000, temperature 0.6; top_p=1.0 (lines 398, 419)
    defaultSampling: { temperature: 0.6, top_p: 1, max_tokens: 10000, stop: [PYVISION_STOP] },
    defaultMaxTurns: PYVISION_MAX_TURNS,
    // the image file as it is (encode_image, lines 28-32); the code gets it as RGB (base64_to_image, 31-70)
    imagePreparation: { resize: 'original', namespace: PYVISION_NAMESPACE },
    tools: () => undefined,
    initialMessages: (question: string, images: string[], context?: QuestionContext): ChatMessage[] => [
      pyvisionFirstMessage(question, images, context?.imageSizes),
    ],
    parse,
    // lines 365-381: the code reply with `</code>\n` appended, the last one as it is; each a list of one text part
    assistantMessage: (turn: AssistantTurn): ChatMessage => {
      const content = turn.content ?? '';
      return { role: 'assistant', content: [text(pyvisionIsCodeTurn(content) ? content + PYVISION_CODE_CLOSE : content)] };
    },
    observation,
    isFinal: (parsed: ParsedTurn): boolean =>
      parsed.answer !== undefined || parsed.malformed.some((m) => m.message.startsWith(PYVISION_EMPTY_CODE)),
  };
}
