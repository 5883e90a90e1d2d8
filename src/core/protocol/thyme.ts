/**
 * `thyme`: Thyme-7B as its own evaluation asks it (yfzhang114/Thyme at b9285b7: the `Thyme-7B`
 * model of its VLMEvalKit, eval/VLMEvalKit/vlmeval/vlm/thyme/; every string and rule, with file
 * and lines, in docs/protocols.md "## Thyme"). No function calling: the model writes
 * `<code>```python … ```</code>` and stops there (`</code>` is a stop string); the code runs in
 * the repository's sandbox — here that sandbox's rules inside our kernel (prelude thyme.py) —
 * and its output goes back INSIDE the same assistant message, between `<sandbox_output>` and
 * `</sandbox_output>`: the images the code saved, else what it printed. The model then goes on
 * with that message (vLLM's `continue_final_message`). A block the sandbox gives nothing for is
 * dropped and asked again; five tries of five calls, then a plain prompt (thymeLoop.ts).
 *
 * The history (trajectory messages) records every reply and, after a block that ran, a user
 * message with its sandbox output; the requests are rebuilt from the run by `request`.
 */
import {
  SANDBOX_OUTPUT_CLOSE,
  SANDBOX_OUTPUT_OPEN,
  THYME_MCQ_CN_PROMPT,
  THYME_MCQ_EN_PROMPT,
  THYME_NO_ANSWER,
  THYME_SIMPLE_SYSTEM_PROMPT,
  THYME_STOP,
  THYME_SYSTEM_PROMPT,
  THYME_UNKNOWN_SIZE,
  thymeCode,
  thymeImagePath,
  thymePrompt,
  thymePromptParts,
  thymeQuestion,
  thymeSimplePrompt,
  pyStripText,
} from './thymePrompt';
import {
  THYME_EXTRA,
  THYME_MAX_CALLS,
  thymeAnswer,
  thymePrefix,
  thymeQuestionMessage,
  thymeRequest,
  thymeState,
  thymeStep,
  thymeText,
  thymeWrapFallback,
} from './thymeLoop';
import { sniffBase64ImageMime } from '../images/sniffImageMime';
import type {
  AssistantTurn,
  ChatMessage,
  ContentPart,
  ObservationInput,
  ParsedTurn,
  ProtocolAdapter,
  QuestionContext,
  RunView,
} from './types';

/** An input image part: the file's own bytes with their real type (the repository passes a file:// path). */
function imagePart(base64: string): ContentPart {
  return { type: 'image_url', image_url: { url: `data:${sniffBase64ImageMime(base64) ?? 'image/jpeg'};base64,${base64}` } };
}

/** The kernel path of the question's image, as this run's prompt names it. */
function runImagePath(run: RunView | undefined): string {
  if (!run) return '';
  return thymePromptParts(thymeQuestionMessage(thymePrefix(run)).prompt)?.imagePath ?? '';
}

function parseTurn(turn: AssistantTurn, run: RunView | undefined): ParsedTurn {
  const segment = turn.content ?? '';
  const s = thymeState(run?.turns ?? []);
  if (s.phase !== 'loop') {
    // the plain prompt's reply is the answer, whatever it holds (model.py 441-449)
    return { code: [], answer: thymeAnswer(thymeWrapFallback(segment)), malformed: [], empty: false };
  }
  const code = thymeCode(segment);
  const answered = segment.includes('</answer>');
  if (code !== undefined) {
    const via = { kind: 'thyme' as const, run: run?.id ?? '', generation: s.generation, imagePath: runImagePath(run) };
    return { code: [{ code, via }], malformed: [], empty: false };
  }
  // `</answer>` without a block ends the run; neither ends the generation (the reply is not kept)
  if (answered) return { code: [], answer: thymeAnswer(thymeText(s.parts) + segment), malformed: [], empty: false };
  return { code: [], malformed: [], empty: true };
}

/** A block that ran and whose reply held `</answer>` too ends the run (model.py 385-388): its answer, from the whole message. */
function answeredWithCode(parsed: ParsedTurn, executed: readonly ObservationInput[], run: RunView | undefined, content: string): boolean {
  const s = thymeState(run?.turns ?? []);
  const step = thymeStep({ content, cells: executed.map((x) => x.result) });
  if (step.kind !== 'answer') return false;
  parsed.fallbackAnswer = thymeAnswer(thymeText([...s.parts, ...step.parts]));
  return true;
}

