/**
 * An RL run as the run view, the alarms and `codedance train …` see it: what verl's console logger
 * printed (metric lines), what the trainer dumped (rollouts), and what it saved (checkpoints).
 * The facts behind every shape here: ../shared/docs/codedance-rl-runs.md, docs/runs.md.
 * Plain data only: the same values cross to the run view's webview and into `--json` output.
 */

/** One metric value as verl printed it: a number, or NaN/±Infinity (`nan`, `inf`), booleans as 1/0. */
export type MetricValue = number;

/** One training step's metric line (`step:<N> - key:value - …`). */
export interface StepMetrics {
  step: number;
  /** every key on the line, e.g. `critic/score/mean`, `val-core/vstar/acc/mean@1` */
  values: Record<string, MetricValue>;
  /** Unix ms when the line was read (live) or undefined when read from a finished log without times */
  seenAt?: number;
  /** the line's 0-based index in the log: a later line for the same step replaces an earlier one (a resumed run) */
  line: number;
}

/** The series of a run: steps in ascending order, one entry per step (the later line held). */
export interface RunMetrics {
  steps: StepMetrics[];
  /** every key seen on any step, sorted */
  keys: string[];
}

export type AlarmKind =
  'tool-use-collapse' | 'tool-success-falling' | 'format-errors-rising' | 'length-clipped' | 'nan' | 'hang' | 'job-ended';

export interface Alarm {
  kind: AlarmKind;
  /** the step that triggered it (the last step seen for `hang` / `job-ended`) */
  step: number;
  /** one sentence with the numbers that triggered it, e.g. "tool calls 0.04 per rollout at step 612, 0.91 in steps 1–50 (threshold: below 25 % of the early mean)" */
  message: string;
  /** the numbers, for the view and `--json` */
  values: Record<string, number>;
  /** `job-ended`: the traceback from the log, when there is one */
  detail?: string;
}

/** Thresholds, each a setting (`codedance.runs.alarms.*`) and a CLI flag. */
export interface AlarmThresholds {
  /** tool use below this fraction of its early mean (default 0.25) */
  toolUseCollapseRatio: number;
  /** steps that make up "early" (default 50) */
  earlySteps: number;
  /** tool success rate this far below its early mean, absolute (default 0.2) */
  toolSuccessDrop: number;
  /** format score this far below its early mean, absolute (default 0.2) */
  formatDrop: number;
  /** `response_length/clip_ratio` above this (default 0.1) */
  clipRatio: number;
  /** no metric line for this many times the median step time while running (default 5) */
  hangFactor: number;
}

/** One rollout line of `<rollout_data_dir>/<step>.jsonl` (validation: the same shape). */
export interface Rollout {
  step: number;
  /** 0-based line in its file */
  index: number;
  input: string;
  output: string;
  score: number;
  /** every other numeric/list field: acc, format_r, tool_step (list), tool_success_rate, … (NaN kept) */
  fields: Record<string, unknown>;
  gts?: unknown;
  dataSource?: string;
  /** base64 PNGs from `multi_modal_data.image` */
  images: string[];
}

export interface Checkpoint {
  step: number;
  /** `<default_local_dir>/global_step_<N>` on the cluster (or locally) */
  path: string;
  /** `<path>/actor` holds FSDP shards; a merged model folder when one was found */
  mergedPath?: string;
}
