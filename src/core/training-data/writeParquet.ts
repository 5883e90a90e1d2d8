/**
 * Writes rows to a parquet file with an explicit schema (hyparquet-writer), one row group at a
 * time: rows are pulled from an (async) iterable and each group is encoded and flushed before the
 * next is read, so memory holds one group. The file is written under a temporary name and renamed
 * when complete: a failed or cancelled export never leaves a truncated parquet under the real name.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import { rethrowDiskFull } from '../files/diskFull';
import type { Sch } from './schema';

export interface WriteRowsOptions {
  file: string;
  schema: Sch[];
  /** top-level column names, in schema order */
  columns: readonly string[];
  rows: AsyncIterable<Record<string, unknown>> | Iterable<Record<string, unknown>>;
  /** rows per row group (default 256: trajectories with images are large) */
  rowGroupSize?: number;
  kvMetadata?: { key: string; value: string }[];
}

/** Writes the file; returns the number of rows written. */
export async function writeParquetRows(o: WriteRowsOptions): Promise<number> {
  const dir = path.dirname(path.resolve(o.file));
  await fs.mkdir(dir, { recursive: true });
  const tmp = path.join(dir, `.${path.basename(o.file)}.${process.pid}.${Date.now()}.tmp`);
  const groupSize = Math.max(1, o.rowGroupSize ?? 256);
  let n = 0;
  try {
    const writer = new ParquetWriter({
      writer: fileWriter(tmp),
      schema: o.schema as never,
      kvMetadata: o.kvMetadata,
      createdBy: 'codedance',
    });
    let batch: Record<string, unknown>[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const columnData = o.columns.map((name) => ({ name, data: batch.map((r) => r[name] ?? null) }));
      await writer.write({ columnData, rowGroupSize: batch.length });
      n += batch.length;
      batch = [];
    };
    for await (const r of o.rows) {
      batch.push(r);
      if (batch.length >= groupSize) await flush();
    }
    await flush();
    await writer.finish();
    await fs.rename(tmp, o.file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    rethrowDiskFull(e, o.file);
  }
  return n;
}
