/**
 * The eval report webview's protocol. Requests carry message ids and are checked against
 * `reportRequest` at the extension's boundary; each gets one reply with the response
 * `ReportResponses` gives it (a sample's detail for `sample`). The runs come on their own
 * (`runs`): at `ready`, and again whenever the report loads other files (A/B).
 */
import * as v from 'valibot';
import type { ReportRun, ReportSample } from '../core/eval/reportTypes';
import { index, request, type Reply } from './messages';

export type * from '../core/eval/reportTypes';

const run = v.picklist(['A', 'B']);

export const reportRequest = v.variant('type', [
  request('ready', {}),
  /** the sample's detail (its trajectory, read from the results file when it is asked for) */
  request('sample', { run, index }),
  request('openInChat', { run, index }),
  request('pickB', {}),
  /** export these samples of the run as training data (the format and the file are asked in the editor) */
  request('export', { run, indexes: v.pipe(v.array(index), v.maxLength(1_000_000)) }),
]);

export type FromReport = v.InferOutput<typeof reportRequest>;

export interface ReportResponses {
  ready: void;
  sample: ReportSample;
  openInChat: void;
  pickB: void;
  export: void;
}

/**
 * `warnings`: why the A/B runs cannot be compared as they stand (core/eval/tableCompare.ts
 * `reportComparisonWarnings`); `select`: a sample to open at once (from the results view's flips).
 */
export type ToReport =
  Reply<ReportResponses[keyof ReportResponses]> | { type: 'runs'; runs: ReportRun[]; warnings?: string[]; select?: number };
