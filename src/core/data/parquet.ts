/**
 * Parquet reading with hyparquet (pure JS, no native code, no dependencies; reads nested
 * list/struct columns such as HF `images: list<struct<bytes, path>>`, snappy built in).
 * Rows are streamed one row group at a time (a group over 64 MiB in slices of 64 rows), so
 * memory holds one group's decoded rows at a time, whatever the file's size.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { DatasetRow } from './types';
import { DatasetError } from './types';

interface AsyncBuffer {
  byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
}

/** An AsyncBuffer over a local file (reads only the byte ranges asked for). */
export async function fileAsyncBuffer(file: string): Promise<AsyncBuffer> {
  const { size } = await fs.stat(file);
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = end ?? size;
      if (stop <= start) return new ArrayBuffer(0);
      const fh = await fs.open(file, 'r');
      try {
        const buf = new Uint8Array(stop - start);
        let off = 0;
        while (off < buf.length) {
          const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
          if (bytesRead === 0) break;
          off += bytesRead;
        }
        return buf.buffer;
      } finally {
        await fh.close();
      }
    },
  };
}

export interface ParquetInfo {
  rowCount: number;
  rowGroups: { rowStart: number; rowEnd: number }[];
  /** top-level column names */
  columns: string[];
  /** top-level column name -> its child field names (structs), for schema checks */
  fields: Record<string, string[]>;
}

type Meta = Awaited<ReturnType<typeof parquetMetadataAsync>>;

async function open(file: string): Promise<{ buf: AsyncBuffer; meta: Meta }> {
  const buf = await fileAsyncBuffer(file);
  try {
    const meta = await parquetMetadataAsync(buf as never);
    return { buf, meta };
  } catch (e) {
    throw new DatasetError(`${file}: not a readable parquet file (${(e as Error).message})`, file);
  }
}

function info(meta: Meta): ParquetInfo {
  const tree = parquetSchema(meta);
  const fields: Record<string, string[]> = {};
  for (const c of tree.children) fields[c.element.name] = c.children.map((g) => g.element.name);
  let start = 0;
  const rowGroups = meta.row_groups.map((g) => {
    const n = Number(g.num_rows);
    const r = { rowStart: start, rowEnd: start + n };
    start += n;
    return r;
  });
  return { rowCount: Number(meta.num_rows), rowGroups, columns: tree.children.map((c) => c.element.name), fields };
}

export async function parquetInfo(file: string): Promise<ParquetInfo> {
  return info((await open(file)).meta);
}

/**
 * Streams rows from `start` on, `batchRows` at a time, reading only `columns` (those present).
 * Bytes columns come as Uint8Array; UTF8 columns as strings. A slice that does not decode
 * yields its rows with `error` set.
 */
export async function* readParquetRows(
  file: string,
  opts: { columns?: string[]; start?: number; batchRows?: number; maxGroupBytes?: number } = {},
): AsyncGenerator<DatasetRow> {
  const { buf, meta } = await open(file);
  const inf = info(meta);
  const columns = opts.columns?.filter((c) => inf.columns.includes(c));
  for (const [gi, g] of inf.rowGroups.entries()) {
    if (g.rowEnd <= (opts.start ?? 0)) continue;
    // a row group is decoded in one pass when it is small (the usual case); a big one in slices
    // of `batchRows` rows, so memory holds at most ~maxGroupBytes of decoded rows at a time
    const bytes = Number(meta.row_groups[gi].total_byte_size ?? 0);
    const batch = opts.batchRows ?? (bytes <= (opts.maxGroupBytes ?? 64 * 1024 * 1024) ? g.rowEnd - g.rowStart : 64);
    for (let s = Math.max(g.rowStart, opts.start ?? 0); s < g.rowEnd; s += Math.max(1, batch)) {
      const e = Math.min(g.rowEnd, s + Math.max(1, batch));
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({
          file: buf as never,
          metadata: meta,
          columns,
          rowStart: s,
          rowEnd: e,
          utf8: false,
          useOffsetIndex: true,
        });
      } catch (err) {
        // a damaged page costs its rows, not the run: each becomes a row with `error`
        const error = `rows ${s}..${e - 1} could not be decoded (${(err as Error).message})`;
        for (let i = s; i < e; i++) yield { index: i, row: {}, error };
        continue;
      }
      for (let i = 0; i < rows.length; i++) yield { index: s + i, row: rows[i] };
    }
  }
}

/** sha256 of the file's bytes, streamed (the run manifest's dataset hash). */
export async function fileSha256(file: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const h = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(file, { highWaterMark: 1 << 20 })
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve());
  });
  return h.digest('hex');
}
