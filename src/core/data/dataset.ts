/**
 * `openDataset(file)`: a parquet or JSONL eval/RL dataset, checked and streamed as
 * `DatasetSample`s, read the way the seed's eval/eval.py reads a row:
 *   - `data_source`: the row's value wins, the `--data-source` fallback otherwise;
 *   - `images`: a list whose first entry is a `{bytes, path}` struct (empty bytes -> open
 *     `path`) or raw bytes; a path is tried as given, then relative to the dataset file;
 *   - `extra_info.question`, `extra_info.answer`.
 * Beyond the seed (for the published RL/SFT schemas): without `extra_info.question` the last
 * user message of `prompt`/`messages` is the question (`<image>` removed), and without
 * `extra_info.answer` `reward_model.ground_truth` is the answer. A dataset with neither is
 * refused at open with an error naming the column and the file; one row without them (or a
 * JSONL line that is not a JSON object) is a sample with `rowError`, which the eval records as
 * skipped, with its index and the reason, and goes on.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { countJsonlRows, readJsonlRows } from './jsonl';
import { fileSha256, parquetInfo, readParquetRows } from './parquet';
import type { DatasetFormat, DatasetRow, DatasetSample } from './types';
import { DatasetError } from './types';

export * from './types';

/** the top-level columns the eval reads (others, e.g. `ability`, are never decoded) */
export const EVAL_COLUMNS = ['data_source', 'images', 'extra_info', 'prompt', 'messages', 'reward_model'];

export interface Dataset {
  file: string;
  format: DatasetFormat;
  /** file stem: names the result file like the seed (`result_{model}_{stem}.jsonl`) */
  stem: string;
  rowCount: number;
  columns: string[];
  rows(start?: number): AsyncGenerator<DatasetRow>;
  samples(opts?: { start?: number; fallbackDataSource?: string }): AsyncGenerator<DatasetSample>;
  sha256(): Promise<string>;
}

export function datasetFormat(file: string): DatasetFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new DatasetError(`${file}: unsupported dataset type '${ext || '(none)'}': use a .parquet or .jsonl file`, file);
}

export async function openDataset(file: string, opts: { batchRows?: number } = {}): Promise<Dataset> {
  const abs = path.resolve(file);
  const format = datasetFormat(abs);
  let rowCount: number;
  let columns: string[];
  let fields: Record<string, string[]> | undefined;
  try {
    if (format === 'parquet') {
      const inf = await parquetInfo(abs);
      rowCount = inf.rowCount;
      columns = inf.columns;
      fields = inf.fields;
    } else {
      rowCount = await countJsonlRows(abs);
      ({ columns, fields } = await jsonlColumns(abs));
    }
  } catch (e) {
    if (e instanceof DatasetError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new DatasetError(code === 'ENOENT' ? `dataset not found: ${abs}` : `${abs}: ${(e as Error).message}`, abs);
  }
  if (rowCount > 0) checkSchema(abs, columns, fields ?? {});
  const rows = (start = 0) =>
    format === 'parquet'
      ? readParquetRows(abs, { columns: EVAL_COLUMNS, start, batchRows: opts.batchRows })
      : readJsonlRows(abs, { start });
  return {
    file: abs,
    format,
    stem: path.basename(abs, path.extname(abs)),
    rowCount,
    columns,
    rows,
    async *samples(o = {}) {
      for await (const r of rows(o.start ?? 0)) yield toSample(r, abs, o.fallbackDataSource ?? 'default');
    },
    sha256: () => fileSha256(abs),
  };
}

/**
 * The columns (and struct fields) of a JSONL file: the union over its first rows that are JSON
 * objects, so that one bad or sparse first line does not decide the schema. A file whose first
 * lines are all unreadable is not JSON Lines: refused.
 */
async function jsonlColumns(file: string, scan = 100): Promise<{ columns: string[]; fields: Record<string, string[]> }> {
  const fields: Record<string, Set<string>> = {};
  let good = 0;
  let firstError: string | undefined;
  let seen = 0;
  for await (const r of readJsonlRows(file)) {
    if (++seen > scan) break;
    if (r.error) {
      firstError ??= r.error;
      continue;
    }
    good++;
    for (const [k, v] of Object.entries(r.row)) {
      const f = (fields[k] ??= new Set());
      if (v && typeof v === 'object' && !Array.isArray(v)) for (const sub of Object.keys(v)) f.add(sub);
    }
  }
  if (!good && firstError)
    throw new DatasetError(
      `${file}: not a JSON Lines file: none of its first ${Math.min(seen, scan)} line(s) is a JSON object (${firstError}); each line must be one JSON object`,
      file,
    );
  return { columns: Object.keys(fields), fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, [...v]])) };
}

