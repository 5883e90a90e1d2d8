/** What the eval report shows (plain data, shared by the extension host and the report webview). */

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
}

export interface ReportRun {
  label: string;
  file: string;
  model: string;
  dataset: string;
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
}

export interface ReportImage {
  id: string;
  src: string;
  width?: number;
  height?: number;
}

export interface ReportCell {
  id: string;
  code: string;
  status: string;
  stdout: string;
  stderr: string;
  error?: string;
  durationMs?: number;
  images: ReportImage[];
}

export interface ReportTurn {
  index: number;
  content: string;
  latencyMs: number;
  discarded?: boolean;
  cells: ReportCell[];
  observation?: string;
}

export interface ReportSampleDetail {
  run: 'A' | 'B';
  index: number;
  question: string;
  groundTruth: string;
  prediction: string;
  acc: number;
  status: string;
  outcome: string;
  judgeText?: string;
  error?: string;
  inputImages: ReportImage[];
  turns: ReportTurn[];
  /** the seed's `output` text, when there is no trajectory */
  output: string;
}
