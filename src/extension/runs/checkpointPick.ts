/**
 * The questions of "CodeDance: Evaluate Checkpoint…" / "Serve Checkpoint…", each skipped when the
 * caller already knows the answer (the run view's checkpoint list passes the run and the step, the
 * Training Jobs tree the job): the cluster, the training job, the checkpoint (listed from the run's
 * folder, merged ones marked), and what to evaluate on (the run's own validation files first).
 * Nothing asks for a path the run names itself.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { JobInfo } from '../../core/jobs';
import type { Checkpoint } from '../../core/runs/types';
import type { EditorClusterProfile } from '../jobs/clusterProfiles';
import type { JobsTreeProvider } from '../jobs/JobsTreeProvider';
import { pickServeProfile } from '../serve/serveWizard';

export type CheckpointMode = 'evaluate' | 'serve';

const title = (mode: CheckpointMode) => (mode === 'evaluate' ? 'Evaluate Checkpoint' : 'Serve Checkpoint');

/** The cluster named, the only one, or a pick. */
export async function pickCluster(name: string | undefined): Promise<EditorClusterProfile | undefined> {
  const p = await pickServeProfile(name);
  if (name && !p) void vscode.window.showErrorMessage(`CodeDance: no cluster profile '${name}' in codedance.jobs.clusters.`);
  return p;
}

/** Serve and merge jobs are not runs with checkpoints: left out of the pick. */
function isTrainingJob(j: JobInfo): boolean {
  const t = j.metadata?.template ?? '';
  return !t.startsWith('serve-') && t !== 'checkpoint-merge' && !/^merge-step\d+$/.test(j.name ?? '');
}

/** A training job of the cluster, as the Training Jobs view lists it (newest first). */
export async function pickJob(mode: CheckpointMode, tree: JobsTreeProvider, profile: EditorClusterProfile): Promise<string | undefined> {
  if (!tree.jobs(profile.name).length) await tree.poll();
  const jobs = tree.jobs(profile.name).filter(isTrainingJob);
  if (!jobs.length) {
    void vscode.window.showInformationMessage(`CodeDance: no training job on ${profile.name} to take a checkpoint of.`);
    return undefined;
  }
  const p = await vscode.window.showQuickPick(
    jobs.map((j) => ({ label: j.name ?? j.id, description: `${j.status.toLowerCase()} · ${j.id}`, id: j.id })),
    { title: `${title(mode)}: the training run on ${profile.name}`, ignoreFocusOut: true },
  );
  return p?.id;
}

/** A checkpoint of the run (the newest first); none saved yet: said. */
export async function pickStep(mode: CheckpointMode, label: string, checkpoints: Checkpoint[]): Promise<number | undefined> {
  if (!checkpoints.length) {
    void vscode.window.showInformationMessage(
      `CodeDance: ${label} has saved no checkpoint yet (verl saves one every trainer.save_freq steps).`,
    );
    return undefined;
  }
  const p = await vscode.window.showQuickPick(
    [...checkpoints].reverse().map((c) => ({
      label: `step ${c.step}`,
      description: c.mergedPath ? 'merged' : 'not merged yet: a merge job runs first',
      detail: c.path,
      step: c.step,
    })),
    { title: `${title(mode)}: which checkpoint of ${label}`, ignoreFocusOut: true },
  );
  return p?.step;
}

/** What to evaluate on: `{ cluster: files }` the run's validation files, `{ local: [file] }` one picked here. */
export async function pickData(valFiles: string[]): Promise<{ cluster: string[] } | { local: string[] } | undefined> {
  const items: (vscode.QuickPickItem & { value: 'run' | 'other' })[] = [];
  if (valFiles.length)
    items.push({
      label: `$(database) The run's validation files (${valFiles.length})`,
      description: valFiles.map((f) => path.posix.basename(f)).join(', '),
      detail: 'data.val_files of the job: copied here from the cluster once, then reused',
      value: 'run',
    });
  items.push({ label: '$(folder-opened) Another dataset on this machine…', value: 'other' });
  const p =
    items.length === 1
      ? items[0]
      : await vscode.window.showQuickPick(items, { title: 'Evaluate Checkpoint: on what', ignoreFocusOut: true });
  if (!p) return undefined;
  if (p.value === 'run') return { cluster: valFiles };
  const uris = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { Datasets: ['parquet', 'jsonl'] },
    title: 'Evaluate Checkpoint: the dataset to evaluate on',
    openLabel: 'Evaluate the checkpoint on this dataset',
  });
  return uris?.[0] ? { local: [uris[0].fsPath] } : undefined;
}
