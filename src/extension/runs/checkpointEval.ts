/**
 * "CodeDance: Evaluate Checkpoint…" and "CodeDance: Serve Checkpoint…" (issue #23 §4): a checkpoint
 * of a training job merged by a job on its cluster (unless merged), served with the window's own
 * serve flow (`codedance.serveModel`: the review, the tunnels, the status bar, chat's and eval's
 * endpoints, remembered across reloads), evaluated with the eval command (`codedance.runEval`:
 * its judge choice, progress and report) on the run's validation files (copied here from the
 * cluster once, src/core/runs/remoteCopy.ts) or a dataset picked here, and recorded in the
 * checkpoint-eval index beside the eval results (checkpointEvalsFileForWindow) for the run view's
 * chart. The steps are core's (src/core/runs/evaluateCheckpoint.ts); this file asks, shows the
 * progress in one cancellable notification and passes in the window's serve and eval.
 *
 * Called from the palette, the Training Jobs tree (a job), the run view's checkpoint list
 * (`{ session, checkpoint }`: the run and the step), or with CheckpointCommandArgs.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { EvalSummary } from '../../core/eval';
import type { JobBackend } from '../../core/jobs';
import { listCheckpoints } from '../../core/runs/checkpoints';
import { checkpointEvalsFile } from '../../core/runs/checkpointEvals';
import { CheckpointError, isCancelled } from '../../core/runs/checkpointErrors';
import {
  clusterData,
  clusterMergeSteps,
  indexRecorder,
  localData,
  resolveCheckpoint,
  runLabel,
  trainingSetup,
} from '../../core/runs/checkpointSteps';
import {
  checkpointModelName,
  evaluateCheckpoint,
  serveCheckpoint,
  type ChainEvent,
  type CheckpointRef,
  type CheckpointSteps,
} from '../../core/runs/evaluateCheckpoint';
import { jobRun, type JobRun } from '../../core/runs/jobRun';
import { localRunFiles } from '../../core/runs/runFiles';
import type { ServedEndpoints, ServeState } from '../../core/serve';
import type { RunRef } from '../../protocol/runs';
import { showError } from '../errors';
import type { RunEvalArgs } from '../eval/evalWizard';
import type { EditorClusterProfile } from '../jobs/clusterProfiles';
import { JobNode, type JobsTreeProvider } from '../jobs/JobsTreeProvider';
import type { ServeModelArgs } from '../serve/serveWizard';
import { pickCluster, pickData, pickJob, pickStep, type CheckpointMode } from './checkpointPick';

/** What a caller (a test, a keybinding) may pass to skip the questions. */
export interface CheckpointCommandArgs {
  cluster?: string;
  jobId?: string;
  step?: number;
  /** a dataset on this machine instead of the run's validation files */
  dataPath?: string;
  /** false: the vLLM job is submitted without opening its review */
  review?: boolean;
  replicas?: number;
  /** passed to the eval (its questions are skipped when given) */
  numWorkers?: number;
  judge?: string;
  limit?: number;
}

/** A checkpoint of the run view's list: its run (a job) and its step. */
interface FromRunView {
  session: { source: { ref: RunRef } };
  checkpoint: { step: number };
}

/** The window's eval save folder (the eval command's default): the checkpoint-eval index is in it. */
export function checkpointSaveDir(context: vscode.ExtensionContext): string {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return path.join(ws ?? context.globalStorageUri.fsPath, 'codedance-eval');
}

/** The checkpoint-eval index this window records into and the run view reads (checkpointEvalsOf(file, runKey)). */
export function checkpointEvalsFileForWindow(context: vscode.ExtensionContext): string {
  return checkpointEvalsFile(checkpointSaveDir(context));
}

/** What the commands use of the window (registerCheckpointCommands in registerRuns.ts passes it). */
export interface Deps {
  context: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  tree: JobsTreeProvider;
  served: ServedEndpoints;
}

