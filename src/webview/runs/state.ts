/**
 * What the run view holds (the one mutable state of the page): the runs the extension sent, with
 * their steps, alarms, checkpoints and checkpoint evals, and the view's own choices (x axis, smoothing, the charts
 * the user added, the tab), which the webview keeps over a reload (`vscode.setState`) with the
 * runs it shows.
 */
import type { CheckpointEvalSeries, FromRuns, RunInfo, RunsResponses } from '../../protocol/runs';
import type { Alarm, Checkpoint, StepMetrics } from '../../core/runs/types';
import { Messenger } from '../messenger';
import type { XMode } from './series';

export interface RunState {
  info: RunInfo;
  steps: StepMetrics[];
  alarms: Alarm[];
  checkpoints: Checkpoint[];
  checkpointNote?: string;
  /** the checkpoints' evals, one series per dataset */
  evals: CheckpointEvalSeries[];
  evalsNote?: string;
}

export interface UiState {
  x: XMode;
  /** EMA weight, 0 (raw) to 0.99 */
  smoothing: number;
  /** keys the user added a chart for */
  added: string[];
  tab: 'metrics' | 'rollouts';
}

interface VsCodeApi {
  postMessage(msg: FromRuns): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();

export const DEFAULT_UI: UiState = { x: 'step', smoothing: 0.6, added: [], tab: 'metrics' };

function restored(): UiState {
  const s = api.getState() as Partial<UiState> | undefined;
  return {
    x: s?.x === 'time' ? 'time' : 'step',
    smoothing: typeof s?.smoothing === 'number' && s.smoothing >= 0 && s.smoothing < 1 ? s.smoothing : DEFAULT_UI.smoothing,
    added: Array.isArray(s?.added) ? s.added.filter((k): k is string => typeof k === 'string') : [],
    tab: s?.tab === 'rollouts' ? 'rollouts' : 'metrics',
  };
}

export const view = {
  runs: new Map<string, RunState>(),
  ui: restored(),
};

/** The view's choices and the runs it shows (a restored panel opens them again: src/extension/runs/registerRuns.ts). */
export function saveUi(): void {
  api.setState({ ...view.ui, refs: runList().map((r) => r.info.ref) });
}

const errorListeners: ((text: string) => void)[] = [];
export function onError(l: (text: string) => void): void {
  errorListeners.push(l);
}
export function showError(text: string): void {
  for (const l of errorListeners) l(text);
}

export const messenger = new Messenger<FromRuns, RunsResponses>(api, showError);

/** A request whose failure shows in the error box. */
export function ask<T>(p: Promise<T>, then: (r: T) => void): void {
  p.then(then, (e: Error) => showError(e.message));
}

/** The runs in the order they were added. */
export function runList(): RunState[] {
  return [...view.runs.values()];
}
