/**
 * Dataset rows for evals. A row is what the file holds (parquet or JSONL), as plain JS values;
 * a `DatasetSample` is what the eval runner needs from it, read the way the seed's
 * eval/eval.py reads it (`extra_info.question`, `extra_info.answer`, the first of `images`,
 * `data_source` with the `--data-source` flag as fallback).
 */

export type DatasetFormat = 'parquet' | 'jsonl';

/** One raw row with its zero-based position in the file. */
export interface DatasetRow {
  index: number;
  row: Record<string, unknown>;
}

export interface DatasetSample {
  /** zero-based row position in the file (the seed's `index`) */
  index: number;
  dataSource: string;
  question: string;
  answer: string;
  /** the first image's bytes (the seed uses only `images[0]`); empty when the row has none */
  images: Uint8Array[];
  /** set when the image could not be loaded: the seed skips such a row */
  imageError?: string;
}

/** A wrong or missing column: the message names the column and the file. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    message: string,
    readonly file: string,
    readonly column?: string,
  ) {
    super(message);
  }
}
