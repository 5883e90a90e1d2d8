/**
 * The run view's protocol (an RL run's charts, alarms, rollouts and checkpoints; issue #23).
 * Requests carry message ids and are checked against `runsRequest` at the extension's boundary;
 * each gets one reply with the response `RunsResponses` gives it. What the extension learns on its
 * own comes as plain messages: a run's header (`run`), new metric lines (`metrics`: steps to merge
 * by step, the later line holding), its alarms, its checkpoints and their evals (each the whole
 * list again).
 */
import * as v from 'valibot';
import type { Alarm, Checkpoint, StepMetrics } from '../core/runs/types';
import type { ExchangeView } from './chat';
import { index, request, text, wordId, type Reply } from './messages';

export type { Alarm, Checkpoint, StepMetrics } from '../core/runs/types';

/** Where a run's rollouts come from: the trainer's `rollout_data_dir` or its `validation_data_dir`. */
export const ROLLOUT_KINDS = ['train', 'validation'] as const;
export type RolloutKind = (typeof ROLLOUT_KINDS)[number];

/**
 * What can be done with a checkpoint from the run view. A new action is one more name here and
 * one more handler in the extension (src/extension/runs/checkpointActions.ts). `evaluate` and
 * `serve` run "CodeDance: Evaluate Checkpoint…" / "Serve Checkpoint…" on the run's job and step.
 */
export const CHECKPOINT_ACTIONS = ['copyPath', 'copyMergeCommand', 'evaluate', 'serve'] as const;
export type CheckpointAction = (typeof CHECKPOINT_ACTIONS)[number];

/** What a run view shows a run from (kept in the webview's state, so that a window reload opens it again). */
export const runRef = v.variant('kind', [
  v.object({ kind: v.literal('file'), path: text(4096) }),
  v.object({ kind: v.literal('job'), cluster: text(200), id: text(200), name: v.optional(text(500)) }),
]);
export type RunRef = v.InferOutput<typeof runRef>;

/** The webview's saved state as a restored panel hands it back: the runs it showed. */
export const savedRunView = v.object({ refs: v.pipe(v.array(runRef), v.maxLength(20)) });

/** A run of the view as its header shows it. */
export interface RunInfo {
  /** the run's id in this view (`r1`, `r2`, …) */
  id: string;
  /** the experiment name, else the job's name or the log file's name */
  label: string;
  /** where the log comes from: "hpc · job 4242" or the log file's path */
  where: string;
  source: 'job' | 'file';
  ref: RunRef;
  /** following: new lines are read as they come; ended: the job ended (or the file is not followed); error: reading failed */
  state: 'starting' | 'following' | 'ended' | 'error';
  /** the job's status word, the error, or what the view could not find */
  note?: string;
  /** the rollout folders the trainer writes (as the job's command line or the log names them), or why none is known */
  rollouts: Partial<Record<RolloutKind, string>> & { note?: string };
  /** the checkpoint folder (`trainer.default_local_dir`), when known */
  checkpointDir?: string;
}

/** One rollout as a row of the rollout list (no images, the question clipped). */
export interface RolloutRow {
  step: number;
  index: number;
  dataSource: string;
  score: number;
  acc?: number;
  format_r?: number;
  /** `<tool_response>`s in the output (the seed's tool_step has one score per call) */
  toolCalls: number;
  tool_success_rate?: number;
  /** the question, at most 300 characters */
  question: string;
  /** the same prompt at another step has the same key */
  promptKey: string;
  images: number;
}

/** One rollout opened: the trajectory the chat's renderer draws (its reward included) and the fields beside it. */
export interface RolloutDetail {
  row: RolloutRow;
  exchange: ExchangeView;
  /** the reward fields as the trainer dumped them (NaN kept), and the ground truth */
  fields: Record<string, unknown>;
  groundTruth?: string;
}

