/**
 * An SFT row (`messages` [{role, content}], `images` [binary]) read as what to replay: the input
 * image (the first `<image>` of the first user message), and for each assistant message its code
 * (the seed's extraction: the `<code>` block, else the first ```python block; or each
 * `<tool_call>` of the training format) with the `<tool_response>` recorded after it (its text
 * and the images of its `<image>` tokens). A DeepEyes zoom (`<tool_call>` of `image_zoom_in_tool`,
 * read as DeepEyes' eval reads it) is not Python: it is kept in `toolCalls` with its response
 * (the crop), for the viewer, and never replayed. A row that cannot be read (malformed messages, text
 * that is not UTF-8, fewer images than `<image>` tokens, an image that does not load) is
 * `{ invalid }` with the reason: reported with its index, never a reason to stop.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXECUTE_PYTHON_CODE } from '../protocol/codedanceTools';
import { deepeyesCall, deepeyesRegion, deepeyesToolCallText } from '../protocol/deepeyes';
import type { ToolRegion } from '../protocol/types';
import { CodeDanceError } from '../errors';
import { codeFromToolCall, extractSeedCode, rawToolCalls } from '../protocol/extract';
import { IMAGE_TOKEN } from '../protocol/sftText';

export type ReplayFormat = 'codedance' | 'codedance-tools';

export interface RecordedObservation {
  /** the text between `<tool_response>` and `</tool_response>`, `<image>` tokens kept */
  text: string;
  images: Uint8Array[];
}

export interface ReplayCell {
  /** 0-based index of the assistant message the code is in */
  turn: number;
  code: string;
  format: ReplayFormat;
  /** absent when the row records no response for this code (e.g. the last turn) */
  recorded?: RecordedObservation;
}

/** A call of a format's own tool the row records (DeepEyes' zoom): shown with its response, never replayed. */
export interface RecordedToolCall {
  /** 0-based index of the assistant message the call is in */
  turn: number;
  /** the call as the model wrote it (the text inside `<tool_call>`) */
  text: string;
  name: string;
  arguments: Record<string, unknown>;
  /** the box it crops, in the first input image */
  region?: ToolRegion;
  recorded?: RecordedObservation;
}

export interface ReplayPlan {
  index: number;
  dataSource: string;
  inputImage?: Uint8Array;
  cells: ReplayCell[];
  /** the DeepEyes zoom calls (absent: none) */
  toolCalls?: RecordedToolCall[];
}

