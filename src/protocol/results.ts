/**
 * The results view's protocol (one table across benchmarks and runs: core/eval/tableModel.ts).
 * Requests carry message ids and are checked against `resultsRequest` at the extension's
 * boundary; each gets one reply. The table comes on its own (`table`): at `ready`, and again
 * whenever the view loads other runs. A flipped sample is named by its comparison, benchmark and
 * key (never by a file path: the extension looks the files up in the table it holds).
 */
import * as v from 'valibot';
import type { ResultsTable } from '../core/eval/tableTypes';
import type { TableFormat } from '../core/eval/tableExport';
import { index, request, text, type Reply } from './messages';

export type * from '../core/eval/tableTypes';

const formats = ['md', 'latex', 'csv'] as const satisfies readonly TableFormat[];

export const resultsRequest = v.variant('type', [
  request('ready', {}),
  /** open a flipped sample of comparison `comparison` in the eval report (both runs, the sample's detail shown) */
  request('openSample', { comparison: index, benchmark: text(1_000), key: text(1_100) }),
  /** save the table as Markdown, LaTeX or CSV (the file is asked for in the editor) */
  request('export', { format: v.picklist(formats) }),
  /** pick other runs to compare */
  request('pickRuns', {}),
]);

export type FromResults = v.InferOutput<typeof resultsRequest>;

export interface ResultsResponses {
  ready: void;
  openSample: void;
  /** the file written; undefined when the save dialog was cancelled */
  export: string | undefined;
  pickRuns: void;
}

export type ToResults = Reply<ResultsResponses[keyof ResultsResponses]> | { type: 'table'; table: ResultsTable };