const run = wordId;
const kind = v.picklist(ROLLOUT_KINDS);
const step = index;
/** a chart as a PNG (canvas → data URL); 64 MB at most */
const pngDataUrl = v.pipe(
  v.string(),
  v.maxLength(64 * 1024 * 1024),
  v.regex(/^data:image\/png;base64,[A-Za-z0-9+/=]*$/, 'expected a PNG data: URL'),
);
/** a file name the save dialog starts with (no folder) */
const fileName = v.pipe(v.string(), v.regex(/^[\w.@() -]{1,120}$/, 'expected a plain file name'));

export const runsRequest = v.variant('type', [
  request('ready', {}),
  /** another run (a job or a log file) overlaid in this view: asked in the editor */
  request('addRun', {}),
  request('removeRun', { run }),
  /** the run's whole log: the job's log channel, or the file in an editor */
  request('openLog', { run }),
  /** the metrics as CSV (built in the webview), written where the save dialog says */
  request('saveCsv', { name: fileName, csv: text(256 * 1024 * 1024) }),
  /** one chart as PNG, written where the save dialog says */
  request('savePng', { name: fileName, dataUrl: pngDataUrl }),
  /** the steps that have a rollout file */
  request('rolloutSteps', { run, kind }),
  request('rollouts', { run, kind, step }),
  request('rollout', { run, kind, step, index }),
  /** the same prompt at other steps of the run */
  request('samePrompt', { run, kind, step, index }),
  /** the rollout's question and input image asked again in the chat */
  request('openInChat', { run, kind, step, index }),
  /** these rollouts as CodeDance-SFT or -RL rows (the format and the file are asked in the editor) */
  request('addToTrainingData', {
    run,
    kind,
    items: v.pipe(v.array(v.object({ step, index })), v.minLength(1), v.maxLength(100_000)),
  }),
  request('checkpointAction', { run, step, action: v.picklist(CHECKPOINT_ACTIONS) }),
]);

export type FromRuns = v.InferOutput<typeof runsRequest>;

/** One checkpoint's eval on one dataset as the chart draws it (src/core/runs/checkpointEvals.ts CheckpointEval). */
const checkpointEvalPoint = v.object({
  step,
  /** mean accuracy, 0–1 */
  accuracy: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  /** samples scored */
  n: index,
  /** scored by an LLM judge (else by normalized match) */
  judged: v.boolean(),
});

/**
 * A run's checkpoint evals (the whole list again each time): one series per dataset, its points
 * in step order, as `checkpointEvalSeries` groups the index's entries. The index is a file anyone
 * can write, so the webview checks the message against this schema before it draws it.
 */
export const checkpointEvalsMessage = v.object({
  type: v.literal('checkpointEvals'),
  run,
  series: v.pipe(
    v.array(v.object({ dataset: v.pipe(text(500), v.minLength(1)), points: v.pipe(v.array(checkpointEvalPoint), v.maxLength(100_000)) })),
    v.maxLength(200),
  ),
  /** why the index could not be read */
  note: v.optional(text(2000)),
});
export type CheckpointEvalsMessage = v.InferOutput<typeof checkpointEvalsMessage>;
export type CheckpointEvalSeries = CheckpointEvalsMessage['series'][number];

export interface RunsResponses {
  ready: void;
  addRun: void;
  removeRun: void;
  openLog: void;
  /** the file written, or undefined when the dialog was cancelled */
  saveCsv: string | undefined;
  savePng: string | undefined;
  rolloutSteps: { steps: number[]; dir?: string; note?: string };
  rollouts: RolloutRow[];
  rollout: RolloutDetail;
  /** `scanned` of `total` other steps were read (the nearest ones first) */
  samePrompt: { matches: RolloutRow[]; scanned: number; total: number };
  openInChat: void;
  addToTrainingData: void;
  checkpointAction: void;
}

export type ToRuns =
  | Reply<RunsResponses[keyof RunsResponses]>
  | { type: 'run'; run: RunInfo }
  | { type: 'removed'; run: string }
  /** `replace`: these are all the run's steps (a fresh read); else new steps to merge by step */
  | { type: 'metrics'; run: string; steps: StepMetrics[]; replace: boolean }
  | { type: 'alarms'; run: string; alarms: Alarm[] }
  | { type: 'checkpoints'; run: string; checkpoints: Checkpoint[]; note?: string }
  | CheckpointEvalsMessage;
