/**
 * SFT rows written in a format's own form (sftRow), read back as the chat records a run of it, for
 * the dataset viewer (rowTrajectory):
 *  - `thyme`: an assistant message is one generation: its replies with each sandbox output inside,
 *    `…</code><sandbox_output>{images, or the printed text}</sandbox_output>…`. Each reply is a
 *    turn; a reply's `<code>` block (read as model.py 324 reads it) is its cell, the sandbox output
 *    its output (images; else the text, as stdout). A block whose output is the next user message
 *    (a follow-up's history, as our record keeps it) reads the same; a block with none was dropped
 *    (the sandbox gave nothing). The answer: model.py's reading of the whole message (thymeAnswer);
 *    the plain prompt's reply is the answer whatever it holds.
 *  - `pyvision`: each assistant message is a turn, read by the format's own `parse`: a reply with
 *    `<code>` runs its last ```python block, whose output is the next `<interpreter>` user message
 *    (`Text Result` as stdout, each `<image_clue_k>` image; `Error: …` an error, `Timeout Error` a
 *    timeout); refused code and an empty block are the failed calls the loop records; the reply
 *    without `<code>` is the answer, whole.
 * What the row cannot hold is not invented: stderr, the cell's raw stdout (the model saw PyVision's
 * 400-character cut), an error's exception name (PyVision sends `Error: {message}` only).
 */
import { CodeDanceError } from '../errors';
import { sniffImageMime } from '../images/sniffImageMime';
import {
  createPyvisionProtocol,
  PYVISION_CODE_CLOSE,
  PYVISION_INTERPRETER,
  PYVISION_TIMEOUT_ERROR,
  pyvisionIsCodeTurn,
} from '../protocol/pyvision';
import { IMAGE_TOKEN } from '../protocol/sftText';
import { thymeAnswer, thymeWrapFallback } from '../protocol/thymeLoop';
import {
  SANDBOX_OUTPUT_CLOSE,
  SANDBOX_OUTPUT_OPEN,
  THYME_SYSTEM_PROMPT,
  thymeCode,
  thymePromptParts,
  thymeSimplePrompt,
} from '../protocol/thymePrompt';
import type { CodeCell, ModelTurn, TrajectoryImage } from '../trajectory/types';
import { imageBytes } from './replayPlan';

type RowFormat = 'thyme' | 'pyvision';

type Msg = { role: string; content: string };

export interface FormatRow {
  protocol: RowFormat;
  inputImages: TrajectoryImage[];
  turns: ModelTurn[];
  answer?: string;
}

const INTERPRETER_OPEN = '<interpreter>';
const THYME_SIMPLE_HEAD = thymeSimplePrompt('\0').split('\0')[0];

/** The format a row's messages are written in, when it is one read here (none: the seed's, DeepEyes'). */
function rowFormat(msgs: readonly Msg[]): RowFormat | undefined {
  const users = msgs.filter((m) => m.role === 'user');
  if (users[0]?.content.includes('<image_clue_0>') || users.some((m) => m.content.startsWith(INTERPRETER_OPEN))) return 'pyvision';
  const thyme =
    msgs.some(
      (m) =>
        (m.role === 'system' && m.content === THYME_SYSTEM_PROMPT) || (m.role === 'assistant' && m.content.includes(SANDBOX_OUTPUT_OPEN)),
    ) ||
    users.some((m) => m.content.startsWith(SANDBOX_OUTPUT_OPEN) || thymePromptParts(m.content) || m.content.includes(THYME_SIMPLE_HEAD));
  return thyme ? 'thyme' : undefined;
}

