/** What the eval report shows (plain data, shared by the extension host and the report webview). */
import type { RowReward } from '../reward/rowReward';
import type { Trajectory } from '../trajectory/types';

/** The seed's training reward of a sample (core/reward/reward.ts: the eval's scoring code on the whole rollout, with the eval's acc). */
export type SampleReward = Omit<RowReward, 'cells' | 'note'>;

export interface ReportSampleRow {
  index: number;
  source: string;
  acc: number;
  status: 'success' | 'error';
  outcome: string;
  tries: number;
  tools: number;
  toolErrors: number;
  latencyMs: number;
  question: string;
  answer: string;
  groundTruth: string;
  error?: string;
  reward?: SampleReward;
}

export interface ReportRun {
  label: string;
  file: string;
  model: string;
  dataset: string;
  /** the prompt/tool format the run spoke (codedance, deepeyes, …), from its manifest, else its samples; absent: unknown */
  protocol?: string;
  /** set when the run's samples were asked in more than one format (a results file written by different runs) */
  protocols?: string[];
  scoring: string;
  total: number;
  avgAcc: number;
  perSource: Record<string, { n: number; acc: number; correct: number }>;
  toolHistogram: Record<string, number>;
  turnsHistogram: Record<string, number>;
  toolErrorRate: number;
  toolTimeoutRate: number;
  sampleErrorRate: number;
  sampleTimeoutRate: number;
  skipped: number;
  latency: { p50: number; p90: number; p99: number; mean: number; max: number };
  /** sample latencies, ms (for the distribution chart) */
  latencies: number[];
  samples: ReportSampleRow[];
  manifest?: Record<string, unknown>;
  /** where the Python cells ran ("sandboxed", "unsandboxed: remote kernel", …); absent: not recorded */
  cells?: string;
  /** lines of the results file that did not count (absent when all did): not JSON, no sample
   * index, or a sample written again later (its last line counts); `note` names them */
  skippedLines?: { count: number; note: string };
}

/**
 * One sample opened in the report: the record's verdict and the run itself. The trajectory is
 * the stored one with its images inline (base64, as in the chat), less its messages (the report
 * does not show them; "Open in chat" reads the record again and hands over the whole trajectory).
 */
export interface ReportSample {
  run: 'A' | 'B';
  index: number;
  groundTruth: string;
  prediction: string;
  acc: number;
  status: string;
  outcome: string;
  judgeText?: string;
  error?: string;
  /** the seed's `question` and `output` text: what there is when the line has no trajectory (the seed's own files) */
  question: string;
  output: string;
  trajectory?: Omit<Trajectory, 'messages'>;
  /** with `cells`: each cell's call score, for the markers on the cells */
  reward?: RowReward;
}
