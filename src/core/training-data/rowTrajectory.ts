/**
 * A dataset row as a Trajectory, so the viewer renders it with the chat's renderer: the first
 * user message is the question (its images the input images), each assistant message a turn,
 * its code a cell whose output is the `<tool_response>` recorded after it (text as stdout, its
 * `<image>`s as the cell's images, an `--- Execution Error` block as the error), and the last
 * `<answer>` the answer. A DeepEyes zoom (`image_zoom_in_tool`) is a tool cell as the chat
 * records it: its call, the box in the first image, the crop of its `<tool_response>` as its
 * image. A row of Thyme's or PyVision's own form is read as that format records a run
 * (formatRows.ts). An RL row (prompt only) is a question without turns. An eval results
 * line carries its own trajectory (read by the caller with recordTrajectory).
 */
import { CodeDanceError } from '../errors';
import { sniffImageMime } from '../images/sniffImageMime';
import { DEEPEYES_USER_PROMPT } from '../protocol/deepeyes';
import { extractAnswerTag, pyStrip } from '../protocol/extract';
import { createTrajectory } from '../trajectory/create';
import type { CodeCell, ModelTurn, Trajectory, TrajectoryImage } from '../trajectory/types';
import { imageBytes, replayPlan, type RecordedToolCall, type ReplayPlan } from './replayPlan';
import { IMAGE_TOKEN } from '../protocol/sftText';
import { formatRow, type FormatRow } from './formatRows';

function image(bytes: Uint8Array, id: string, source: TrajectoryImage['source']): TrajectoryImage {
  return { id, mime: sniffImageMime(bytes) ?? 'image/png', data: Buffer.from(bytes).toString('base64'), source };
}

function text(c: unknown): string {
  if (typeof c === 'string') return c;
  if (c instanceof Uint8Array) return Buffer.from(c).toString('utf8');
  if (Array.isArray(c))
    return c
      .map((p) =>
        p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : IMAGE_TOKEN,
      )
      .join('');
  return '';
}

export function rowTrajectory(row: Record<string, unknown>, index: number, file: string): Trajectory {
  const raw = (row.messages ?? row.prompt) as unknown;
  const msgs = Array.isArray(raw)
    ? raw.map((m) => ({ role: String((m as { role?: unknown })?.role ?? ''), content: text((m as { content?: unknown })?.content) }))
    : [];
  const extra = row.extra_info && typeof row.extra_info === 'object' ? (row.extra_info as Record<string, unknown>) : {};
  const firstUser = msgs.find((m) => m.role === 'user');
  const question = typeof extra.question === 'string' ? extra.question : (firstUser?.content.replaceAll(IMAGE_TOKEN, '').trim() ?? '');
  const images = Array.isArray(row.images) ? row.images : [];
  const own = formatRow(msgs, images, file);
  if (own) return formatTrajectory(own, index, question);
  const inputCount = firstUser ? firstUser.content.split(IMAGE_TOKEN).length - 1 : 0;
  const inputImages = rowInputImages(images, Math.max(inputCount, msgs.length ? 0 : images.length ? 1 : 0), file);
  const plan = replayPlan(index, row, file);
  const toolCalls = ('invalid' in plan ? undefined : plan.toolCalls) ?? [];
  const turns = rowTurns(msgs, 'invalid' in plan ? [] : plan.cells, toolCalls);
  const answer = [...turns].reverse().find((t) => t.answer !== undefined)?.answer;
  return createTrajectory({
    id: `row-${index}`,
    question,
    model: 'dataset',
    protocol: toolCalls.length ? 'deepeyes' : 'codedance',
    inputImages,
    turns,
    answer,
    status: answer !== undefined ? 'answered' : turns.length ? 'max_turns' : 'running',
    createdAt: new Date(0).toISOString(),
  });
}

/** A row of Thyme's or PyVision's own form (formatRows.ts) as the chat records its run. */
function formatTrajectory(r: FormatRow, index: number, question: string): Trajectory {
  return createTrajectory({
    id: `row-${index}`,
    question,
    model: 'dataset',
    protocol: r.protocol,
    inputImages: r.inputImages,
    turns: r.turns,
    answer: r.answer,
    status: r.answer !== undefined ? 'answered' : r.turns.length ? 'max_turns' : 'running',
    createdAt: new Date(0).toISOString(),
  });
}