/** The row's images in the order of their `<image>` tokens; one that cannot be read keeps its place, empty. */
function imageTaker(
  images: readonly unknown[],
  file: string,
): (text: string, id: (k: number) => string, source: TrajectoryImage['source']) => TrajectoryImage[] {
  let next = 0;
  return (text, id, source) => {
    const out: TrajectoryImage[] = [];
    for (let k = 0; k < text.split(IMAGE_TOKEN).length - 1; k++) {
      const v = images[next++];
      let bytes: Uint8Array | undefined;
      try {
        bytes = v === undefined ? undefined : imageBytes(v, file);
      } catch (e) {
        if (!(e instanceof CodeDanceError)) throw e;
      }
      out.push(
        bytes
          ? { id: id(k), mime: sniffImageMime(bytes) ?? 'image/png', data: Buffer.from(bytes).toString('base64'), source }
          : { id: id(k), mime: 'image/png', data: '', source },
      );
    }
    return out;
  };
}

type Take = ReturnType<typeof imageTaker>;

function turnOf(index: number, content: string, cells: CodeCell[] = [], answer?: string): ModelTurn {
  return {
    index,
    endpoint: '',
    startedAt: '',
    latencyMs: 0,
    content,
    toolCalls: [],
    retries: 0,
    malformed: [],
    cells,
    ...(answer !== undefined ? { answer } : {}),
  };
}

function cellOf(n: number, code: string, o: Partial<CodeCell>): CodeCell {
  return { id: `t${n}-c0`, turn: n, code, status: 'ok', stdout: '', stderr: '', images: [], ...o };
}

/** A row of the `thyme` or `pyvision` format as the chat's turns; undefined for a row of another format. */
export function formatRow(msgs: readonly Msg[], images: readonly unknown[], file: string): FormatRow | undefined {
  const protocol = rowFormat(msgs);
  if (!protocol) return undefined;
  const take = imageTaker(images, file);
  const firstUser = msgs.findIndex((m) => m.role === 'user');
  const inputImages = firstUser < 0 ? [] : take(msgs[firstUser].content, (k) => `input-${k}`, 'input');
  const rest = msgs.slice(firstUser + 1);
  const plain = firstUser >= 0 && msgs[firstUser].content.includes(THYME_SIMPLE_HEAD);
  const turns = protocol === 'thyme' ? thymeTurns(rest, take, plain) : pyvisionTurns(rest, take);
  const answer = [...turns].reverse().find((t) => t.answer !== undefined)?.answer;
  return { protocol, inputImages, turns, ...(answer !== undefined ? { answer } : {}) };
}

/** A reply that held `</answer>` and a block is appended twice (model.py 316-320, 346-349): once here. */
function once(reply: string): string {
  const half = reply.length / 2;
  return reply.includes('</answer>') && Number.isInteger(half) && reply.slice(0, half) === reply.slice(half) ? reply.slice(0, half) : reply;
}

/** `fallback`: the question is the plain prompt (model.py 414-449), whose reply is the answer */
function thymeTurns(msgs: readonly Msg[], take: Take, fallback: boolean): ModelTurn[] {
  const turns: ModelTurn[] = [];
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (m.role !== 'assistant') {
      // a later question's images (a follow-up), or the plain prompt's (then its reply is the answer)
      take(m.content, (k) => `q${i}-i${k}`, 'input');
      fallback = m.role === 'user' && m.content.includes(THYME_SIMPLE_HEAD);
      continue;
    }
    const pieces = m.content.split(new RegExp(`${SANDBOX_OUTPUT_OPEN}([\\s\\S]*?)${SANDBOX_OUTPUT_CLOSE}`));
    const outputs = pieces.filter((_, k) => k % 2 === 1);
    // a block whose output is recorded as the next message (our history of an earlier question)
    const next = msgs[i + 1];
    const after = next?.role === 'user' && next.content.startsWith(SANDBOX_OUTPUT_OPEN) ? next.content : undefined;
    if (after !== undefined) {
      outputs.push(after.slice(SANDBOX_OUTPUT_OPEN.length, after.lastIndexOf(SANDBOX_OUTPUT_CLOSE)));
      i++;
    }
    pieces
      .filter((_, k) => k % 2 === 0)
      .forEach((piece, k) => {
        const reply = once(piece);
        if (!reply && k > 0) return;
        const n = turns.length;
        const code = thymeCode(reply);
        take(reply, (j) => `t${n}-r${j}`, 'input');
        const out = outputs[k];
        const cell =
          code === undefined
            ? []
            : out === undefined
              ? [
                  cellOf(n, code, {
                    status: 'error',
                    error: { ename: 'ThymeSandboxError', evalue: 'the sandbox gave nothing: the reply was dropped', traceback: [] },
                  }),
                ]
              : [cellOf(n, code, { stdout: out.replaceAll(IMAGE_TOKEN, ''), images: take(out, (j) => `t${n}-c0-i${j}`, 'tool') })];
        turns.push(turnOf(n, reply, cell));
      });
    const whole = m.content.replaceAll(IMAGE_TOKEN, '');
    const answer = fallback ? thymeAnswer(thymeWrapFallback(whole)) : whole.includes('</answer>') ? thymeAnswer(whole) : undefined;
    if (answer !== undefined && turns.length) turns[turns.length - 1].answer = answer;
  }
  return turns;
}

