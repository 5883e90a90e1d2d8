/**
 * Dataset rows for evals. A row is what the file holds (parquet or JSONL), as plain JS values;
 * a `DatasetSample` is what the eval runner needs from it, read the way the seed's
 * eval/eval.py reads it (`extra_info.question`, `extra_info.answer`, the first of `images`,
 * `data_source` with the `--data-source` flag as fallback).
 */
import { CodeDanceError } from '../errors';

export type DatasetFormat = 'parquet' | 'jsonl';

/**
 * One raw row with its zero-based position in the file. A row that cannot be read (a JSONL
 * line that is not a JSON object, a parquet slice that does not decode) has `error` set and an
 * empty `row`: the eval records it as a skipped sample and goes on.
 */
export interface DatasetRow {
  index: number;
  row: Record<string, unknown>;
  error?: string;
}

export interface DatasetSample {
  /** zero-based row position in the file (the seed's `index`) */
  index: number;
  dataSource: string;
  question: string;
  answer: string;
  /** `extra_info.options`, when the row has a list of answer options (V*'s `options`) */
  options?: string[];
  /** the first image's bytes (the seed uses only `images[0]`); empty when the row has none */
  images: Uint8Array[];
  /** where the first image came from (a file path, or the row's inline bytes): error messages name it */
  imageSource?: string;
  /** set when the image could not be loaded: the seed skips such a row */
  imageError?: string;
  /** set when the row itself is unusable (not JSON, no question, no answer): skipped, with this reason */
  rowError?: string;
}

/** A dataset that cannot be used (missing, unreadable, a wrong or missing column): the message names the file, and the column. */
export class DatasetError extends CodeDanceError {
  override name = 'DatasetError';
  constructor(
    message: string,
    readonly file: string,
    readonly column?: string,
  ) {
    super('dataset', message);
  }
}
