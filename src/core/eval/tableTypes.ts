/**
 * The results table across benchmarks and runs (tableModel.ts builds it; the CLI, the exports and
 * the results view show it): plain data, shared by the extension host and the results webview.
 */
import type { McNemarTest } from './tableStats';

/** One run: an eval output folder (`{save_path}/{model_name}/`) or one results file in it. */
export interface TableRunInfo {
  /** a short name for columns: the folder's name (the model name), made unique */
  label: string;
  /** the folder (or file) as given */
  path: string;
  /** its results files (`result_*.jsonl`), absolute */
  files: string[];
  /** lines of its results files that did not count (not JSON, no index, a sample written again), one note per file */
  notes: string[];
}

/**
 * What decides whether two runs' numbers can be compared, as the run manifests record them.
 * 'unknown': not recorded (a manifest without the field, or no manifest: the seed's own files);
 * 'mixed: …': the benchmark's samples come from results files with different values.
 */
export interface CellSettings {
  /** the prompt/tool format: codedance, openai-tools, deepeyes, … */
  protocol: string;
  /** the sha256 of the format's prompt strings (two runs of one format whose prompts changed) */
  prompts: string;
  /** llm-judge / no-judge, a strict verdict, a shared judge cache, the math check */
  scoring: string;
  /** the judge model ('none' without a judge) */
  judge: string;
  /** model calls per sample at most */
  maxTurns: string;
  /** how the question's image is sized for the model (max_pixels) and how many images a request carries */
  imageBudget: string;
  /** the dataset file's sha256 (samples are matched by their index in it) */
  dataset: string;
  /**
   * the Hub repository and commit of the catalog set the dataset was converted from
   * (`owner/name@<12 hex>`, ` (offline copy)` when converted from a folder); 'none' when the
   * manifest names no catalog set (a dataset of one's own, or a run from before it was recorded)
   */
  revision: string;
}

export type SettingField = keyof CellSettings;

/** One benchmark of one run. */
export interface TableCell {
  /** index into `ResultsTable.runs` */
  run: number;
  benchmark: string;
  /** samples counted (skipped rows left out, as the seed's stats) */
  n: number;
  correct: number;
  /** correct / n (a sample is correct when its acc is 1; errors and timeouts count as wrong, as the seed) */
  accuracy: number;
  /** the 95 % Wilson score interval of the accuracy; absent when n is 0 */
  ci?: [number, number];
  /** samples that ended in an error (timeouts among them) */
  errors: number;
  timeouts: number;
  /** rows recorded as skipped (not counted) */
  skipped: number;
  /** code executions per counted sample */
  meanToolCalls: number;
  settings: CellSettings;
  /** the results files its samples come from */
  files: string[];
}

/**
 * A benchmark row whose runs cannot be compared as they stand: a setting differs between its runs
 * (or within one run's samples), or a run does not record some settings.
 */
export type SettingFlag =
  | {
      benchmark: string;
      kind: 'differs';
      field: SettingField;
      /** each run's value, by run index (only the runs that have the benchmark) */
      values: Record<number, string>;
      message: string;
    }
  | { benchmark: string; kind: 'unknown'; run: number; fields: SettingField[]; message: string };

/** correct / wrong (acc below 1) / error (the sample did not finish: error or timeout) */
export type SampleKind = 'correct' | 'wrong' | 'error';

/** A sample right in one run and not in the other. */
export interface SampleFlip {
  /** how the sample is matched across runs: its index, or `dataset:index` when a run's benchmark comes from several results files */
  key: string;
  index: number;
  /** 'correct-to-wrong': right in the first run, not in the second; 'wrong-to-correct': the other way */
  direction: 'correct-to-wrong' | 'wrong-to-correct';
  from: SampleKind;
  to: SampleKind;
  /** the results files that hold the sample in the first and in the second run */
  fileA: string;
  fileB: string;
}

/** Two runs on one benchmark, on the samples both have. */
export interface BenchmarkComparison {
  benchmark: string;
  /** samples both runs have */
  paired: number;
  /** samples only the first / only the second run has (left out of the comparison) */
  onlyA: number;
  onlyB: number;
  /** accuracies on the paired samples */
  accA: number;
  accB: number;
  /** accB − accA on the paired samples */
  diff: number;
  test: McNemarTest;
  /** every discordant sample, correct-to-wrong first, by index (none listed for the pooled row) */
  flips: SampleFlip[];
}

/** Run `b` against run `a` (the first run given is the baseline of every comparison). */
export interface RunComparison {
  a: number;
  b: number;
  rows: BenchmarkComparison[];
}

export interface ResultsTable {
  runs: TableRunInfo[];
  /** the rows: the benchmarks sorted, then (with more than one) the pooled row */
  benchmarks: string[];
  /** the name of the last row, over all samples of every benchmark, when there is one */
  pooled?: string;
  /** one per (benchmark, run) that has samples */
  cells: TableCell[];
  comparisons: RunComparison[];
  flags: SettingFlag[];
}