/** The cluster, the job and (when known) the step the argument names; the rest is asked. */
async function target(
  mode: CheckpointMode,
  d: Deps,
  arg: unknown,
): Promise<{ profile: EditorClusterProfile; jobId: string; step?: number; a: CheckpointCommandArgs } | undefined> {
  if (arg instanceof JobNode) return { profile: arg.profile, jobId: arg.job.id, a: {} };
  const view = arg as Partial<FromRunView> | undefined;
  if (view?.session?.source?.ref) {
    const ref = view.session.source.ref;
    if (ref.kind !== 'job') {
      void vscode.window.showInformationMessage(
        'CodeDance: this run was opened from a log file, so its cluster is not known: open it from the Training Jobs view (its job) to evaluate or serve its checkpoints.',
      );
      return undefined;
    }
    const profile = await pickCluster(ref.cluster);
    return profile && { profile, jobId: ref.id, step: view.checkpoint?.step, a: {} };
  }
  const a = (arg ?? {}) as CheckpointCommandArgs;
  const profile = await pickCluster(a.cluster);
  if (!profile) return undefined;
  const jobId = a.jobId ?? (await pickJob(mode, d.tree, profile));
  return jobId ? { profile, jobId, step: a.step, a } : undefined;
}

/** The job's run (its folders from its own command; Slurm: its files over SSH; a Ray cluster on this machine: local files). */
async function readRun(backend: JobBackend, profile: EditorClusterProfile, jobId: string): Promise<{ run: JobRun; local: boolean }> {
  const run = await jobRun(backend, jobId);
  const local = !run.files && profile.kind === 'ray' && /^[a-z]+:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/i.test(profile.address);
  return { run: local ? { ...run, files: localRunFiles() } : run, local };
}

/** One command: `codedance.runs.evaluateCheckpoint` or `codedance.runs.serveCheckpoint` on its argument. */
export async function checkpointCommand(d: Deps, mode: CheckpointMode, arg: unknown): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage('CodeDance does not start cluster jobs in an untrusted workspace. Trust the workspace first.');
    return;
  }
  try {
    const t = await target(mode, d, arg);
    if (!t) return;
    const backend = await d.tree.backendFor(t.profile);
    const { run, local } = await readRun(backend, t.profile, t.jobId);
    const label = runLabel(run);
    let step = t.step;
    if (step === undefined) {
      const all = run.files ? await listCheckpoints(run.files, run.config.checkpointDir) : [];
      if (!run.files)
        throw new CheckpointError(
          'no-checkpoint',
          `the checkpoints of ${label} are on the Ray cluster's nodes, out of reach from here`,
          'open the run view of a Slurm job, or pass the step',
        );
      step = await pickStep(mode, label, all);
      if (step === undefined) return;
    }
    const c = await resolveCheckpoint(run, t.profile.name, step);
    const data = mode === 'evaluate' ? (t.a.dataPath ? { local: [t.a.dataPath] } : await pickData(run.config.valFiles)) : undefined;
    if (mode === 'evaluate' && !data) return;
    const steps = await windowSteps(d, { profile: t.profile, backend, run, local, a: t.a, localData: !!data && 'local' in data });
    await runChain(d, mode, t.profile.name, c, steps, data ? ('local' in data ? data.local : data.cluster) : []);
  } catch (e) {
    if (isCancelled(e)) return void vscode.window.showInformationMessage(`CodeDance: ${(e as Error).message}`);
    d.log.error(`checkpoint: ${(e as Error).stack ?? e}`);
    void showError(vscode, e, `CodeDance ${mode === 'evaluate' ? 'Evaluate' : 'Serve'} Checkpoint`);
  }
}

interface StepsFor {
  profile: EditorClusterProfile;
  backend: JobBackend;
  run: JobRun;
  local: boolean;
  a: CheckpointCommandArgs;
  localData: boolean;
}

