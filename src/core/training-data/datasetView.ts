/**
 * Random access to a dataset file for the viewer, without loading it whole:
 *  - parquet: the footer only at open; a page of rows is read with hyparquet from the row
 *    group(s) that hold it (only those byte ranges); a few decoded pages are cached;
 *  - JSONL: one pass at open records each line's byte offset; a page reads only its lines.
 * `filter` streams the file's light columns (never `images`, nor a struct with binary leaves)
 * and returns the matching row indexes with the facet values it saw.
 */
import { promises as fs } from 'node:fs';
import { parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { fileAsyncBuffer } from '../data/parquet';
import { CodeDanceError } from '../errors';
import { datasetFormat } from '../data/dataset';
import type { DatasetFormat } from '../data/types';
import { cellSummary, rowFacts, type RowFacts } from './rowSummary';

export interface DatasetViewInfo {
  file: string;
  format: DatasetFormat;
  rowCount: number;
  columns: string[];
  /** columns holding binary data (images): read only for a page or a row, never to filter */
  heavyColumns: string[];
  bytes: number;
}

export interface PageRow {
  index: number;
  cells: Record<string, string>;
  facts: RowFacts;
  error?: string;
}

export interface RowFilter {
  dataSource?: string;
  ability?: string;
  minToolCalls?: number;
  maxToolCalls?: number;
  /** results files: acc ≥ 1 or not */
  correct?: 'correct' | 'wrong';
  /** case-insensitive, over the text of the light columns */
  search?: string;
  /** only these indexes (e.g. the rows a verify run classified a given way) */
  indexes?: readonly number[];
}

export interface FilterResult {
  indexes: number[];
  facets: { dataSource: string[]; ability: string[] };
  ms: number;
}

type Meta = Awaited<ReturnType<typeof parquetMetadataAsync>>;
type Buf = Awaited<ReturnType<typeof fileAsyncBuffer>>;

export const PAGE_ROWS = 100;

export class DatasetView {
  private pages = new Map<number, Record<string, unknown>[]>();
  private constructor(
    readonly info: DatasetViewInfo,
    private readonly pq?: { buf: Buf; meta: Meta },
    private readonly offsets?: number[],
  ) {}

  static async open(file: string): Promise<DatasetView> {
    const format = datasetFormat(file);
    const { size } = await fs.stat(file);
    if (format === 'parquet') {
      const buf = await fileAsyncBuffer(file);
      let meta: Meta;
      try {
        meta = await parquetMetadataAsync(buf as never);
      } catch (e) {
        throw new CodeDanceError('dataset', `${file}: not a readable parquet file (${(e as Error).message})`, {
          fix: 'open a complete .parquet file (a download or copy cut short loses the footer); write it again if it was cut',
          cause: e,
        });
      }
      const tree = parquetSchema(meta);
      const binary = (n: { element: { type?: string; converted_type?: string; logical_type?: unknown }; children: unknown[] }): boolean =>
        n.children.length
          ? (n.children as (typeof n)[]).some(binary)
          : n.element.type === 'BYTE_ARRAY' &&
            n.element.converted_type !== 'UTF8' &&
            n.element.converted_type !== 'JSON' &&
            !n.element.logical_type;
      const columns = tree.children.map((c) => c.element.name);
      const heavyColumns = tree.children.filter((c) => binary(c as never)).map((c) => c.element.name);
      return new DatasetView({ file, format, rowCount: Number(meta.num_rows), columns, heavyColumns, bytes: size }, { buf, meta });
    }
    const offsets = await lineOffsets(file);
    const view = new DatasetView(
      { file, format, rowCount: offsets.length - 1, columns: [], heavyColumns: [], bytes: size },
      undefined,
      offsets,
    );
    const first = await view.raw(0, Math.min(20, view.info.rowCount));
    const cols = new Set<string>();
    for (const r of first) for (const k of Object.keys(r)) cols.add(k);
    view.info.columns = [...cols];
    view.info.heavyColumns = view.info.columns.filter((c) => c === 'images' || c === 'multi_modal_data');
    return view;
  }

  /** Raw rows [start, end) (clamped). */
  async raw(start: number, end: number, columns?: string[]): Promise<Record<string, unknown>[]> {
    end = Math.min(end, this.info.rowCount);
    if (end <= start) return [];
    if (this.pq)
      return parquetReadObjects({
        file: this.pq.buf as never,
        metadata: this.pq.meta,
        rowStart: start,
        rowEnd: end,
        columns,
        utf8: false,
        useOffsetIndex: true,
      });
    const o = this.offsets!;
    const fh = await fs.open(this.info.file, 'r');
    try {
      const buf = Buffer.alloc(o[end] - o[start]);
      await fh.read(buf, 0, buf.length, o[start]);
      const out: Record<string, unknown>[] = [];
      for (let i = start; i < end; i++) {
        const line = buf.subarray(o[i] - o[start], o[i + 1] - o[start]).toString('utf8');
        try {
          const v = JSON.parse(line) as unknown;
          out.push(
            v && typeof v === 'object' && !Array.isArray(v)
              ? (v as Record<string, unknown>)
              : { __error: `line is ${Array.isArray(v) ? 'an array' : typeof v}, not a JSON object` },
          );
        } catch (e) {
          out.push({ __error: `not valid JSON (${(e as Error).message})` });
        }
      }
      return out;
    } finally {
      await fh.close();
    }
  }

  private async pageRows(p: number): Promise<Record<string, unknown>[]> {
    const hit = this.pages.get(p);
    if (hit) {
      this.pages.delete(p);
      this.pages.set(p, hit);
      return hit;
    }
    const rows = await this.raw(p * PAGE_ROWS, (p + 1) * PAGE_ROWS);
    this.pages.set(p, rows);
    while (this.pages.size > 8) this.pages.delete(this.pages.keys().next().value as number);
    return rows;
  }

  /** Page `p` (PAGE_ROWS rows) as table cells. */
  async page(p: number): Promise<PageRow[]> {
    const rows = await this.pageRows(p);
    return rows.map((r, i) => {
      const index = p * PAGE_ROWS + i;
      if (typeof r.__error === 'string') return { index, cells: {}, facts: { toolCalls: 0, images: 0 }, error: r.__error };
      const cells: Record<string, string> = {};
      for (const c of this.info.columns) cells[c] = cellSummary(r[c]);
      return { index, cells, facts: rowFacts(r) };
    });
  }

  /** One whole row. */
  async row(index: number): Promise<Record<string, unknown>> {
    if (index < 0 || index >= this.info.rowCount)
      throw new CodeDanceError('input', `row ${index} is out of range (0..${this.info.rowCount - 1})`, {
        fix: `give a row index from 0 to ${this.info.rowCount - 1}`,
      });
    const rows = await this.pageRows(Math.floor(index / PAGE_ROWS));
    return rows[index % PAGE_ROWS];
  }

  async filter(f: RowFilter, onProgress?: (done: number) => void, signal?: AbortSignal): Promise<FilterResult> {
    const t0 = performance.now();
    const light = this.info.columns.filter((c) => !this.info.heavyColumns.includes(c));
    const needle = f.search?.trim().toLowerCase();
    const only = f.indexes ? new Set(f.indexes) : undefined;
    const ds = new Set<string>();
    const ab = new Set<string>();
    const out: number[] = [];
    const chunk = this.pq ? 2000 : 500;
    for (let s = 0; s < this.info.rowCount; s += chunk) {
      if (signal?.aborted) break;
      const rows = await this.raw(s, s + chunk, this.pq ? light : undefined);
      rows.forEach((r, i) => {
        const index = s + i;
        const facts = rowFacts(r);
        if (facts.dataSource !== undefined) ds.add(facts.dataSource);
        if (facts.ability !== undefined) ab.add(facts.ability);
        if (only && !only.has(index)) return;
        if (f.dataSource !== undefined && facts.dataSource !== f.dataSource) return;
        if (f.ability !== undefined && facts.ability !== f.ability) return;
        if (f.minToolCalls !== undefined && facts.toolCalls < f.minToolCalls) return;
        if (f.maxToolCalls !== undefined && facts.toolCalls > f.maxToolCalls) return;
        if (f.correct && (facts.correct === undefined || (f.correct === 'correct') !== facts.correct)) return;
        if (needle && !searchText(r, light).includes(needle)) return;
        out.push(index);
      });
      onProgress?.(Math.min(this.info.rowCount, s + chunk));
    }
    return { indexes: out, facets: { dataSource: [...ds].sort(), ability: [...ab].sort() }, ms: performance.now() - t0 };
  }
}

function searchText(r: Record<string, unknown>, columns: string[]): string {
  return JSON.stringify(
    columns.map((c) => r[c]),
    (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? '' : v),
  ).toLowerCase();
}

/** Byte offsets of each non-blank line's start, plus the end (length rows + 1). */
async function lineOffsets(file: string): Promise<number[]> {
  const offsets: number[] = [];
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    let pos = 0;
    let lineStart = 0;
    let blank = true;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (!bytesRead) break;
      for (let i = 0; i < bytesRead; i++) {
        const c = buf[i];
        if (c === 10) {
          if (!blank) offsets.push(lineStart);
          lineStart = pos + i + 1;
          blank = true;
        } else if (c !== 13 && c !== 32 && c !== 9) blank = false;
      }
      pos += bytesRead;
    }
    if (!blank) offsets.push(lineStart);
    // each row's end: the next row's start, or the file's end
    offsets.push(pos);
    return offsets;
  } finally {
    await fh.close();
  }
}