function checkSchema(file: string, columns: string[], fields: Record<string, string[]>): void {
  const has = (c: string) => columns.includes(c);
  const sub = (c: string, f: string) => (fields[c] ?? []).includes(f);
  const found = `columns found: ${columns.join(', ') || '(none)'}`;
  const hasQuestion = (has('extra_info') && sub('extra_info', 'question')) || has('prompt') || has('messages');
  if (!hasQuestion) {
    const col = has('extra_info') ? 'extra_info.question' : 'extra_info';
    throw new DatasetError(
      `${file}: column '${col}' is missing: the eval reads the question from extra_info.question (or the last user message of 'prompt'/'messages'); ${found}`,
      file,
      col,
    );
  }
  const hasAnswer = (has('extra_info') && sub('extra_info', 'answer')) || (has('reward_model') && sub('reward_model', 'ground_truth'));
  if (!hasAnswer) {
    const col = has('extra_info') ? 'extra_info.answer' : 'extra_info';
    throw new DatasetError(
      `${file}: column '${col}' is missing: the eval reads the ground truth from extra_info.answer (or reward_model.ground_truth); ${found}`,
      file,
      col,
    );
  }
  if (
    has('images') &&
    fields.images &&
    fields.images.length &&
    !['list', 'element', 'item', 'array', 'bag'].some((n) => fields.images.includes(n)) &&
    !sub('images', 'bytes')
  ) {
    throw new DatasetError(
      `${file}: column 'images' must be a list of images ({bytes, path} structs or raw bytes); it has fields ${fields.images.join(', ')}`,
      file,
      'images',
    );
  }
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  return JSON.stringify(v);
}

function obj(v: unknown): Record<string, unknown> | undefined {
  if (typeof v === 'string') {
    try {
      const p = JSON.parse(v);
      return p && typeof p === 'object' ? (p as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }
  return v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) ? (v as Record<string, unknown>) : undefined;
}

function lastUserText(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = obj(messages[i]);
    if (m?.role !== 'user') continue;
    const c = m.content;
    if (typeof c === 'string') return c.replaceAll('<image>', '').trim();
    if (Array.isArray(c))
      return c
        .map((p) => obj(p))
        .filter((p) => p?.type === 'text')
        .map((p) => String(p?.text ?? ''))
        .join('\n')
        .replaceAll('<image>', '')
        .trim();
  }
  return undefined;
}

function bytesOf(v: unknown): Uint8Array | undefined {
  if (v instanceof Uint8Array) return v.length ? v : undefined;
  if (Array.isArray(v) && v.length && v.every((x) => typeof x === 'number')) return Uint8Array.from(v as number[]);
  if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data))
    return Uint8Array.from((v as { data: number[] }).data);
  if (typeof v === 'string' && v.length) {
    const m = /^data:[^;,]*;base64,(.*)$/s.exec(v);
    if (m) return Buffer.from(m[1], 'base64');
  }
  return undefined;
}

function readImagePath(p: string, datasetFile: string): LoadedImage {
  const tries = path.isAbsolute(p) ? [p] : [path.resolve(path.dirname(datasetFile), p), path.resolve(p)];
  let last: NodeJS.ErrnoException | undefined;
  for (const t of tries) {
    try {
      return { bytes: readFileSync(t), source: t };
    } catch (e) {
      last = e as NodeJS.ErrnoException;
      if (last.code !== 'ENOENT') throw new DatasetError(`image file ${t} could not be read (${last.code ?? last.message})`, datasetFile);
    }
  }
  throw new DatasetError(`image file not found: ${p} (tried ${tries.join(', ')})`, datasetFile);
}

