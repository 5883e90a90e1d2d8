/**
 * Reading a set's own files as the Hub holds them: parquet (streamed by row group through
 * data/parquet.ts, only the columns asked for) and JSON Lines; images as the Hub stores them
 * (an image struct `{bytes, path}`, raw bytes, base64 text, or a file of the repository).
 * A row that does not decode is an error here, not a skipped row: a converted set is complete.
 */
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parquetInfo, readParquetRows } from '../data/parquet';
import { sniffImageMime } from '../images/sniffImageMime';
import { BenchmarkError, type BenchmarkEntry, type BenchmarkFiles } from './types';

export type SourceRow = Record<string, unknown>;

/** `<repo>@<short revision>: <file>` — how messages name a source file. */
export function where(entry: BenchmarkEntry, repoPath: string): string {
  return `${entry.name} (${entry.repo}@${entry.revision.slice(0, 12)}): ${repoPath}`;
}

/** The local file of a repository path; missing → an error naming the set and how to get it. */
export async function localFile(entry: BenchmarkEntry, files: BenchmarkFiles, repoPath: string): Promise<string> {
  const file = files.path(repoPath);
  try {
    await fs.access(file);
  } catch (e) {
    throw new BenchmarkError(
      `${where(entry, repoPath)} is missing (looked for ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      'download the set again, or point at a copy laid out as the Hub repository (the same paths under one folder)',
    );
  }
  return file;
}

const isParquet = (p: string) => p.toLowerCase().endsWith('.parquet');
const isJsonl = (p: string) => /\.(jsonl|ndjson)$/i.test(p);

/** The row files among an entry's files (parquet, JSON Lines), in order. */
export function rowFiles(entry: BenchmarkEntry): string[] {
  const out = entry.files.filter((f) => isParquet(f) || isJsonl(f));
  if (!out.length)
    throw new BenchmarkError(
      `${entry.name}: none of its files (${entry.files.join(', ')}) is a .parquet or .jsonl file to read rows from`,
      'list the parquet or JSON Lines files that hold the rows in the entry’s files',
    );
  return out;
}

async function jsonlLineCount(file: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line.trim()) n++;
  return n;
}

/** Rows in the entry's row files, read from parquet metadata / by counting JSON lines. */
export async function countSourceRows(entry: BenchmarkEntry, files: BenchmarkFiles): Promise<{ total: number; per: string[] }> {
  let total = 0;
  const per: string[] = [];
  for (const repoPath of rowFiles(entry)) {
    const file = await localFile(entry, files, repoPath);
    const n = isParquet(repoPath) ? (await parquetInfo(file)).rowCount : await jsonlLineCount(file);
    total += n;
    per.push(`${repoPath}: ${n}`);
  }
  return { total, per };
}

async function* jsonlRows(entry: BenchmarkEntry, repoPath: string, file: string): AsyncGenerator<SourceRow> {
  let lineNo = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    lineNo++;
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      throw new BenchmarkError(`${where(entry, repoPath)} line ${lineNo} is not JSON (${(e as Error).message})`, 'download the set again');
    }
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw new BenchmarkError(`${where(entry, repoPath)} line ${lineNo} is not a JSON object`, 'download the set again');
    yield v as SourceRow;
  }
}

async function* parquetRows(entry: BenchmarkEntry, repoPath: string, file: string, columns: string[]): AsyncGenerator<SourceRow> {
  const present = (await parquetInfo(file)).columns;
  const missing = columns.filter((c) => !present.includes(c));
  if (missing.length)
    throw new BenchmarkError(
      `${where(entry, repoPath)} has no column ${missing.map((c) => `'${c}'`).join(', ')} (columns: ${present.join(', ')})`,
      'check that the file is the pinned revision of the set (or, for your own entry, fix its column mapping)',
    );
  for await (const r of readParquetRows(file, { columns })) {
    if (r.error) throw new BenchmarkError(`${where(entry, repoPath)}: ${r.error}`, 'download the set again (the file is damaged)');
    yield r.row;
  }
}

/** Every row of the entry's row files, in file order; `columns`: the parquet columns to decode (all must exist). */
export async function* sourceRows(entry: BenchmarkEntry, files: BenchmarkFiles, columns: string[]): AsyncGenerator<SourceRow> {
  for (const repoPath of rowFiles(entry)) {
    const file = await localFile(entry, files, repoPath);
    yield* isParquet(repoPath) ? parquetRows(entry, repoPath, file, columns) : jsonlRows(entry, repoPath, file);
  }
}

/** A text value (parquet strings may come as bytes); undefined for null/absent. */
export function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** A list of strings (a parquet list column, a JSON array); null → []. */
export function textList(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) return [text(v) ?? ''];
  return v.map((x) => text(x) ?? '');
}

/** A repository path taken from a row: relative, no '..', no backslashes. */
export function repoRelative(p: string): string | undefined {
  const norm = p.replace(/^\.\//, '');
  if (!norm || norm.includes('\\') || path.posix.isAbsolute(norm)) return undefined;
  return norm.split('/').some((s) => s === '..' || s === '') ? undefined : norm;
}

export interface SourceImage {
  bytes: Uint8Array;
  path: string | null;
}

function base64Image(s: string): Uint8Array | undefined {
  const body = s.replace(/^data:[^;,]*;base64,/, '').replace(/\s+/g, '');
  if (body.length < 8 || !/^[A-Za-z0-9+/]+=*$/.test(body)) return undefined;
  const b = Buffer.from(body, 'base64');
  return sniffImageMime(b) ? new Uint8Array(b) : undefined;
}

async function repoImage(entry: BenchmarkEntry, files: BenchmarkFiles, p: string, row: string): Promise<SourceImage> {
  const rel = repoRelative(p);
  if (!rel)
    throw new BenchmarkError(`${entry.name} ${row}: the image path '${p}' is not a path inside the repository`, 'fix the row or the entry');
  return { bytes: new Uint8Array(await fs.readFile(await localFile(entry, files, rel))), path: rel };
}

/**
 * The image of a row: a struct `{bytes, path}` (bytes win; empty bytes → the path inside the
 * repository), raw bytes, base64 text (HR-Bench), or a path inside the repository (V*).
 */
export async function sourceImage(entry: BenchmarkEntry, files: BenchmarkFiles, v: unknown, row: string): Promise<SourceImage> {
  if (v instanceof Uint8Array) {
    const ascii = sniffImageMime(v) ? undefined : base64Image(Buffer.from(v).toString('latin1'));
    return { bytes: ascii ?? v, path: null };
  }
  if (typeof v === 'string') {
    const decoded = base64Image(v);
    return decoded ? { bytes: decoded, path: null } : repoImage(entry, files, v, row);
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as { bytes?: unknown; path?: unknown };
    const p = text(o.path) ?? null;
    if (o.bytes instanceof Uint8Array && o.bytes.length) return { bytes: o.bytes, path: p };
    if (p) return { ...(await repoImage(entry, files, p, row)), path: p };
  }
  throw new BenchmarkError(
    `${entry.name} ${row} has no image (its image value is ${v === null ? 'null' : typeof v})`,
    'download the set again',
  );
}