/** An `<interpreter>` message as the cell's output (vis_inference_demo_gpt.py 327-361). */
function interpreterCell(n: number, code: string, message: string | undefined, take: Take): CodeCell {
  if (message === undefined) return cellOf(n, code, { stdout: '(the row records no output for this code)' });
  const body = message.slice(
    INTERPRETER_OPEN.length,
    message.endsWith(PYVISION_INTERPRETER.close) ? -PYVISION_INTERPRETER.close.length : undefined,
  );
  const head = PYVISION_INTERPRETER.open.slice(INTERPRETER_OPEN.length).split('{text}')[0];
  if (!body.startsWith(head)) {
    if (body === PYVISION_TIMEOUT_ERROR) return cellOf(n, code, { status: 'timeout' });
    return cellOf(n, code, { status: 'error', error: { ename: 'Error', evalue: body.replace(/^Error: /, ''), traceback: [] } });
  }
  const mark = body.lastIndexOf('\nImage Result:\n');
  const text = body.slice(head.length, mark < 0 ? undefined : mark);
  const images = mark < 0 ? [] : take(body.slice(mark), (j) => `t${n}-c0-i${j}`, 'figure');
  return cellOf(n, code, { stdout: text === PYVISION_INTERPRETER.none ? '' : text, images });
}

function pyvisionTurns(msgs: readonly Msg[], take: Take): ModelTurn[] {
  const parse = createPyvisionProtocol().parse;
  const turns: ModelTurn[] = [];
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (m.role !== 'assistant') {
      take(m.content, (k) => `q${i}-i${k}`, 'input');
      continue;
    }
    // a code reply went back with `</code>\n` appended (line 368)
    const cut = m.content.endsWith(PYVISION_CODE_CLOSE) ? m.content.slice(0, -PYVISION_CODE_CLOSE.length) : undefined;
    const reply = cut !== undefined && pyvisionIsCodeTurn(cut) ? cut : m.content;
    const n = turns.length;
    take(reply, (j) => `t${n}-r${j}`, 'input');
    const next = msgs[i + 1];
    const output = next?.role === 'user' && next.content.startsWith(INTERPRETER_OPEN) ? next.content : undefined;
    if (output !== undefined) i++;
    const parsed = parse({ content: reply, toolCalls: [] });
    const turn = turnOf(n, reply, [], parsed.answer);
    turn.malformed = parsed.malformed.map((x) => ({ message: x.message }));
    if (parsed.code.length) turn.cells.push(interpreterCell(n, parsed.code[0].code, output, take));
    else if (output !== undefined) take(output, (j) => `t${n}-x${j}`, 'figure');
    turns.push(turn);
  }
  return turns;
}
