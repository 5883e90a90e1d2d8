/**
 * `CodeDance: Start Training Job` after its questions: the generated submission opens in an editor
 * for review (edited freely), then `Submit` (from the notification or the editor title) parses it
 * back, passes the job secrets at submit time only, and hands the job to the tree to follow.
 */
import * as vscode from 'vscode';
import { buildJob, defaultParams, parseReview, renderReview, type JobInfo, type JobSpec } from '../../core/jobs';
import type { ServedEndpoints } from '../../core/serve';
import { errorMessage } from '../errors';
import type { ClusterAccess } from './clusterAccess';
import type { EditorClusterProfile } from './clusterProfiles';
import { jobSecretEnv } from './jobSecrets';
import { JobsTreeProvider } from './JobsTreeProvider';
import { askTrainingJob, pickClusterProfile } from './trainingJobWizard';

interface PendingReview {
  profile: EditorClusterProfile;
  spec: JobSpec;
  /** the document itself: an untitled URI is reused by the next untitled document */
  doc: vscode.TextDocument;
}

export interface TrainingJobDeps {
  secrets: vscode.SecretStorage;
  log: vscode.LogOutputChannel;
  access: ClusterAccess;
  tree: JobsTreeProvider;
  /** the models served from this window: a judge served on the job's cluster is the job's judge */
  served: ServedEndpoints;
  showLogs: (profile: EditorClusterProfile, job: JobInfo) => Promise<void>;
}

export class TrainingJobReviews implements vscode.Disposable {
  private readonly pending = new Map<string, PendingReview>();
  private readonly closing: vscode.Disposable;

  constructor(private readonly deps: TrainingJobDeps) {
    this.closing = vscode.workspace.onDidCloseTextDocument((d) => {
      if (this.pending.delete(d.uri.toString()) && !this.pending.size)
        void vscode.commands.executeCommand('setContext', 'codedance.jobs.reviewOpen', false);
    });
  }

