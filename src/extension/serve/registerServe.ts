/**
 * `CodeDance: Serve Model on Cluster`: cluster → policy or the seed's judge → checkpoint → the vLLM
 * job opens for review (as training jobs do) → submit → the replicas are discovered and reached
 * (Slurm: SSH tunnels) → ready: they join chat's and eval's endpoints (status bar
 * `CodeDance: hpc · 2 replicas · codedance-7b`), a served judge becomes eval's judge choice. When
 * the job stops or ends they are removed and the tunnels close. Nothing is written to settings.
 * The window remembers its serve jobs (workspace state: cluster name, job id, what it serves —
 * serveRecords.ts): closing the window leaves them running; the next window finds them again,
 * re-opens the tunnels and puts the replicas back in the pool. VS Code gives an extension no way
 * to ask before a window closes, so "Stop Serving" is offered when a model is ready or found again.
 */
import * as vscode from 'vscode';
import { BackendCache, parseReview, renderReview, type JobInfo, type JobSpec } from '../../core/jobs';
import { buildServeJob, judgeDefaults, policyDefaults, rayJumpConnection, readServeRecords, ServeError, ServeSession, withoutServeRecord, withServeRecord, type ServedReplica, type ServeParams, type ServeRecord, type ServeRole, type ServeState } from '../../core/serve';
import { readClusterProfiles, type EditorClusterProfile } from '../jobs/clusterProfiles';
import { ClusterSecrets } from '../jobs/clusterSecrets';
import { JobNode, type JobsTreeProvider } from '../jobs/JobsTreeProvider';
import { servedModels } from './servedModels';

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

/** What a served job serves: enough to follow it (and to find it again after a reload). */
type ServeWhat = Pick<ServeParams, 'role' | 'servedModelName' | 'replicas'>;

interface Served {
  profile: EditorClusterProfile;
  session: ServeSession;
  params: ServeWhat;
  key: string;
}