export type PlanResult = ReplayPlan | { index: number; dataSource: string; invalid: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

function text(v: unknown, where: string): string {
  if (typeof v === 'string') {
    if (v.includes('\uFFFD')) throw new CodeDanceError('dataset', `${where} is not valid UTF-8 (it holds replacement characters U+FFFD)`);
    return v;
  }
  if (v instanceof Uint8Array) {
    try {
      return utf8.decode(v);
    } catch {
      throw new CodeDanceError('dataset', `${where} is not valid UTF-8`);
    }
  }
  if (Array.isArray(v))
    return v
      .map((p, i) =>
        p && typeof p === 'object' && (p as { type?: string }).type === 'text'
          ? text((p as { text?: unknown }).text, `${where} part ${i}`)
          : IMAGE_TOKEN,
      )
      .join('');
  if (v === null || v === undefined) return '';
  throw new CodeDanceError('dataset', `${where} is ${typeof v}, not text`);
}

const IMAGE_VALUE_FIX = { fix: 'give each image as raw bytes, a {bytes, path} struct, a base64 data: URL or a file path' };

/** One image value of a row: raw bytes, a {bytes, path} struct, a base64/data: string, or a path. */
export function imageBytes(v: unknown, datasetFile: string): Uint8Array {
  if (v instanceof Uint8Array) {
    if (!v.length) throw new CodeDanceError('dataset', 'the image bytes are empty');
    return v;
  }
  if (v && typeof v === 'object') {
    const o = v as { bytes?: unknown; path?: unknown };
    if (o.bytes instanceof Uint8Array && o.bytes.length) return o.bytes;
    if (typeof o.bytes === 'string' && o.bytes) return imageBytes(o.bytes, datasetFile);
    if (typeof o.path === 'string' && o.path) return imageBytes(o.path, datasetFile);
    throw new CodeDanceError('dataset', 'the image struct has neither bytes nor path', IMAGE_VALUE_FIX);
  }
  if (typeof v === 'string' && v) {
    const m = /^data:[^;,]*;base64,(.*)$/s.exec(v);
    if (m) return Buffer.from(m[1], 'base64');
    const file = path.isAbsolute(v) ? v : path.resolve(path.dirname(datasetFile), v);
    try {
      return readFileSync(file);
    } catch (e) {
      throw new CodeDanceError(
        'dataset',
        `image file ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        {
          fix: "a relative image path is read from the dataset file's folder: put the image there, or store its bytes in the row",
          cause: e,
        },
      );
    }
  }
  throw new CodeDanceError('dataset', `unrecognized image value (${v === null ? 'null' : typeof v})`, IMAGE_VALUE_FIX);
}

const RESPONSE = /<tool_response>([\s\S]*?)<\/tool_response>/g;

type Planned = { code: string; format: ReplayFormat } | { tool: Omit<RecordedToolCall, 'turn' | 'recorded'> };

function codesOf(content: string): Planned[] {
  if (content.includes('<tool_call>')) {
    const out: Planned[] = [];
    for (const r of rawToolCalls(content)) {
      if (!r.ok) continue; // a malformed call ran nothing: there is nothing to replay
      const c = codeFromToolCall(r.call, EXECUTE_PYTHON_CODE);
      if (c.ok) out.push({ code: c.code, format: 'codedance-tools' });
    }
    return out.length ? out : deepeyesZoom(content);
  }
  const code = extractSeedCode(content);
  return code !== undefined ? [{ code, format: 'codedance' }] : [];
}

/** A DeepEyes zoom call, read as its eval reads it (the first `<tool_call>`, a Python literal with `arguments.bbox_2d`); none otherwise. */
function deepeyesZoom(content: string): Planned[] {
  const text = deepeyesToolCallText(content);
  const call = text === undefined ? undefined : deepeyesCall(text);
  if (!text || !call?.ok) return [];
  const region = deepeyesRegion(call.arguments);
  return [{ tool: { text, name: call.name, arguments: call.arguments, ...(region ? { region } : {}) } }];
}

/** The replay plan of one raw row (never throws). */
export function replayPlan(index: number, row: Record<string, unknown>, datasetFile: string, readError?: string): PlanResult {
  const dataSource = typeof row.data_source === 'string' && row.data_source ? row.data_source : 'default';
  const bad = (invalid: string) => ({ index, dataSource, invalid });
  if (readError) return bad(readError);
  const raw = row.messages ?? row.prompt;
  if (!Array.isArray(raw) || !raw.length)
    return bad(
      `'messages' is ${raw === undefined || raw === null ? 'missing' : Array.isArray(raw) ? 'empty' : `a ${typeof raw}, not a list`}`,
    );
  let msgs: PlanMessage[];
  try {
    msgs = raw.map(planMessage);
  } catch (e) {
    return bad((e as Error).message);
  }
  const images = row.images === undefined || row.images === null ? [] : Array.isArray(row.images) ? row.images : [row.images];
  const tokens = msgs.reduce((n, m) => n + m.content.split(IMAGE_TOKEN).length - 1, 0);
  if (tokens > images.length) return bad(`the messages hold ${tokens} <image> token(s) but the row has ${images.length} image(s)`);
  const plan: ReplayPlan = { index, dataSource, cells: [] };
  try {
    planCells(plan, msgs, imageTaker(images, datasetFile));
  } catch (e) {
    return bad((e as Error).message);
  }
  return plan;
}

type PlanMessage = { role: string; content: string };

function planMessage(m: unknown, i: number): PlanMessage {
  if (!m || typeof m !== 'object' || typeof (m as { role?: unknown }).role !== 'string')
    throw new CodeDanceError('dataset', `message ${i} has no role`);
  return { role: (m as { role: string }).role, content: text((m as { content?: unknown }).content, `message ${i}`) };
}

/** The row's images for the `<image>` tokens of a text: they are consumed in the order of their tokens. */
function imageTaker(images: unknown[], datasetFile: string): (content: string) => Uint8Array[] {
  let next = 0;
  return (content) => {
    const n = content.split(IMAGE_TOKEN).length - 1;
    const out: Uint8Array[] = [];
    for (let k = 0; k < n; k++) out.push(imageBytes(images[next++], datasetFile));
    return out;
  };
}

/** Each assistant turn's code, with the tool response recorded after it (its text and images); the first user image is the input. */
function planCells(plan: ReplayPlan, msgs: PlanMessage[], take: (content: string) => Uint8Array[]): void {
  let assistant = -1;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i];
    if (m.role !== 'assistant') {
      const imgs = take(m.content);
      if (m.role === 'user' && plan.inputImage === undefined && imgs.length && assistant < 0) plan.inputImage = imgs[0];
      continue;
    }
    assistant++;
    const codes = codesOf(m.content);
    take(m.content);
    const reply = msgs[i + 1]?.role !== 'assistant' ? (msgs[i + 1]?.content ?? '') : '';
    const responses = [...reply.matchAll(RESPONSE)].map((x) => x[1]);
    codes.forEach((c, k) => {
      const body = responses[k];
      const recorded = body === undefined ? undefined : { text: body, images: take(body) };
      if ('tool' in c) (plan.toolCalls ??= []).push({ turn: assistant, ...c.tool, recorded });
      else plan.cells.push({ turn: assistant, ...c, recorded });
    });
    if (responses.length > codes.length) for (const extra of responses.slice(codes.length)) take(extra);
    if (responses.length) i++;
  }
}