export function createThymeProtocol(): ProtocolAdapter {
  // the reply at hand, for isFinal (which is given the parse, not the text)
  const replies = new WeakMap<ParsedTurn, string>();
  return {
    id: 'thyme',
    constants: {
      system: THYME_SYSTEM_PROMPT,
      simpleSystem: THYME_SIMPLE_SYSTEM_PROMPT,
      prompt: thymePrompt('{question}', '{image_path}', '{image_size}'),
      unknownSize: THYME_UNKNOWN_SIZE,
      simplePrompt: thymeSimplePrompt('{question}'),
      mcq: `Question: {question}\nOptions:\n{letter}. {option}\n…${THYME_MCQ_EN_PROMPT} | ${THYME_MCQ_CN_PROMPT}`,
      stop: THYME_STOP.join(' '),
      codePattern: '<code>\\s*(?:```\\s*)?(?:python\\s*)?([\\s\\S]*?)\\s*(?:```\\s*)?</code> (re.IGNORECASE)',
      sandboxOutput: `${SANDBOX_OUTPUT_OPEN}{images or printed text}${SANDBOX_OUTPUT_CLOSE}`,
      noAnswer: THYME_NO_ANSWER,
      extra: JSON.stringify(THYME_EXTRA),
      loop: '5 generations (1.0 after the first) x 5 calls, continue_final_message, then the plain prompt without stop strings',
    },
    // model.py 47-51 and 82-91 (config.py 688-698 sets none of them): vLLM's top_k and
    // repetition_penalty go as extra fields (thymeLoop.ts THYME_EXTRA)
    defaultSampling: { temperature: 0.01, top_p: 0.001, max_tokens: 2048, stop: [...THYME_STOP] },
    defaultMaxTurns: THYME_MAX_CALLS,
    // the image as its file is (the repository passes the file's path; the server's processor
    // resizes it as qwen_vl_utils would); its size is the file's (utils.py 33-34)
    imagePreparation: { resize: 'original' },
    tools: () => undefined,

    initialMessages(question: string, images: string[], context?: QuestionContext): ChatMessage[] {
      const size = context?.imageSizes?.[0];
      const prompt = thymePrompt(
        thymeQuestion(question, context?.options),
        thymeImagePath(context?.workdir, images[0]),
        size ? `${size.width}x${size.height}` : THYME_UNKNOWN_SIZE,
      );
      return [
        { role: 'system', content: THYME_SYSTEM_PROMPT },
        { role: 'user', content: [...images.map(imagePart), { type: 'text', text: prompt }] },
      ];
    },

    parse(turn: AssistantTurn, run?: RunView): ParsedTurn {
      const parsed = parseTurn(turn, run);
      replies.set(parsed, turn.content ?? '');
      return parsed;
    },

    assistantMessage: (turn: AssistantTurn): ChatMessage => ({ role: 'assistant', content: turn.content ?? '' }),

    observation(executed: ObservationInput[]): ChatMessage[] {
      // the record of what went back (inside the assistant message, in the requests); nothing for a block that gave nothing
      const ok = executed.filter((x) => x.result.status === 'ok');
      if (!ok.length) return [];
      const r = ok[0].result;
      const inner: ContentPart[] = r.images.length
        ? r.images.map((im) => ({ type: 'image_url', image_url: { url: `data:${im.mime};base64,${im.data}` } }))
        : [{ type: 'text', text: pyStripText(r.stdout) }];
      return [
        { role: 'user', content: [{ type: 'text', text: SANDBOX_OUTPUT_OPEN }, ...inner, { type: 'text', text: SANDBOX_OUTPUT_CLOSE }] },
      ];
    },

    isFinal(parsed: ParsedTurn, executed: readonly ObservationInput[] = [], run?: RunView): boolean {
      if (parsed.answer !== undefined) return true;
      return parsed.code.length > 0 && answeredWithCode(parsed, executed, run, replies.get(parsed) ?? '');
    },

    request: (run: RunView) => thymeRequest(run),
  };
}