/** Each assistant message as a model turn: its text, its answer, its recorded code cells and zoom calls. */
function rowTurns(msgs: { role: string; content: string }[], cells: ReplayPlan['cells'], toolCalls: RecordedToolCall[]): ModelTurn[] {
  const turns: ModelTurn[] = [];
  for (const m of msgs) {
    if (m.role !== 'assistant') continue;
    const n = turns.length;
    const own = cells.filter((c) => c.turn === n).map((c, k) => recordedCell(c, n, k));
    for (const c of toolCalls.filter((x) => x.turn === n)) own.push(recordedToolCell(c, n, own.length));
    turns.push({
      index: n,
      endpoint: '',
      startedAt: '',
      latencyMs: 0,
      content: m.content,
      toolCalls: [],
      retries: 0,
      malformed: [],
      cells: own,
      answer: extractAnswerTag(m.content),
    });
  }
  return turns;
}

/** The first `count` images of the row; one that cannot be read keeps its place, empty. */
function rowInputImages(images: unknown[], count: number, file: string): TrajectoryImage[] {
  const inputImages: TrajectoryImage[] = [];
  for (let k = 0; k < count && k < images.length; k++) {
    let bytes: Uint8Array | undefined;
    try {
      bytes = imageBytes(images[k], file);
    } catch (e) {
      if (!(e instanceof CodeDanceError)) throw e;
    }
    // an image that cannot be read keeps its place, empty (as recordTrajectory's `missing: 'empty'`):
    // the viewer shows it missing instead of the row seeming to have fewer images
    inputImages.push(bytes ? image(bytes, `input-${k}`, 'input') : { id: `input-${k}`, mime: 'image/png', data: '', source: 'input' });
  }
  return inputImages;
}

/**
 * A recorded DeepEyes zoom as the chat records one: the call's text as its code, its tool (name,
 * arguments, box), the crop(s) of its response as images (source `tool`). The response's text is
 * DeepEyes' instruction, which the chat does not show as output; any other text is kept as stdout.
 */
function recordedToolCell(c: RecordedToolCall, n: number, k: number): CodeCell {
  const rest = pyStrip(c.recorded?.text.replaceAll(IMAGE_TOKEN, '') ?? '');
  const stdout = !c.recorded ? '(the row records no response to this call)' : rest === pyStrip(DEEPEYES_USER_PROMPT) ? '' : rest;
  return {
    id: `t${n}-c${k}`,
    turn: n,
    code: c.text,
    tool: { name: c.name, arguments: c.arguments, ...(c.region ? { region: c.region } : {}) },
    status: 'ok',
    stdout,
    stderr: '',
    images: (c.recorded?.images ?? []).map((b, i) => image(b, `t${n}-c${k}-i${i}`, 'tool')),
  };
}

/** A planned cell as the chat shows it: the recorded response as its output (an `--- Execution Error` block as its error). */
function recordedCell(c: ReplayPlan['cells'][number], n: number, k: number): CodeCell {
  const rec = c.recorded;
  const body = rec?.text.replaceAll(IMAGE_TOKEN, '').trim() ?? '';
  const err = /--- Execution Error \((\w+)\) ---\n?([\s\S]*)$/.exec(body);
  const cell: CodeCell = {
    id: `t${n}-c${k}`,
    turn: n,
    code: c.code,
    status: err ? (err[1] === 'TimeoutError' ? 'timeout' : 'error') : 'ok',
    stdout: !rec ? '(the row records no response to this code)' : err ? body.slice(0, err.index).trim() : body,
    stderr: '',
    images: (rec?.images ?? []).map((b, i) => image(b, `t${n}-c${k}-i${i}`, 'figure')),
  };
  if (err) {
    const [ename, ...rest] = err[2].split(': ');
    cell.error = { ename: ename.trim(), evalue: rest.join(': ').trim(), traceback: [] };
  }
  return cell;
}
