/**
 * `writeBenchmarkParquet(rows, file)`: converted rows as a parquet file the eval reads back
 * (`codedance eval --data-path`, data/dataset.ts) and the dataset viewer opens, with the same
 * writer as `codedance data export` (training-data/writeParquet.ts: one row group at a time,
 * under a temporary name renamed when complete). Layout, explicit (never inferred):
 *
 *   data_source: string, prompt: list<struct<role, content>>, images: list<struct<bytes: binary, path: string>>,
 *   ability: string, reward_model: struct<ground_truth, style>,
 *   extra_info: struct<question, answer, index: int64, split, benchmark, id>
 */
import { messagesSchema, type Sch } from '../training-data/schema';
import { writeParquetRows } from '../training-data/writeParquet';
import type { BenchmarkEntry, SeedEvalRow } from './types';

const str = (name: string): Sch => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
const group = (name: string, children: Sch[][]): Sch[] => [
  { name, repetition_type: 'OPTIONAL', num_children: children.length },
  ...children.flat(),
];

export const BENCHMARK_COLUMNS = ['data_source', 'prompt', 'images', 'ability', 'reward_model', 'extra_info'] as const;

export function benchmarkSchema(): Sch[] {
  const images: Sch[] = [
    { name: 'images', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    ...group('element', [[{ name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' }], [str('path')]]),
  ];
  const extra = group('extra_info', [
    [str('question')],
    [str('answer')],
    [{ name: 'index', type: 'INT64', repetition_type: 'OPTIONAL' }],
    [str('split')],
    [str('benchmark')],
    [str('id')],
  ]);
  return [
    { name: 'schema', num_children: BENCHMARK_COLUMNS.length },
    str('data_source'),
    ...messagesSchema('prompt'),
    ...images,
    str('ability'),
    ...group('reward_model', [[str('ground_truth')], [str('style')]]),
    ...extra,
  ];
}

export interface WriteBenchmarkOptions {
  /** recorded in the file's key-value metadata (`codedance.benchmark`: name, repo, revision); the eval's manifest reads it back */
  entry?: BenchmarkEntry;
  /** the rows come from a local copy laid out as the repository (`--from DIR`): its revision is not checked, and the metadata says so */
  offlineCopy?: boolean;
  /** rows per row group (default 32: HR-Bench 8K images are megabytes each) */
  rowGroupSize?: number;
}

/** Writes the rows; returns how many were written. A failure (a row-count error included) leaves no file. */
export function writeBenchmarkParquet(
  rows: AsyncIterable<SeedEvalRow> | Iterable<SeedEvalRow>,
  file: string,
  o: WriteBenchmarkOptions = {},
): Promise<number> {
  const e = o.entry;
  return writeParquetRows({
    file,
    schema: benchmarkSchema(),
    columns: BENCHMARK_COLUMNS,
    rows: rows as AsyncIterable<Record<string, unknown>> | Iterable<Record<string, unknown>>,
    rowGroupSize: o.rowGroupSize ?? 32,
    kvMetadata: e
      ? [
          {
            key: 'codedance.benchmark',
            value: JSON.stringify({
              name: e.name,
              repo: e.repo,
              revision: e.revision,
              version: 1,
              ...(o.offlineCopy ? { offline_copy: true } : {}),
            }),
          },
        ]
      : undefined,
  });
}