/** The chain's steps in this window: the cluster's merge and copy, the window's serve flow and eval command, the index. */
async function windowSteps(d: Deps, s: StepsFor): Promise<CheckpointSteps> {
  const merge = clusterMergeSteps({
    backend: s.backend,
    clusterName: s.profile.name,
    files: s.run.files,
    merge: { workingDir: s.run.config.workingDir, setup: await trainingSetup(s.run) },
  });
  const fetchData = s.localData
    ? localData()
    : clusterData({
        backend: s.backend,
        clusterName: s.profile.name,
        cacheDir: path.join(d.context.globalStorageUri.fsPath, 'run-data'),
        filesAreLocal: s.local,
      });
  const saveDir = checkpointSaveDir(d.context);
  return {
    ...merge,
    fetchData,
    serve: (c) => serveWithWindow(d, s, c),
    evaluate: async (data, m, c) => {
      const args: RunEvalArgs = {
        dataPath: data.local,
        endpoints: m.baseUrls,
        modelName: checkpointModelName(c.label, c.step),
        // the name vLLM serves the merged checkpoint under, not the configured codedance.model
        evalModelName: m.servedModelName,
        saveDir,
        ...(s.a.numWorkers !== undefined && { numWorkers: s.a.numWorkers }),
        ...(s.a.judge !== undefined && { judge: s.a.judge }),
        ...(s.a.limit !== undefined && { limit: s.a.limit }),
      };
      const summary = await vscode.commands.executeCommand<EvalSummary | undefined>('codedance.runEval', args);
      if (!summary)
        throw new CheckpointError(
          'cancelled',
          `the eval on ${data.source} did not run to its end (dismissed, or failed: see the CodeDance log)`,
        );
      return {
        accuracy: summary.stats.avg_acc,
        n: summary.stats.total_samples,
        evalDir: summary.paths.dir,
        dataset: summary.manifest.dataset.stem,
        judged: summary.manifest.judge.mode === 'llm-judge',
        cancelled: summary.cancelled,
      };
    },
    record: indexRecorder(checkpointEvalsFileForWindow(d.context)),
  };
}

/** The merged model through the window's serve flow (a model this window serves already under the checkpoint's name is used as it is). */
async function serveWithWindow(d: Deps, s: StepsFor, c: CheckpointRef) {
  const name = checkpointModelName(c.label, c.step);
  const have = d.served.list('policy').find((m) => m.clusterName === s.profile.name && m.servedModelName === name);
  if (have) return { servedModelName: name, baseUrls: have.baseUrls, jobId: have.jobId, reused: true };
  const args: ServeModelArgs = {
    cluster: s.profile.name,
    role: 'policy',
    modelPath: c.mergedDir,
    servedModelName: name,
    replicas: s.a.replicas ?? 1,
    ...(s.a.review !== undefined && { review: s.a.review }),
  };
  const st = await vscode.commands.executeCommand<ServeState | undefined>('codedance.serveModel', args);
  if (!st) throw new CheckpointError('cancelled', `the vLLM job for step ${c.step} was not started`);
  if (st.phase !== 'ready')
    throw new CheckpointError(st.phase === 'failed' ? 'serve-failed' : 'cancelled', `${name} was not served: ${st.message}`);
  return { servedModelName: name, baseUrls: st.replicas.map((r) => r.baseUrl), jobId: st.jobId };
}

/** The chain in one cancellable notification; its steps also go to the CodeDance log. */
async function runChain(
  d: Deps,
  mode: CheckpointMode,
  cluster: string,
  c: CheckpointRef,
  steps: CheckpointSteps,
  sources: string[],
): Promise<void> {
  const what = `step ${c.step} of ${c.label}`;
  const result = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `CodeDance: ${mode === 'evaluate' ? 'evaluating' : 'serving'} ${what}`,
      cancellable: true,
    },
    async (progress, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      const onEvent = (e: ChainEvent) => {
        d.log.info(`checkpoint ${what}: ${e.type === 'step' ? `${e.step} ${e.state}: ` : ''}${e.message}`);
        progress.report({ message: e.message });
      };
      if (mode === 'serve') return { served: await serveCheckpoint(c, steps, { signal: ac.signal, onEvent }), evals: [] };
      return evaluateCheckpoint(c, sources, steps, { signal: ac.signal, onEvent });
    },
  );
  const stop = result.served.jobId && !result.served.reused ? ['Stop Serving'] : [];
  const text = result.evals.length
    ? `CodeDance: ${what}: ${result.evals.map((e) => `${e.dataset} ${(e.accuracy * 100).toFixed(1)}% (${e.n})`).join(', ')}; recorded on the run's chart. ${result.served.servedModelName} is still served.`
    : `CodeDance: ${what} is served as ${result.served.servedModelName}: chat and eval use it.`;
  const pick = await vscode.window.showInformationMessage(text, ...stop);
  if (pick === 'Stop Serving') await vscode.commands.executeCommand('codedance.serve.stop', `${cluster}/${result.served.jobId}`);
}