  /** The whole command: questions, the review, then (on `Submit`) the submission. */
  async start(): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      const a = await vscode.window.showWarningMessage(
        'CodeDance does not submit training jobs in an untrusted workspace (its settings could point a job anywhere). Trust the workspace first.',
        'Manage Workspace Trust',
      );
      if (a) await vscode.commands.executeCommand('workbench.trust.manage');
      return;
    }
    const profile = await pickClusterProfile();
    if (!profile) return;
    const asked = await askTrainingJob(profile);
    if (!asked) return;
    let spec: JobSpec;
    let doc: { language: string; text: string };
    try {
      spec = buildJob(
        asked.template.id,
        defaultParams({
          ...this.judgeFor(profile),
          ...(profile.kind === 'ray' && profile.workingDir ? { repoDir: profile.workingDir } : {}),
          ...profile.defaults,
          experimentName: asked.experimentName,
        }),
        profile.kind,
      );
      const backend = await this.deps.access.backendFor(profile);
      doc = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `CodeDance: preparing the job for ${profile.name}…` },
        () => renderReview(backend, spec),
      );
    } catch (e) {
      if (await this.deps.access.offerSecret(profile, e)) return this.start();
      void vscode.window.showErrorMessage(`CodeDance: ${errorMessage(e)}`);
      return;
    }
    await this.review(profile, spec, doc);
  }

  /** The judge the job reaches: one served on this cluster (by its in-cluster URL), else the setting, else LLM_AS_A_JUDGE_BASE. */
  private judgeFor(profile: EditorClusterProfile): { judgeUrl?: string } {
    const cfg = vscode.workspace.getConfiguration('codedance');
    const servedJudge = this.deps.served
      .list('judge')
      .filter((m) => m.clusterName === profile.name)
      .at(-1);
    const judgeUrl =
      servedJudge?.clusterUrls.join(',') || cfg.get<string>('judge.endpoint', '') || process.env.LLM_AS_A_JUDGE_BASE || undefined;
    return judgeUrl ? { judgeUrl } : {};
  }

  /** Opens the generated submission for review; `Submit` submits it (once). */
  private async review(profile: EditorClusterProfile, spec: JobSpec, doc: { language: string; text: string }): Promise<void> {
    const textDoc = await vscode.workspace.openTextDocument({ language: doc.language, content: doc.text });
    await vscode.window.showTextDocument(textDoc, { preview: false });
    this.pending.set(textDoc.uri.toString(), { profile, spec, doc: textDoc });
    void vscode.commands.executeCommand('setContext', 'codedance.jobs.reviewOpen', true);
    const what = profile.kind === 'ray' ? 'the Ray job request (entrypoint, env_vars, working_dir)' : 'the batch script';
    const choice = await vscode.window.showInformationMessage(
      `Review ${what} for ${profile.name} — edit it freely — then submit.`,
      'Submit',
      'Cancel',
    );
    if (choice !== 'Submit') return;
    // a notification cannot be withdrawn: this prompt may outlive its review (submitted from the editor title, or closed)
    if (this.pending.get(textDoc.uri.toString())?.doc === textDoc) await this.submit(textDoc);
    else
      void vscode.window.showInformationMessage(
        `CodeDance: that review of ${profile.name} was already submitted or closed; nothing was sent again.`,
      );
  }

  /** Submits the review in `textDoc` (default: the active editor's), then follows the job. */
  async submit(textDoc?: vscode.TextDocument): Promise<void> {
    textDoc ??= vscode.window.activeTextEditor?.document;
    const entry = textDoc && this.pending.get(textDoc.uri.toString());
    const review = entry && entry.doc === textDoc ? entry : undefined;
    if (!textDoc || !review) {
      void vscode.window.showWarningMessage('CodeDance: open a training job review (CodeDance: Start Training Job) to submit it.');
      return;
    }
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('CodeDance does not submit training jobs in an untrusted workspace.');
      return;
    }
    const id = await this.send(textDoc, review);
    if (id === undefined) return;
    this.pending.delete(textDoc.uri.toString());
    if (!this.pending.size) void vscode.commands.executeCommand('setContext', 'codedance.jobs.reviewOpen', false);
    if (vscode.window.activeTextEditor?.document === textDoc)
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    await this.follow(review.profile, id);
  }

  /** The edited spec to the cluster, with the job secrets; the job id, or undefined when it failed (said) or was sent by a retry. */
  private async send(textDoc: vscode.TextDocument, review: PendingReview): Promise<string | undefined> {
    const { profile } = review;
    const { log, access } = this.deps;
    try {
      const spec = parseReview(profile.kind, textDoc.getText(), review.spec);
      const backend = await access.backendFor(profile);
      const secretEnv = await jobSecretEnv(this.deps.secrets, spec.metadata?.template ?? review.spec.metadata?.template);
      const r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `CodeDance: submitting to ${profile.name}…` },
        () => backend.submit({ ...spec, secretEnv }),
      );
      if (Object.keys(secretEnv).length)
        log.info(`jobs: passed ${Object.keys(secretEnv).join(', ')} to the job at submit time (not written into the script or metadata)`);
      log.info(`jobs: submitted ${r.id} to ${profile.name}${r.workingDirUri ? ` (working_dir ${r.workingDirUri})` : ''}`);
      return r.id;
    } catch (e) {
      if (await access.offerSecret(profile, e)) {
        await this.submit(textDoc);
        return undefined;
      }
      log.error(`jobs: submit to ${profile.name} failed: ${errorMessage(e)}`);
      void vscode.window.showErrorMessage(`CodeDance: ${errorMessage(e)}`);
      return undefined;
    }
  }

  /** A submitted job: the tree follows it and shows it; the notification offers its logs. */
  private async follow(profile: EditorClusterProfile, id: string): Promise<void> {
    const { tree } = this.deps;
    tree.watch(profile, id);
    await tree.poll();
    void vscode.commands.executeCommand(`${JobsTreeProvider.viewId}.focus`);
    void vscode.window
      .showInformationMessage(`CodeDance: submitted training job ${id} to ${profile.name}.`, 'Show Logs', 'Open Run View')
      .then((a) => {
        const job = tree.jobs(profile.name).find((j) => j.id === id) ?? { id, status: 'PENDING' as const, rawStatus: 'PENDING' };
        if (a === 'Show Logs') void this.deps.showLogs(profile, job);
        // the run view (src/extension/runs): charts, alarms and rollouts as the job trains
        else if (a === 'Open Run View') void vscode.commands.executeCommand('codedance.jobs.openRunView', { profile, job });
      });
  }

  dispose(): void {
    this.closing.dispose();
  }
}
