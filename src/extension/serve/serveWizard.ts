/**
 * The questions of `CodeDance: Serve Model on Cluster` (cluster → policy or the seed's judge →
 * checkpoint → replicas), each skipped when the caller passed its answer, and the review of the
 * generated vLLM job in an editor (edited freely) before it is submitted.
 */
import * as vscode from 'vscode';
import { parseReview, renderReview, type JobBackend, type JobSpec } from '../../core/jobs';
import { judgeDefaults, policyDefaults, type ServeParams, type ServeRole } from '../../core/serve';
import { readClusterProfiles, type EditorClusterProfile } from '../jobs/clusterProfiles';
import type { JobNode } from '../jobs/JobsTreeProvider';

/** What a caller (a test, a keybinding) may pass to skip the questions. */
export interface ServeModelArgs {
  cluster?: string;
  role?: ServeRole;
  modelPath?: string;
  servedModelName?: string;
  replicas?: number;
  port?: number;
  tensorParallel?: number;
  protocol?: ServeParams['protocol'];
  /** more environment for the job (e.g. PATH on the cluster) */
  env?: Record<string, string>;
  /** false: submit without opening the review (programmatic use only) */
  review?: boolean;
  readyTimeoutSeconds?: number;
}

/** The cluster named `name`, the only one, or a pick; none configured: a warning. */
export async function pickServeProfile(name?: string): Promise<EditorClusterProfile | undefined> {
  const { profiles } = readClusterProfiles();
  if (name) return profiles.find((p) => p.name === name);
  if (!profiles.length) {
    void vscode.window.showWarningMessage(
      'CodeDance: no cluster profiles yet: add one to codedance.jobs.clusters (see "Start Training Job").',
    );
    return undefined;
  }
  if (profiles.length === 1) return profiles[0];
  const p = await vscode.window.showQuickPick(
    profiles.map((x) => ({
      label: x.name,
      description: x.kind === 'ray' ? `Ray · ${x.address}` : `Slurm over SSH · ${x.host}`,
      profile: x,
    })),
    { title: 'Serve Model on Cluster (1/4): cluster', ignoreFocusOut: true },
  );
  return p?.profile;
}

/** What to serve, from which checkpoint, in how many replicas; the rest from the role's defaults and `a`. */
export async function askServeParams(profile: EditorClusterProfile, a: ServeModelArgs): Promise<ServeParams | undefined> {
  const role = a.role || (await askRole());
  if (!role) return undefined;
  const base =
    role === 'judge' ? judgeDefaults() : policyDefaults({ modelPath: (profile.defaults?.modelPath as string | undefined) ?? '' });
  const modelPath = a.modelPath !== undefined ? a.modelPath : await askModelPath(base.modelPath);
  if (modelPath === undefined) return undefined;
  const replicas = a.replicas !== undefined ? a.replicas : await askReplicas(base.tensorParallel);
  if (replicas === undefined) return undefined;
  const protocol =
    a.protocol ??
    (vscode.workspace.getConfiguration('codedance').get<string>('model.protocol') === 'codedance-tools' ? 'codedance-tools' : 'codedance');
  return {
    ...base,
    modelPath,
    replicas,
    protocol,
    ...(a.servedModelName && { servedModelName: a.servedModelName }),
    ...(a.port && { port: a.port }),
    ...(a.tensorParallel !== undefined && { tensorParallel: a.tensorParallel }),
  };
}

async function askRole(): Promise<ServeRole | undefined> {
  const r = await vscode.window.showQuickPick(
    [
      { label: '$(hubot) Policy model', description: 'a CodeDance / Qwen2.5-VL checkpoint for chat and eval', role: 'policy' as const },
      { label: "$(law) Judge (the seed's)", description: 'Qwen/Qwen2.5-72B-Instruct as "judge" on 18901, TP 8', role: 'judge' as const },
    ],
    { title: 'Serve Model on Cluster (2/4): what to serve', ignoreFocusOut: true },
  );
  return r?.role;
}

/** The checkpoint; undefined when dismissed or left empty. */
async function askModelPath(value: string): Promise<string | undefined> {
  const v = await vscode.window.showInputBox({
    title: 'Serve Model on Cluster (3/4): checkpoint',
    prompt: 'A model folder on the cluster (a merged Hugging Face checkpoint) or a hub id',
    value,
    ignoreFocusOut: true,
    validateInput: (x) => (x.trim() ? undefined : 'a path or hub id'),
  });
  return v || undefined;
}

async function askReplicas(tensorParallel: number): Promise<number | undefined> {
  const r = await vscode.window.showInputBox({
    title: 'Serve Model on Cluster (4/4): replicas',
    prompt: `vLLM servers (each ${tensorParallel} GPU${tensorParallel === 1 ? '' : 's'}); everything else is editable in the next step`,
    value: '1',
    ignoreFocusOut: true,
    validateInput: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 64 ? undefined : '1 to 64'),
  });
  return r ? Number(r) : undefined;
}

/** Opens the job for review; resolves with the (edited) spec, or undefined when cancelled. */
export async function reviewServeJob(backend: JobBackend, profile: EditorClusterProfile, spec: JobSpec): Promise<JobSpec | undefined> {
  const doc = await renderReview(backend, spec);
  const textDoc = await vscode.workspace.openTextDocument({ language: doc.language, content: doc.text });
  await vscode.window.showTextDocument(textDoc, { preview: false });
  const choice = await vscode.window.showInformationMessage(
    `Review the vLLM job for ${profile.name} — edit it freely — then start it.`,
    'Start Serving',
    'Cancel',
  );
  if (choice !== 'Start Serving') return undefined;
  const edited = parseReview(profile.kind, textDoc.getText(), spec);
  if (vscode.window.activeTextEditor?.document === textDoc)
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  return edited;
}

/** A finished training job's checkpoint folder, as the serve job (run elsewhere) must name it: absolute when the checkout is known. */
export async function checkpointOf(n: JobNode): Promise<string | undefined> {
  const rel = n.job.metadata?.checkpoint_dir ?? `checkpoints/CodeDance/${n.job.name ?? ''}`;
  const repo = typeof n.profile.defaults?.repoDir === 'string' && n.profile.kind === 'slurm' ? n.profile.defaults.repoDir : '';
  const guess = rel.startsWith('/') || !repo ? rel : `${repo.replace(/\/+$/, '')}/${rel}`;
  // verl saves FSDP shards under global_step_N/actor: the user picks the merged Hugging Face folder
  return vscode.window.showInputBox({
    title: `Serve the checkpoint of ${n.job.name ?? n.job.id}`,
    prompt: 'The merged Hugging Face model folder on the cluster (verl: python -m verl.model_merger … --target_dir)',
    value: guess,
    ignoreFocusOut: true,
  });
}
