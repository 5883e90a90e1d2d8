/**
 * The dataset viewer webview's protocol. Requests carry message ids and are checked against
 * `datasetRequest` at the extension's boundary; each gets one reply with the response
 * `DatasetResponses` gives it (a page of rows for `page`, a row as a trajectory for `row`, …).
 * A filter pass reports its progress on its own (`filterProgress`, by the pass's `seq`).
 */
import * as v from 'valibot';
import type { DatasetViewInfo, FilterResult, PageRow, RowFilter as CoreRowFilter } from '../core/training-data/datasetView';
import type { RowReward } from '../core/reward/rowReward';
import type { ExchangeView } from './chat';
import { index, request, text, type Reply } from './messages';

export type { RowReward } from '../core/reward/rowReward';
export type { DatasetViewInfo, FilterResult, PageRow } from '../core/training-data/datasetView';

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

const toolCalls = v.pipe(v.number(), v.finite());

/** The filters of the viewer's controls (core's `RowFilter`, checked field by field). */
export const rowFilter = v.object({
  dataSource: v.optional(text(10_000)),
  ability: v.optional(text(10_000)),
  minToolCalls: v.optional(toolCalls),
  maxToolCalls: v.optional(toolCalls),
  correct: v.optional(v.picklist(['correct', 'wrong'])),
  search: v.optional(text(10_000)),
  indexes: v.optional(v.pipe(v.array(index), v.maxLength(100_000_000))),
});
export type RowFilter = v.InferOutput<typeof rowFilter>;
// compile-time: what the schema lets through is a filter core understands
const _rowFilterFits = (f: RowFilter): CoreRowFilter => f;

export const datasetRequest = v.variant('type', [
  request('ready', {}),
  request('page', { page: index }),
  request('thumb', { index }),
  /** `seq`: the pass's number in the webview (-1: only the facets); progress comes under it */
  request('filter', { seq: v.pipe(v.number(), v.integer()), filter: rowFilter }),
  request('row', { index }),
  /** opens the chat with the row's image and question */
  request('ask', { index }),
  /** runs verify over the file */
  request('verify', {}),
]);

export type FromDataset = v.InferOutput<typeof datasetRequest>;

/** A row as the viewer shows it: its trajectory, other fields, and what verify and the reward say of it. */
export interface RowView {
  exchange: ExchangeView;
  meta: string;
  promptOnly: boolean;
  /** the row's line in the verify results file, when there is one */
  verify?: VerifyRowRecord;
  reward?: RowReward;
}

export interface DatasetResponses {
  ready: { info: DatasetViewInfo; openMs: number; verify?: VerifyOverlay };
  page: PageRow[];
  thumb: { image?: { mime: string; data: string } };
  /** undefined: the pass was cancelled by a newer one */
  filter: FilterResult | undefined;
  row: RowView;
  ask: void;
  /** the new overlay, when verify wrote its results file */
  verify: { overlay?: VerifyOverlay };
}

export type ToDataset =
  Reply<DatasetResponses[keyof DatasetResponses]> | { type: 'filterProgress'; seq: number; done: number; total: number };
