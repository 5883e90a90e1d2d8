/**
 * The Training Jobs feature in the editor: `CodeDance: Start Training Job` (cluster → template →
 * review the generated submission in an editor → submit), the Training Jobs tree with its context
 * actions (Show Logs, Stop, Delete, Copy ID), secrets in SecretStorage, notifications when a job
 * ends. Everything cluster-side goes through src/core/jobs.
 */
import * as vscode from 'vscode';
import {
  BackendCache,
  buildJob,
  defaultParams,
  isTerminal,
  JobsAuthError,
  parseReview,
  profileEndpoint,
  renderReview,
  TEMPLATES,
  type JobBackend,
  type JobInfo,
  type JobSpec,
} from '../../core/jobs';
import { readClusterProfiles, type EditorClusterProfile } from './clusterProfiles';
import { ClusterSecrets, type SecretKind } from './clusterSecrets';
import { errorMessage } from '../errors';
import { servedModels } from '../serve/servedModels';
import { jobSecretEnv, setJobSecret } from './jobSecrets';
import { ClusterNode, JobNode, JobsTreeProvider } from './JobsTreeProvider';

interface PendingReview {
  profile: EditorClusterProfile;
  spec: JobSpec;
  /** the document itself: an untitled URI is reused by the next untitled document */
  doc: vscode.TextDocument;
}

/** The error's message, its fix worded for VS Code (the command that sets a cluster's secret, …). */
function errorText(e: unknown): string {
  return errorMessage(e);
}