/** workspace state key: the serve jobs of this workspace's window (ServeRecord[]) */
export const SERVE_RECORDS_KEY = 'codedance.serve.jobs';

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function registerServe(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, tree?: JobsTreeProvider): { served: typeof servedModels } {
  const secrets = new ClusterSecrets(context.secrets);
  const backends = new BackendCache();
  const sessions = new Map<string, Served>();
  /** every serve job this window followed (also after it ended) */
  const followed = new Set<string>();
  const status = vscode.window.createStatusBarItem('codedance.serveStatus', vscode.StatusBarAlignment.Right, 99);
  status.command = 'codedance.serve.stop';
  status.name = 'CodeDance served models';

  function updateStatus(): void {
    const p = servedModels.policy();
    const j = servedModels.judge();
    void vscode.commands.executeCommand('setContext', 'codedance.serve.active', !!(p || j));
    if (!p && !j) return status.hide();
    status.text = `$(server-process) CodeDance: ${p ? p.summary : ''}${p && j ? ' · ' : ''}${j ? `judge on ${j.clusterName}` : ''}`;
    status.tooltip = [...servedModels.list()].map((m) => `${m.servedModelName} (${m.role}) on ${m.clusterName}, job ${m.jobId}: ${m.baseUrls.join(', ')}`).join('\n') + '\nClick to stop one.';
    status.show();
  }
  context.subscriptions.push(status, { dispose: servedModels.onChange(updateStatus) });

  if (tree) {
    // the end of a job this window served is told by the serve feature ("… is gone from hpc")
    tree.endToldElsewhere = (profile: EditorClusterProfile, job: JobInfo) => followed.has(`${profile.name}/${job.id}`);
    tree.decorate = (profile: EditorClusterProfile, job: JobInfo) => {
      const s = sessions.get(`${profile.name}/${job.id}`);
      if (!s) return undefined;
      const st = s.session.state;
      const ready = st.replicas.filter((r) => r.ready).length;
      const words = st.phase === 'ready' ? `serving ${s.params.servedModelName} · ${ready}/${s.params.replicas} ready` : st.phase === 'failed' ? 'serve failed' : `serve: ${st.phase}`;
      return { description: words, icon: st.phase === 'ready' ? new vscode.ThemeIcon('server-process', new vscode.ThemeColor('charts.green')) : undefined };
    };
  }

  async function pickProfile(name?: string): Promise<EditorClusterProfile | undefined> {
    const { profiles } = readClusterProfiles();
    if (name) return profiles.find((p) => p.name === name);
    if (!profiles.length) {
      void vscode.window.showWarningMessage('CodeDance: no cluster profiles yet: add one to codedance.jobs.clusters (see "Start Training Job").');
      return undefined;
    }
    if (profiles.length === 1) return profiles[0];
    const p = await vscode.window.showQuickPick(profiles.map((x) => ({ label: x.name, description: x.kind === 'ray' ? `Ray · ${x.address}` : `Slurm over SSH · ${x.host}`, profile: x })), { title: 'Serve Model on Cluster (1/4): cluster', ignoreFocusOut: true });
    return p?.profile;
  }

  async function askParams(profile: EditorClusterProfile, a: ServeModelArgs): Promise<ServeParams | undefined> {
    let role = a.role;
    if (!role) {
      const r = await vscode.window.showQuickPick(
        [
          { label: '$(hubot) Policy model', description: 'a CodeDance / Qwen2.5-VL checkpoint for chat and eval', role: 'policy' as const },
          { label: '$(law) Judge (the seed\'s)', description: 'Qwen/Qwen2.5-72B-Instruct as "judge" on 18901, TP 8', role: 'judge' as const },
        ],
        { title: 'Serve Model on Cluster (2/4): what to serve', ignoreFocusOut: true },
      );
      if (!r) return undefined;
      role = r.role;
    }
    const base = role === 'judge' ? judgeDefaults() : policyDefaults({ modelPath: (profile.defaults?.modelPath as string | undefined) ?? '' });
    let modelPath = a.modelPath;
    if (modelPath === undefined) {
      modelPath = await vscode.window.showInputBox({ title: 'Serve Model on Cluster (3/4): checkpoint', prompt: 'A model folder on the cluster (a merged Hugging Face checkpoint) or a hub id', value: base.modelPath, ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : 'a path or hub id') });
      if (!modelPath) return undefined;
    }
    let replicas = a.replicas;
    if (replicas === undefined) {
      const r = await vscode.window.showInputBox({ title: 'Serve Model on Cluster (4/4): replicas', prompt: `vLLM servers (each ${base.tensorParallel} GPU${base.tensorParallel === 1 ? '' : 's'}); everything else is editable in the next step`, value: '1', ignoreFocusOut: true, validateInput: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 64 ? undefined : '1 to 64') });
      if (!r) return undefined;
      replicas = Number(r);
    }
    const protocol = a.protocol ?? (vscode.workspace.getConfiguration('codedance').get<string>('model.protocol') === 'codedance-tools' ? 'codedance-tools' : 'codedance');
    return { ...base, modelPath, replicas, protocol, ...(a.servedModelName && { servedModelName: a.servedModelName }), ...(a.port && { port: a.port }), ...(a.tensorParallel !== undefined && { tensorParallel: a.tensorParallel }) };
  }

  /** Opens the job for review; resolves with the (edited) spec, or undefined when cancelled. */
  async function review(profile: EditorClusterProfile, spec: JobSpec): Promise<JobSpec | undefined> {
    const backend = backends.get(profile, await secrets.get(profile));
    const doc = await renderReview(backend, spec);
    const textDoc = await vscode.workspace.openTextDocument({ language: doc.language, content: doc.text });
    await vscode.window.showTextDocument(textDoc, { preview: false });
    const choice = await vscode.window.showInformationMessage(`Review the vLLM job for ${profile.name} — edit it freely — then start it.`, 'Start Serving', 'Cancel');
    if (choice !== 'Start Serving') return undefined;
    const edited = parseReview(profile.kind, textDoc.getText(), spec);
    if (vscode.window.activeTextEditor?.document === textDoc) await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    return edited;
  }

  /** A finished training job's checkpoint folder, as the serve job (run elsewhere) must name it: absolute when the checkout is known. */
  async function checkpointOf(n: JobNode): Promise<string | undefined> {
    const rel = n.job.metadata?.checkpoint_dir ?? `checkpoints/CodeDance/${n.job.name ?? ''}`;
    const repo = typeof n.profile.defaults?.repoDir === 'string' && n.profile.kind === 'slurm' ? n.profile.defaults.repoDir : '';
    const guess = rel.startsWith('/') || !repo ? rel : `${repo.replace(/\/+$/, '')}/${rel}`;
    // verl saves FSDP shards under global_step_N/actor: the user picks the merged Hugging Face folder
    return vscode.window.showInputBox({ title: `Serve the checkpoint of ${n.job.name ?? n.job.id}`, prompt: 'The merged Hugging Face model folder on the cluster (verl: python -m verl.model_merger … --target_dir)', value: guess, ignoreFocusOut: true });
  }

  // ---- the window's memory of its serve jobs (never a URL or a secret) ----
  const records = (): ServeRecord[] => readServeRecords(context.workspaceState.get(SERVE_RECORDS_KEY));
  const remember = (e: Served) => context.workspaceState.update(SERVE_RECORDS_KEY, withServeRecord(records(), { cluster: e.profile.name, jobId: e.session.jobId!, role: e.params.role, servedModelName: e.params.servedModelName, replicas: e.params.replicas }));
  const forget = (e: Served) => context.workspaceState.update(SERVE_RECORDS_KEY, withoutServeRecord(records(), e.profile.name, e.session.jobId ?? ''));
  let disposed = false;

  async function sessionFor(profile: EditorClusterProfile, what: ServeWhat, readyTimeoutSeconds = 1200): Promise<ServeSession> {
    const clusterSecrets = await secrets.get(profile);
    const backend = backends.get(profile, clusterSecrets);
    const tunnelVia = profile.kind === 'ray' ? rayJumpConnection(profile, clusterSecrets) : undefined;
    if (tunnelVia) context.subscriptions.push({ dispose: () => tunnelVia.close() });
    return new ServeSession({ backend, clusterName: profile.name, tunnelVia, role: what.role, servedModelName: what.servedModelName, replicas: what.replicas, readyTimeoutMs: readyTimeoutSeconds * 1000, log: (l) => log.info(l), onState: () => tree?.redraw() });
  }

  /** Ready: the replicas join the pool, the user hears of it (with Stop Serving), and the job is followed until it ends. */
  function onReady(e: Served, ready: ServedReplica[], found: boolean): void {
    const { profile, session, params } = e;
    servedModels.set({ key: e.key, clusterName: profile.name, jobId: session.jobId!, role: params.role, servedModelName: params.servedModelName, baseUrls: ready.map((r) => r.baseUrl), clusterUrls: ready.map((r) => r.clusterUrl) });
    const n = `${ready.length} replica${ready.length > 1 ? 's' : ''}`;
    const use = params.role === 'judge' ? `eval offers it as the judge (in the cluster: ${ready[0].clusterUrl})` : found ? 'chat and eval use it again' : 'chat and eval use it now';
    const text = found ? `CodeDance: ${params.servedModelName} is still served on ${profile.name} (job ${session.jobId}, ${n}): reconnected; ${use}.` : `CodeDance: ${params.servedModelName} is ready on ${profile.name} (${n}); ${use}.`;
    log.info(`serve: ${text.replace(/^CodeDance: /, '')}`);
    void vscode.window.showInformationMessage(text, 'Stop Serving').then((c) => {
      if (c && sessions.get(e.key) === e) void stopServed(e);
    });
    void session.watch().then((st) => {
      if (disposed || st.phase !== 'ended' || !sessions.delete(e.key)) return; // stopped from here: stopServed says so
      void forget(e);
      if (servedModels.remove(e.key)) void vscode.window.showInformationMessage(`CodeDance: ${st.message}; removed from chat's and eval's endpoints.`);
      tree?.redraw();
    });
    tree?.redraw();
  }

  /** Not ready: says why, offers Stop Job / Show Log; the job is no longer remembered. */
  async function onFailure(e: Served | undefined, session: ServeSession, err: unknown): Promise<ServeState> {
    // the window is closing (detach ended the wait): the job stays, and stays remembered for the next window
    if (disposed) return session.state;
    if (e) {
      sessions.delete(e.key);
      void forget(e);
      // a job left running after a failure is no longer watched from here: the tree tells when it ends
      if (!(err instanceof ServeError && (err.failure === 'job-ended' || err.failure === 'cancelled'))) followed.delete(e.key);
    }
    tree?.redraw();
    if (err instanceof ServeError && err.failure === 'cancelled') {
      await session.stop().catch(() => undefined);
      void vscode.window.showInformationMessage(`CodeDance: cancelled; job ${session.jobId ?? ''} stopped.`);
      return session.state;
    }
    log.error(`serve: ${errorText(err)}`);
    const canStop = err instanceof ServeError && err.failure !== 'job-ended' && session.jobId;
    const pick = await vscode.window.showErrorMessage(`CodeDance: ${errorText(err).split('\n')[0]}`, ...(canStop ? ['Stop Job'] : []), 'Show Log');
    if (pick === 'Stop Job') await session.stop().catch((x) => log.error(`serve: stop: ${errorText(x)}`));
    if (pick === 'Show Log') log.show(true);
    return session.state;
  }

  async function serveModel(arg?: ServeModelArgs | JobNode): Promise<ServeState | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('CodeDance does not start cluster jobs in an untrusted workspace. Trust the workspace first.');
      return undefined;
    }
    const a: ServeModelArgs = arg instanceof JobNode ? { cluster: arg.profile.name, role: 'policy', modelPath: await checkpointOf(arg) } : (arg ?? {});
    if (arg instanceof JobNode && !a.modelPath) return undefined;
    const profile = await pickProfile(a.cluster);
    if (!profile) return undefined;
    const params = await askParams(profile, a);
    if (!params) return undefined;
    let spec: JobSpec | undefined;
    try {
      spec = buildServeJob(params, profile.kind);
      Object.assign(spec.env, a.env ?? {});
      if (a.review !== false) spec = await review(profile, spec);
    } catch (e) {
      void vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`);
      return undefined;
    }
    if (!spec) return undefined;
    const session = await sessionFor(profile, params, a.readyTimeoutSeconds);
    const ac = new AbortController();
    let entry: Served | undefined;
    try {
      const ready = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `CodeDance: serving ${params.servedModelName} on ${profile.name}`, cancellable: true }, async (progress, token) => {
        token.onCancellationRequested(() => ac.abort());
        const id = await session.submit(spec);
        entry = { profile, session, params, key: `${profile.name}/${id}` };
        sessions.set(entry.key, entry);
        followed.add(entry.key);
        await remember(entry); // a window closed from here on finds the job again
        void tree?.poll();
        void vscode.commands.executeCommand('codedance.jobs.focus');
        progress.report({ message: session.state.message });
        const off = setInterval(() => progress.report({ message: session.state.message }), 1000);
        try {
          return await session.waitReady(ac.signal);
        } finally {
          clearInterval(off);
        }
      });
      onReady(entry!, ready, false);
      return session.state;
    } catch (e) {
      return onFailure(entry, session, e);
    }
  }

  /** After a reload: the serve jobs this workspace's window started, followed again (tunnels, pool, tree). */
  async function findServed(): Promise<void> {
    const recorded = records();
    if (!recorded.length) return; // the usual window: nothing to read at startup
    const { profiles } = readClusterProfiles();
    for (const r of recorded) {
      const key = `${r.cluster}/${r.jobId}`;
      if (sessions.has(key)) continue;
      const profile = profiles.find((p) => p.name === r.cluster);
      if (!profile) {
        log.warn(`serve: job ${r.jobId} served ${r.servedModelName} on '${r.cluster}', which is no longer in codedance.jobs.clusters: not followed (stop it on the cluster if it still runs)`);
        await context.workspaceState.update(SERVE_RECORDS_KEY, withoutServeRecord(records(), r.cluster, r.jobId));
        continue;
      }
      const what: ServeWhat = { role: r.role, servedModelName: r.servedModelName, replicas: r.replicas };
      let session: ServeSession;
      try {
        session = await sessionFor(profile, what);
      } catch (e) {
        log.error(`serve: job ${r.jobId} on ${r.cluster}: ${errorText(e)}`);
        continue;
      }
      session.attach(r.jobId);
      const e: Served = { profile, session, params: what, key };
      sessions.set(key, e);
      followed.add(key);
      log.info(`serve: looking for ${r.servedModelName} on ${r.cluster} (job ${r.jobId}), served from this workspace before the window closed`);
      tree?.redraw();
      void vscode.window
        .withProgress({ location: vscode.ProgressLocation.Window, title: `CodeDance: reconnecting to ${r.servedModelName} on ${r.cluster}` }, () => session.waitReady())
        .then(
          (ready) => {
            if (!disposed && sessions.get(key) === e) onReady(e, ready, true);
          },
          (err) => {
            if (disposed || sessions.get(key) !== e) return;
            if (err instanceof ServeError && err.failure === 'job-ended') {
              sessions.delete(key);
              void forget(e);
              tree?.redraw();
              log.info(`serve: ${errorText(err)}`);
              void vscode.window.showInformationMessage(`CodeDance: the job serving ${r.servedModelName} on ${r.cluster} (${r.jobId}) ended while the window was closed.`, 'Show Log').then((c) => c && log.show(true));
              return;
            }
            void onFailure(e, session, err);
          },
        );
    }
  }

  async function stopServed(s: Served): Promise<void> {
    sessions.delete(s.key);
    void forget(s);
    try {
      await s.session.stop();
    } catch (e) {
      void vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`);
    }
    if (servedModels.remove(s.key)) void vscode.window.showInformationMessage(`CodeDance: stopped ${s.params.servedModelName} on ${s.profile.name} (job ${s.session.jobId}); removed from chat's and eval's endpoints.`);
    tree?.redraw();
    void tree?.poll();
  }

  const reg = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg('codedance.serveModel', (arg) => serveModel(arg as ServeModelArgs | JobNode | undefined));
  reg('codedance.serve.stop', async (arg) => {
    let s: Served | undefined;
    if (arg instanceof JobNode) s = sessions.get(`${arg.profile.name}/${arg.job.id}`);
    else if (typeof arg === 'string') s = sessions.get(arg);
    else {
      const all = [...sessions.values()];
      if (!all.length) return void vscode.window.showInformationMessage('CodeDance: no model is served from this window.');
      const p = all.length === 1 ? { s: all[0] } : await vscode.window.showQuickPick(all.map((x) => ({ label: x.params.servedModelName, description: `${x.profile.name} · job ${x.session.jobId} · ${x.session.state.phase}`, s: x })), { title: 'Stop which served model?' });
      s = p?.s;
    }
    if (s) await stopServed(s);
  });
  reg('codedance.serve.list', () => servedModels.list());
  // the jobs this workspace served before the window closed: found again once the workspace is trusted
  if (vscode.workspace.isTrusted) void findServed();
  else context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void findServed()));
  context.subscriptions.push({
    dispose: () => {
      // the jobs keep running on the cluster (and stay remembered for the next window); the tunnels close
      disposed = true;
      for (const s of sessions.values()) void s.session.detach();
      backends.dispose();
    },
  });
  return { served: servedModels };
}
