/** Messages between the eval report webview and the extension (both sides import this file). */

import type { ReportRun, ReportSample } from '../../core/eval/reportTypes';

export type * from '../../core/eval/reportTypes';

export type ToReport =
  | { type: 'runs'; runs: ReportRun[] }
  | { type: 'sample'; sample: ReportSample }
  | { type: 'error'; text: string };

export type FromReport =
  | { type: 'ready' }
  | { type: 'sample'; run: 'A' | 'B'; index: number }
  | { type: 'openInChat'; run: 'A' | 'B'; index: number }
  | { type: 'pickB' }
  /** export these samples of the run as training data (the format and the file are asked in the editor) */
  | { type: 'export'; run: 'A' | 'B'; indexes: number[] };
