/** Messages between the dataset viewer webview and its custom editor (both sides import this file). */
import type { DatasetViewInfo, FilterResult, PageRow, RowFilter } from '../../core/training-data/datasetView';
import type { RowReward } from '../../core/training-data/rowReward';
import type { ExchangeView } from '../protocol';

export type { RowReward } from '../../core/training-data/rowReward';

export type { DatasetViewInfo, PageRow, RowFilter } from '../../core/training-data/datasetView';

/** A verify results file's classification of rows, when one lies beside the dataset. */
export interface VerifyOverlay {
  file: string;
  status: Record<number, string>;
}

/** One row's verify result (core/training-data/verify.ts VerifyRecord, as the file holds it). */
export interface VerifyRowRecord {
  status: string;
  diffs?: { turn: number; what: string; expected: string; got: string }[];
  error?: { turn: number; message: string };
  reason?: string;
}

export type ToDataset =
  | { type: 'info'; info: DatasetViewInfo; openMs: number; verify?: VerifyOverlay }
  | { type: 'page'; page: number; rows: PageRow[] }
  | { type: 'thumb'; index: number; image?: { mime: string; data: string } }
  | ({ type: 'filtered'; seq: number } & FilterResult)
  | { type: 'filterProgress'; seq: number; done: number; total: number }
  /** `verify`: the row's line in the verify results file, when there is one */
  | { type: 'row'; index: number; exchange: ExchangeView; meta: string; promptOnly: boolean; verify?: VerifyRowRecord; reward?: RowReward }
  | { type: 'verify'; overlay: VerifyOverlay }
  | { type: 'error'; text: string };

export type FromDataset =
  | { type: 'ready' }
  | { type: 'page'; page: number }
  | { type: 'thumb'; index: number }
  | { type: 'filter'; seq: number; filter: RowFilter }
  | { type: 'row'; index: number }
  | { type: 'ask'; index: number }
  | { type: 'verify' };
