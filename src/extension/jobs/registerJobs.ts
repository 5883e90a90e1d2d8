/**
 * The Training Jobs feature in the editor: `CodeDance: Start Training Job` (cluster → template →
 * review the generated submission in an editor → submit), the Training Jobs tree with its context
 * actions (Show Logs, Stop, Delete, Copy ID), secrets in SecretStorage, notifications when a job
 * ends. Everything cluster-side goes through src/core/jobs.
 */
import * as vscode from 'vscode';
import type { ServedEndpoints } from '../../core/serve';
import { errorMessage } from '../errors';
import { ClusterAccess } from './clusterAccess';
import { readClusterProfiles } from './clusterProfiles';
import { JobLogs } from './JobLogs';
import { setJobSecret } from './jobSecrets';
import { ClusterNode, JobNode, JobsTreeProvider } from './JobsTreeProvider';
import { TrainingJobReviews } from './TrainingJobReviews';
import { askSecretKind, pickClusterProfile } from './trainingJobWizard';

/** What the feature is made of: the clusters' access, the tree, the job logs and the reviews of new jobs. */
interface JobsFeature {
  access: ClusterAccess;
  tree: JobsTreeProvider;
  logs: JobLogs;
  reviews: TrainingJobReviews;
}

/** `served`: the models served from this window (a judge served on a job's cluster is that job's judge). */
export function registerJobs(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, served: ServedEndpoints): JobsTreeProvider {
  let tree: JobsTreeProvider | undefined;
  const access = new ClusterAccess(context.secrets, log, () => tree?.refresh());
  tree = createJobsTree(context, log, access);
  const logs = new JobLogs((p) => access.backendFor(p), tree);
  const reviews = new TrainingJobReviews({ secrets: context.secrets, log, access, tree, served, showLogs: (p, j) => logs.show(p, j) });
  context.subscriptions.push(
    onJobEnded(log, tree, logs),
    // the log streams stop before the backends they read go
    { dispose: () => (logs.dispose(), access.dispose()) },
  );
  registerJobCommands(context, log, { access, tree, logs, reviews });
  context.subscriptions.push(reviews);
  return tree;
}

function pollMs(): number {
  return Math.max(1, vscode.workspace.getConfiguration('codedance').get<number>('jobs.pollSeconds', 5)) * 1000;
}

/** The Training Jobs tree and its view, polling while visible; a settings change or newly granted trust reads the clusters again. */
function createJobsTree(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, access: ClusterAccess): JobsTreeProvider {
  const tree = new JobsTreeProvider({ profiles: readClusterProfiles, backend: (p) => access.backendFor(p) }, log, pollMs());
  const view = vscode.window.createTreeView(JobsTreeProvider.viewId, { treeDataProvider: tree, showCollapseAll: false });
  tree.visible = view.visible;
  tree.startPolling();
  context.subscriptions.push(
    tree,
    view,
    view.onDidChangeVisibility((e) => {
      tree.visible = e.visible;
      if (e.visible) tree.refresh();
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('codedance.jobs')) return;
      tree.setPollInterval(pollMs());
      tree.refresh();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => tree.refresh()),
  );
  return tree;
}

/** A job that ends is logged and told (with Show Logs), unless another feature tells it (a serve job). */
function onJobEnded(log: vscode.LogOutputChannel, tree: JobsTreeProvider, logs: JobLogs): vscode.Disposable {
  return tree.onDidEndJob(({ profile, job }) => {
    const how =
      job.status === 'SUCCEEDED'
        ? 'succeeded'
        : job.status === 'STOPPED'
          ? 'was stopped'
          : `failed${job.exitCode !== undefined ? ` (exit ${job.exitCode})` : ''}`;
    const text = `Training job ${job.name ?? job.id} on ${profile.name} ${how}.`;
    log.info(`jobs: ${text}`);
    if (tree.endToldElsewhere?.(profile, job)) return;
    const show = job.status === 'FAILED' ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
    void show(text, 'Show Logs').then((a) => {
      if (a) void logs.show(profile, job);
    });
  });
}

/** The commands: start and submit a job, and the tree's actions on a job or a cluster. */
function registerJobCommands(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, f: JobsFeature): void {
  const { access, tree, logs, reviews } = f;
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  /** the tree's actions run on the node they were invoked on; from the palette they do nothing */
  const onNode = (fn: (n: JobNode) => Promise<void>) => async (arg: unknown) => {
    if (arg instanceof JobNode) await fn(arg);
  };
  reg('codedance.startTrainingJob', () => reviews.start());
  reg('codedance.jobs.submitReview', () => reviews.submit());
  reg('codedance.jobs.refresh', () => tree.poll());
  reg(
    'codedance.jobs.showLogs',
    onNode((n) => logs.show(n.profile, n.job)),
  );
  reg(
    'codedance.jobs.stop',
    onNode(async (n) => {
      try {
        const stopped = await (await access.backendFor(n.profile)).stop(n.job.id);
        void vscode.window.showInformationMessage(
          stopped ? `CodeDance: stopping ${n.job.name ?? n.job.id} on ${n.profile.name}.` : `CodeDance: ${n.job.id} was not running.`,
        );
      } catch (e) {
        void vscode.window.showErrorMessage(`CodeDance: ${errorMessage(e)}`);
      }
      await tree.poll();
    }),
  );
  reg(
    'codedance.jobs.delete',
    onNode(async (n) => {
      const ok = await vscode.window.showWarningMessage(
        `Delete job ${n.job.name ?? n.job.id} (${n.job.id}) from ${n.profile.name}? ${n.profile.kind === 'slurm' ? 'Its output file is removed.' : 'Ray forgets the job and its logs.'}`,
        { modal: true },
        'Delete',
      );
      if (ok !== 'Delete') return;
      try {
        await (await access.backendFor(n.profile)).delete(n.job.id);
        logs.forget(n.profile, n.job.id);
      } catch (e) {
        void vscode.window.showErrorMessage(`CodeDance: ${errorMessage(e)}`);
      }
      await tree.poll();
    }),
  );
  reg(
    'codedance.jobs.copyId',
    onNode(async (n) => {
      await vscode.env.clipboard.writeText(n.job.id);
      vscode.window.setStatusBarMessage(`Copied job id ${n.job.id}`, 3000);
    }),
  );
  reg('codedance.jobs.setClusterSecret', async (arg) => {
    const profile = (arg instanceof ClusterNode ? arg.profile : undefined) ?? (await pickClusterProfile());
    if (!profile) return;
    const kind = await askSecretKind(profile);
    if (kind) await access.setSecret(profile, kind);
  });
  reg('codedance.jobs.setJobSecret', async () => {
    const name = await vscode.window.showInputBox({
      title: 'Training job secret: variable name',
      value: 'WANDB_API_KEY',
      prompt: 'Passed to the jobs you submit, at submit time only (never in a script or metadata)',
      ignoreFocusOut: true,
      validateInput: (v) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : 'an environment variable name'),
    });
    if (!name) return;
    const value = await vscode.window.showInputBox({
      title: `Training job secret ${name}`,
      password: true,
      prompt: "Kept in VS Code's secret storage; empty removes it",
      ignoreFocusOut: true,
    });
    if (value === undefined) return;
    await setJobSecret(context.secrets, name, value.trim() || undefined);
    log.info(`jobs: job secret ${name} ${value.trim() ? 'stored' : 'removed'}`);
  });
}