/** An image's bytes and where they came from (a file path, or 'inline bytes'). */
export interface LoadedImage {
  bytes: Uint8Array;
  source: string;
}

const INLINE = 'inline bytes';

/** The first image of the row, as the seed takes it, with its source; throws when it cannot be loaded. */
export function loadFirstImage(images: unknown, datasetFile: string): LoadedImage | undefined {
  if (images === undefined || images === null) return undefined;
  const direct = bytesOf(images);
  if (direct) return { bytes: direct, source: INLINE }; // the seed: `process_image_from_bytes(image_data)` for non-struct data
  const first = Array.isArray(images) ? images[0] : images;
  if (first === undefined || first === null) return undefined;
  const raw = bytesOf(first);
  if (raw) return { bytes: raw, source: INLINE };
  if (typeof first === 'string') return readImagePath(first, datasetFile); // JSONL: a path
  const o = obj(first);
  if (o && ('bytes' in o || 'path' in o)) {
    const b =
      typeof o.bytes === 'string' && !o.bytes.startsWith('data:')
        ? o.bytes
          ? Buffer.from(o.bytes, 'base64')
          : undefined
        : bytesOf(o.bytes);
    if (b && b.length) return { bytes: b, source: INLINE };
    const p = str(o.path);
    if (!p) throw new DatasetError('the image struct has neither bytes nor path', datasetFile);
    return readImagePath(p, datasetFile);
  }
  throw new DatasetError(`unrecognized image value (${typeof first})`, datasetFile);
}

/** The first image's bytes (see loadFirstImage). */
export function firstImage(images: unknown, datasetFile: string): Uint8Array | undefined {
  return loadFirstImage(images, datasetFile)?.bytes;
}

/**
 * One row as a sample. Never throws: a row without its question or answer, or one that could
 * not be read, gets `rowError`; an image that does not load, `imageError` (both: skipped).
 */
export function toSample(r: DatasetRow, datasetFile: string, fallbackDataSource = 'default'): DatasetSample {
  const row = r.row;
  const extra = obj(row.extra_info) ?? {};
  const reward = obj(row.reward_model) ?? {};
  const question = r.error ? undefined : (str(extra.question) ?? lastUserText(row.prompt ?? row.messages));
  const answer = r.error ? undefined : (str(extra.answer) ?? str(reward.ground_truth));
  const ds = str(row.data_source);
  const sample: DatasetSample = {
    index: r.index,
    dataSource: ds ? ds : fallbackDataSource,
    question: question ?? '',
    answer: answer ?? '',
    images: [],
  };
  const options = choiceOptions(extra.options);
  if (options) sample.options = options;
  const where = `${datasetFile}: row ${r.index}`;
  const rowError = rowProblem(r, question, answer);
  if (rowError) {
    sample.rowError = `${where}: ${rowError}`;
    return sample;
  }
  try {
    const img = loadFirstImage(row.images, datasetFile);
    if (img) {
      sample.images = [img.bytes];
      sample.imageSource = img.source === INLINE ? `${where} (inline bytes)` : img.source;
    }
  } catch (e) {
    sample.imageError = `${where}: ${(e as Error).message}`;
  }
  return sample;
}

/** V*'s `options` (the DeepEyes format letters them under the question); a list of strings only */
function choiceOptions(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.length && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

/** Why a row cannot be a sample: it could not be read, or it has no question or no answer. */
function rowProblem(r: DatasetRow, question: string | undefined, answer: string | undefined): string | undefined {
  if (r.error) return r.error;
  if (question === undefined) return "no question ('extra_info.question' is missing or null, and no user message in 'prompt'/'messages')";
  if (answer === undefined) return "no answer ('extra_info.answer' is missing or null, and no 'reward_model.ground_truth')";
  return undefined;
}