export function registerJobs(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): JobsTreeProvider {
  const secrets = new ClusterSecrets(context.secrets);
  const backends = new BackendCache();
  const pending = new Map<string, PendingReview>();
  const logStreams = new Map<string, { channel: vscode.OutputChannel; abort?: AbortController }>();

  async function backendFor(profile: EditorClusterProfile): Promise<JobBackend> {
    return backends.get(profile, await secrets.get(profile));
  }

  const tree = new JobsTreeProvider({ profiles: readClusterProfiles, backend: backendFor }, log, pollMs());
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
  );

  function pollMs(): number {
    return Math.max(1, vscode.workspace.getConfiguration('codedance').get<number>('jobs.pollSeconds', 5)) * 1000;
  }

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('codedance.jobs')) return;
      tree.setPollInterval(pollMs());
      tree.refresh();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => tree.refresh()),
    tree.onDidEndJob(({ profile, job }) => {
      const how = job.status === 'SUCCEEDED' ? 'succeeded' : job.status === 'STOPPED' ? 'was stopped' : `failed${job.exitCode !== undefined ? ` (exit ${job.exitCode})` : ''}`;
      const text = `Training job ${job.name ?? job.id} on ${profile.name} ${how}.`;
      log.info(`jobs: ${text}`);
      if (tree.endToldElsewhere?.(profile, job)) return;
      const show = job.status === 'FAILED' ? vscode.window.showErrorMessage : vscode.window.showInformationMessage;
      void show(text, 'Show Logs').then((a) => {
        if (a) void showLogs(profile, job);
      });
    }),
    {
      dispose: () => {
        for (const s of logStreams.values()) {
          s.abort?.abort();
          s.channel.dispose();
        }
        backends.dispose();
      },
    },
  );

  /** Offers to set the missing/wrong secret when a cluster refuses us; true when one was set. */
  async function offerSecret(profile: EditorClusterProfile, e: unknown): Promise<boolean> {
    if (!(e instanceof JobsAuthError)) return false;
    const kind: SecretKind = profile.kind === 'ray' ? 'token' : e.fix?.setting === 'jobs.sshPassphrase' ? 'passphrase' : 'password';
    const a = await vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`, kind === 'token' ? 'Set Token' : kind === 'passphrase' ? 'Set Key Passphrase' : 'Set Password');
    if (!a) return false;
    return setSecret(profile, kind);
  }

  async function setSecret(profile: EditorClusterProfile, kind: SecretKind): Promise<boolean> {
    const where = `${profile.name} (${profileEndpoint(profile)}${profile.origin === 'workspace' ? ', from the workspace settings' : ''})`;
    const what = kind === 'token' ? `Ray dashboard token for ${where}` : kind === 'passphrase' ? `SSH key passphrase for ${where}` : `SSH password for ${where}`;
    const value = await vscode.window.showInputBox({ prompt: `${what} (kept in VS Code's secret storage; empty removes it)`, password: true, ignoreFocusOut: true });
    if (value === undefined) return false;
    await secrets.set(profile, kind, value);
    log.info(`jobs: ${what} ${value ? 'stored' : 'removed'}`);
    tree.refresh();
    return true;
  }

  async function pickProfile(): Promise<EditorClusterProfile | undefined> {
    const { profiles, problems } = readClusterProfiles();
    for (const p of problems) void vscode.window.showWarningMessage(`CodeDance: codedance.jobs.clusters: ${p}`);
    if (!profiles.length) {
      const a = await vscode.window.showWarningMessage(
        'CodeDance: no training cluster profiles yet. Add a Ray dashboard ({name, kind: "ray", address}) or an SSH host of a Slurm cluster ({name, kind: "slurm", host}) to the setting codedance.jobs.clusters.',
        'Open Settings',
      );
      if (a) await vscode.commands.executeCommand('workbench.action.openSettingsJson');
      return undefined;
    }
    const picked = await vscode.window.showQuickPick(
      profiles.map((p) => ({
        label: p.name,
        description: `${p.kind === 'ray' ? `Ray · ${p.address}` : `Slurm over SSH · ${p.user ? p.user + '@' : ''}${p.host}${p.port ? ':' + p.port : ''}`}${p.origin === 'workspace' ? ' · workspace settings' : ''}`,
        profile: p,
      })),
      { title: 'Start Training Job (1/3): cluster', placeHolder: 'Which cluster runs the job?', ignoreFocusOut: true },
    );
    return picked?.profile;
  }

  async function startTrainingJob(): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      const a = await vscode.window.showWarningMessage('CodeDance does not submit training jobs in an untrusted workspace (its settings could point a job anywhere). Trust the workspace first.', 'Manage Workspace Trust');
      if (a) await vscode.commands.executeCommand('workbench.trust.manage');
      return;
    }
    const profile = await pickProfile();
    if (!profile) return;
    const tpl = await vscode.window.showQuickPick(
      TEMPLATES.filter((t) => t.kinds.includes(profile.kind)).map((t) => ({ label: t.label, detail: t.description, template: t })),
      { title: 'Start Training Job (2/3): template', placeHolder: 'What to run', ignoreFocusOut: true },
    );
    if (!tpl) return;
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
    const experimentName = await vscode.window.showInputBox({
      title: 'Start Training Job (3/3): experiment name',
      prompt: 'trainer.experiment_name (also the job name); everything else is editable in the next step',
      value: profile.defaults?.experimentName ?? `${tpl.template.id}-${stamp}`,
      ignoreFocusOut: true,
      validateInput: (v) => (/^[A-Za-z0-9_.-]{1,64}$/.test(v) ? undefined : '1-64 letters, digits, _ . -'),
    });
    if (!experimentName) return;
    const cfg = vscode.workspace.getConfiguration('codedance');
    // a judge served on this cluster (Serve Model on Cluster) is reached from the job by its in-cluster URL
    const servedJudge = servedModels.list('judge').filter((m) => m.clusterName === profile.name).at(-1);
    const judgeUrl = servedJudge?.clusterUrls.join(',') || cfg.get<string>('judge.endpoint', '') || process.env.LLM_AS_A_JUDGE_BASE || undefined;
    let spec: JobSpec;
    let doc: { language: string; text: string };
    try {
      spec = buildJob(tpl.template.id, defaultParams({ ...(judgeUrl ? { judgeUrl } : {}), ...(profile.kind === 'ray' && profile.workingDir ? { repoDir: profile.workingDir } : {}), ...profile.defaults, experimentName }), profile.kind);
      const backend = await backendFor(profile);
      doc = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `CodeDance: preparing the job for ${profile.name}…` }, () => renderReview(backend, spec));
    } catch (e) {
      if (await offerSecret(profile, e)) return startTrainingJob();
      void vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`);
      return;
    }
    const textDoc = await vscode.workspace.openTextDocument({ language: doc.language, content: doc.text });
    await vscode.window.showTextDocument(textDoc, { preview: false });
    pending.set(textDoc.uri.toString(), { profile, spec, doc: textDoc });
    void vscode.commands.executeCommand('setContext', 'codedance.jobs.reviewOpen', true);
    const what = profile.kind === 'ray' ? 'the Ray job request (entrypoint, env_vars, working_dir)' : 'the batch script';
    const choice = await vscode.window.showInformationMessage(`Review ${what} for ${profile.name} — edit it freely — then submit.`, 'Submit', 'Cancel');
    if (choice !== 'Submit') return;
    // a notification cannot be withdrawn: this prompt may outlive its review (submitted from the editor title, or closed)
    if (pending.get(textDoc.uri.toString())?.doc === textDoc) await submitReview(textDoc);
    else void vscode.window.showInformationMessage(`CodeDance: that review of ${profile.name} was already submitted or closed; nothing was sent again.`);
  }

  async function submitReview(textDoc?: vscode.TextDocument): Promise<void> {
    textDoc ??= vscode.window.activeTextEditor?.document;
    const entry = textDoc && pending.get(textDoc.uri.toString());
    const review = entry && entry.doc === textDoc ? entry : undefined;
    if (!textDoc || !review) {
      void vscode.window.showWarningMessage('CodeDance: open a training job review (CodeDance: Start Training Job) to submit it.');
      return;
    }
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('CodeDance does not submit training jobs in an untrusted workspace.');
      return;
    }
    const { profile } = review;
    let id: string;
    try {
      const spec = parseReview(profile.kind, textDoc.getText(), review.spec);
      const backend = await backendFor(profile);
      const secretEnv = await jobSecretEnv(context.secrets, spec.metadata?.template ?? review.spec.metadata?.template);
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `CodeDance: submitting to ${profile.name}…` }, () => backend.submit({ ...spec, secretEnv }));
      if (Object.keys(secretEnv).length) log.info(`jobs: passed ${Object.keys(secretEnv).join(', ')} to the job at submit time (not written into the script or metadata)`);
      id = r.id;
      log.info(`jobs: submitted ${id} to ${profile.name}${r.workingDirUri ? ` (working_dir ${r.workingDirUri})` : ''}`);
    } catch (e) {
      if (await offerSecret(profile, e)) return submitReview(textDoc);
      log.error(`jobs: submit to ${profile.name} failed: ${errorText(e)}`);
      void vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`);
      return;
    }
    pending.delete(textDoc.uri.toString());
    if (!pending.size) void vscode.commands.executeCommand('setContext', 'codedance.jobs.reviewOpen', false);
    if (vscode.window.activeTextEditor?.document === textDoc) await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    tree.watch(profile, id);
    await tree.poll();
    void vscode.commands.executeCommand(`${JobsTreeProvider.viewId}.focus`);
    void vscode.window.showInformationMessage(`CodeDance: submitted training job ${id} to ${profile.name}.`, 'Show Logs').then((a) => {
      if (a) void showLogs(profile, tree.jobs(profile.name).find((j) => j.id === id) ?? { id, status: 'PENDING', rawStatus: 'PENDING' });
    });
  }

  async function showLogs(profile: EditorClusterProfile, job: JobInfo): Promise<void> {
    const key = `${profile.name}\u0000${job.id}`;
    let s = logStreams.get(key);
    s?.abort?.abort();
    if (!s) {
      s = { channel: vscode.window.createOutputChannel(`CodeDance Job: ${job.name ?? job.id} (${job.id})`) };
      logStreams.set(key, s);
    }
    const stream = s;
    stream.channel.clear();
    stream.channel.show(true);
    const ac = new AbortController();
    stream.abort = ac;
    try {
      const backend = await backendFor(profile);
      const current = await backend.status(job.id);
      tree.noteStatus(profile, current);
      stream.channel.appendLine(`[codedance] ${profile.name} · job ${job.id} · ${current.status}${isTerminal(current.status) ? '' : ' · streaming live'}`);
      for await (const chunk of backend.tailLogs(job.id, { signal: ac.signal })) stream.channel.append(chunk);
      if (!ac.signal.aborted) {
        const end = await backend.status(job.id);
        tree.noteStatus(profile, end);
        stream.channel.appendLine(`[codedance] log ${isTerminal(end.status) ? `complete: job ${end.status}${end.exitCode !== undefined ? ` (exit ${end.exitCode})` : ''}` : 'stream closed'}`);
        tree.refresh();
      }
    } catch (e) {
      if (!ac.signal.aborted) stream.channel.appendLine(`[codedance] ${errorText(e)}`);
    }
  }

  const nodeOrPick = async (arg: unknown): Promise<JobNode | undefined> => (arg instanceof JobNode ? arg : undefined);

  const reg = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg('codedance.startTrainingJob', () => startTrainingJob());
  reg('codedance.jobs.submitReview', () => submitReview());
  reg('codedance.jobs.refresh', () => tree.poll());
  reg('codedance.jobs.showLogs', async (arg) => {
    const n = await nodeOrPick(arg);
    if (n) await showLogs(n.profile, n.job);
  });
  reg('codedance.jobs.stop', async (arg) => {
    const n = await nodeOrPick(arg);
    if (!n) return;
    try {
      const stopped = await (await backendFor(n.profile)).stop(n.job.id);
      void vscode.window.showInformationMessage(stopped ? `CodeDance: stopping ${n.job.name ?? n.job.id} on ${n.profile.name}.` : `CodeDance: ${n.job.id} was not running.`);
    } catch (e) {
      void vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`);
    }
    await tree.poll();
  });
  reg('codedance.jobs.delete', async (arg) => {
    const n = await nodeOrPick(arg);
    if (!n) return;
    const ok = await vscode.window.showWarningMessage(`Delete job ${n.job.name ?? n.job.id} (${n.job.id}) from ${n.profile.name}? ${n.profile.kind === 'slurm' ? 'Its output file is removed.' : 'Ray forgets the job and its logs.'}`, { modal: true }, 'Delete');
    if (ok !== 'Delete') return;
    try {
      await (await backendFor(n.profile)).delete(n.job.id);
      const key = `${n.profile.name}\u0000${n.job.id}`;
      logStreams.get(key)?.abort?.abort();
      logStreams.get(key)?.channel.dispose();
      logStreams.delete(key);
    } catch (e) {
      void vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`);
    }
    await tree.poll();
  });
  reg('codedance.jobs.copyId', async (arg) => {
    const n = await nodeOrPick(arg);
    if (!n) return;
    await vscode.env.clipboard.writeText(n.job.id);
    vscode.window.setStatusBarMessage(`Copied job id ${n.job.id}`, 3000);
  });
  reg('codedance.jobs.setClusterSecret', async (arg) => {
    let profile = arg instanceof ClusterNode ? arg.profile : undefined;
    profile ??= await pickProfile();
    if (!profile) return;
    let kind: SecretKind = 'token';
    if (profile.kind === 'slurm') {
      const k = await vscode.window.showQuickPick(
        [
          { label: 'SSH key passphrase', secret: 'passphrase' as const },
          { label: 'SSH password', secret: 'password' as const },
        ],
        { title: `Secret for ${profile.name}` },
      );
      if (!k) return;
      kind = k.secret;
    }
    await setSecret(profile, kind);
  });
  reg('codedance.jobs.setJobSecret', async () => {
    const name = await vscode.window.showInputBox({ title: 'Training job secret: variable name', value: 'WANDB_API_KEY', prompt: 'Passed to the jobs you submit, at submit time only (never in a script or metadata)', ignoreFocusOut: true, validateInput: (v) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(v) ? undefined : 'an environment variable name') });
    if (!name) return;
    const value = await vscode.window.showInputBox({ title: `Training job secret ${name}`, password: true, prompt: "Kept in VS Code's secret storage; empty removes it", ignoreFocusOut: true });
    if (value === undefined) return;
    await setJobSecret(context.secrets, name, value.trim() || undefined);
    log.info(`jobs: job secret ${name} ${value.trim() ? 'stored' : 'removed'}`);
  });
  context.subscriptions.push(
    vscode.workspace.onDidCloseTextDocument((d) => {
      if (pending.delete(d.uri.toString()) && !pending.size) void vscode.commands.executeCommand('setContext', 'codedance.jobs.reviewOpen', false);
    }),
  );
  return tree;
}
