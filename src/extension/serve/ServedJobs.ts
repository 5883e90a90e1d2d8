/**
 * The serve jobs of this window: submitted (after the questions and the review), followed until
 * ready (their replicas then join `served`: chat's and eval's endpoints), stopped, and found again
 * after a reload from the window's memory of them (workspace state: cluster, job id, what it
 * serves — never a URL or a secret). Closing the window leaves the jobs running and remembered.
 */
import * as vscode from 'vscode';
import { BackendCache, type JobInfo, type JobSpec } from '../../core/jobs';
import {
  buildServeJob,
  rayJumpConnection,
  ServeError,
  ServeSession,
  withoutServeRecord,
  withServeRecord,
  type ServedEndpoints,
  type ServedReplica,
  type ServeParams,
  type ServeRecord,
  type ServeState,
} from '../../core/serve';
import { readClusterProfiles, type EditorClusterProfile } from '../jobs/clusterProfiles';
import { ClusterSecrets } from '../jobs/clusterSecrets';
import { JobNode, type JobsTreeProvider } from '../jobs/JobsTreeProvider';
import { SERVE_RECORDS_KEY, serveRecords } from './serveRecords';
import { askServeParams, checkpointOf, pickServeProfile, reviewServeJob, type ServeModelArgs } from './serveWizard';

/** What a served job serves: enough to follow it (and to find it again after a reload). */
type ServeWhat = Pick<ServeParams, 'role' | 'servedModelName' | 'replicas'>;

interface Served {
  profile: EditorClusterProfile;
  session: ServeSession;
  params: ServeWhat;
  key: string;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class ServedJobs implements vscode.Disposable {
  private readonly secrets: ClusterSecrets;
  private readonly backends = new BackendCache();
  private readonly sessions = new Map<string, Served>();
  /** every serve job this window followed (also after it ended) */
  private readonly followed = new Set<string>();
  private disposed = false;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly served: ServedEndpoints,
    private readonly tree?: JobsTreeProvider,
  ) {
    this.secrets = new ClusterSecrets(context.secrets);
    if (tree) {
      // the end of a job this window served is told by the serve feature ("… is gone from hpc")
      tree.endToldElsewhere = (profile: EditorClusterProfile, job: JobInfo) => this.followed.has(`${profile.name}/${job.id}`);
      tree.decorate = (profile: EditorClusterProfile, job: JobInfo) => this.decoration(`${profile.name}/${job.id}`);
    }
  }

  /** How the jobs tree shows a job this window serves. */
  private decoration(key: string): { description: string; icon?: vscode.ThemeIcon } | undefined {
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const st = s.session.state;
    const ready = st.replicas.filter((r) => r.ready).length;
    const words =
      st.phase === 'ready'
        ? `serving ${s.params.servedModelName} · ${ready}/${s.params.replicas} ready`
        : st.phase === 'failed'
          ? 'serve failed'
          : `serve: ${st.phase}`;
    return {
      description: words,
      icon: st.phase === 'ready' ? new vscode.ThemeIcon('server-process', new vscode.ThemeColor('charts.green')) : undefined,
    };
  }

  // ---- the window's memory of its serve jobs (never a URL or a secret) ----
  private records(): ServeRecord[] {
    return serveRecords(this.context.workspaceState);
  }
  private remember(e: Served): Thenable<void> {
    return this.context.workspaceState.update(
      SERVE_RECORDS_KEY,
      withServeRecord(this.records(), {
        cluster: e.profile.name,
        jobId: e.session.jobId!,
        role: e.params.role,
        servedModelName: e.params.servedModelName,
        replicas: e.params.replicas,
      }),
    );
  }
  private forget(e: Served): Thenable<void> {
    return this.context.workspaceState.update(SERVE_RECORDS_KEY, withoutServeRecord(this.records(), e.profile.name, e.session.jobId ?? ''));
  }

  private async sessionFor(profile: EditorClusterProfile, what: ServeWhat, readyTimeoutSeconds = 1200): Promise<ServeSession> {
    const clusterSecrets = await this.secrets.get(profile);
    const backend = this.backends.get(profile, clusterSecrets);
    const tunnelVia = profile.kind === 'ray' ? rayJumpConnection(profile, clusterSecrets) : undefined;
    if (tunnelVia) this.context.subscriptions.push({ dispose: () => tunnelVia.close() });
    return new ServeSession({
      backend,
      clusterName: profile.name,
      tunnelVia,
      role: what.role,
      servedModelName: what.servedModelName,
      replicas: what.replicas,
      readyTimeoutMs: readyTimeoutSeconds * 1000,
      log: (l) => this.log.info(l),
      onState: () => this.tree?.redraw(),
    });
  }

  /** `CodeDance: Serve Model on Cluster` (from the palette, with args, or on a finished training job's checkpoint). */
  async serve(arg?: ServeModelArgs | JobNode): Promise<ServeState | undefined> {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('CodeDance does not start cluster jobs in an untrusted workspace. Trust the workspace first.');
      return undefined;
    }
    const a: ServeModelArgs =
      arg instanceof JobNode ? { cluster: arg.profile.name, role: 'policy', modelPath: await checkpointOf(arg) } : (arg ?? {});
    if (arg instanceof JobNode && !a.modelPath) return undefined;
    const profile = await pickServeProfile(a.cluster);
    if (!profile) return undefined;
    const params = await askServeParams(profile, a);
    if (!params) return undefined;
    const spec = await this.jobSpec(profile, params, a);
    if (!spec) return undefined;
    const session = await this.sessionFor(profile, params, a.readyTimeoutSeconds);
    return this.submitAndWait(profile, params, session, spec);
  }

  /** The vLLM job, reviewed unless `a.review` is false; undefined when cancelled or invalid (said). */
  private async jobSpec(profile: EditorClusterProfile, params: ServeParams, a: ServeModelArgs): Promise<JobSpec | undefined> {
    try {
      const spec = buildServeJob(params, profile.kind);
      Object.assign(spec.env, a.env ?? {});
      if (a.review === false) return spec;
      return await reviewServeJob(this.backends.get(profile, await this.secrets.get(profile)), profile, spec);
    } catch (e) {
      void vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`);
      return undefined;
    }
  }

  /** Submits, remembers and follows the job in a cancellable notification until its replicas are ready. */
  private async submitAndWait(
    profile: EditorClusterProfile,
    params: ServeParams,
    session: ServeSession,
    spec: JobSpec,
  ): Promise<ServeState> {
    const ac = new AbortController();
    let entry: Served | undefined;
    try {
      const ready = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `CodeDance: serving ${params.servedModelName} on ${profile.name}`,
          cancellable: true,
        },
        async (progress, token) => {
          token.onCancellationRequested(() => ac.abort());
          const id = await session.submit(spec);
          entry = { profile, session, params, key: `${profile.name}/${id}` };
          this.sessions.set(entry.key, entry);
          this.followed.add(entry.key);
          await this.remember(entry); // a window closed from here on finds the job again
          void this.tree?.poll();
          void vscode.commands.executeCommand('codedance.jobs.focus');
          progress.report({ message: session.state.message });
          const off = setInterval(() => progress.report({ message: session.state.message }), 1000);
          try {
            return await session.waitReady(ac.signal);
          } finally {
            clearInterval(off);
          }
        },
      );
      this.onReady(entry!, ready, false);
      return session.state;
    } catch (e) {
      return this.onFailure(entry, session, e);
    }
  }

  /** Ready: the replicas join the pool, the user hears of it (with Stop Serving), and the job is followed until it ends. */
  private onReady(e: Served, ready: ServedReplica[], found: boolean): void {
    const { profile, session, params } = e;
    this.served.set({
      key: e.key,
      clusterName: profile.name,
      jobId: session.jobId!,
      role: params.role,
      servedModelName: params.servedModelName,
      baseUrls: ready.map((r) => r.baseUrl),
      clusterUrls: ready.map((r) => r.clusterUrl),
    });
    const n = `${ready.length} replica${ready.length > 1 ? 's' : ''}`;
    const use =
      params.role === 'judge'
        ? `eval offers it as the judge (in the cluster: ${ready[0].clusterUrl})`
        : found
          ? 'chat and eval use it again'
          : 'chat and eval use it now';
    const text = found
      ? `CodeDance: ${params.servedModelName} is still served on ${profile.name} (job ${session.jobId}, ${n}): reconnected; ${use}.`
      : `CodeDance: ${params.servedModelName} is ready on ${profile.name} (${n}); ${use}.`;
    this.log.info(`serve: ${text.replace(/^CodeDance: /, '')}`);
    void vscode.window.showInformationMessage(text, 'Stop Serving').then((c) => {
      if (c && this.sessions.get(e.key) === e) void this.stop(e);
    });
    void session.watch().then((st) => {
      if (this.disposed || st.phase !== 'ended' || !this.sessions.delete(e.key)) return; // stopped from here: stop() says so
      void this.forget(e);
      if (this.served.remove(e.key))
        void vscode.window.showInformationMessage(`CodeDance: ${st.message}; removed from chat's and eval's endpoints.`);
      this.tree?.redraw();
    });
    this.tree?.redraw();
  }

  /** Not ready: says why, offers Stop Job / Show Log; the job is no longer remembered. */
  private async onFailure(e: Served | undefined, session: ServeSession, err: unknown): Promise<ServeState> {
    // the window is closing (detach ended the wait): the job stays, and stays remembered for the next window
    if (this.disposed) return session.state;
    if (e) {
      this.sessions.delete(e.key);
      void this.forget(e);
      // a job left running after a failure is no longer watched from here: the tree tells when it ends
      if (!(err instanceof ServeError && (err.failure === 'job-ended' || err.failure === 'cancelled'))) this.followed.delete(e.key);
    }
    this.tree?.redraw();
    if (err instanceof ServeError && err.failure === 'cancelled') {
      const stopError = await session.stop().then(
        () => undefined,
        (x: unknown) => x,
      );
      if (stopError === undefined) void vscode.window.showInformationMessage(`CodeDance: cancelled; job ${session.jobId ?? ''} stopped.`);
      else {
        this.log.error(`serve: stop: ${errorText(stopError)}`);
        void vscode.window.showWarningMessage(
          `CodeDance: cancelled, but job ${session.jobId ?? ''} could not be stopped (${errorText(stopError).split('\n')[0]}); it may still be running: stop it from the Jobs view or with \`codedance serve stop ${session.jobId ?? '<id>'}\`.`,
        );
      }
      return session.state;
    }
    this.log.error(`serve: ${errorText(err)}`);
    const canStop = err instanceof ServeError && err.failure !== 'job-ended' && session.jobId;
    const pick = await vscode.window.showErrorMessage(
      `CodeDance: ${errorText(err).split('\n')[0]}`,
      ...(canStop ? ['Stop Job'] : []),
      'Show Log',
    );
    if (pick === 'Stop Job') await session.stop().catch((x) => this.log.error(`serve: stop: ${errorText(x)}`));
    if (pick === 'Show Log') this.log.show(true);
    return session.state;
  }

  /** After a reload: the serve jobs this workspace's window started, followed again (tunnels, pool, tree). */
  async findServed(): Promise<void> {
    const recorded = this.records();
    if (!recorded.length) return; // the usual window: nothing to read at startup
    const { profiles } = readClusterProfiles();
    for (const r of recorded) {
      const key = `${r.cluster}/${r.jobId}`;
      if (this.sessions.has(key)) continue;
      const profile = profiles.find((p) => p.name === r.cluster);
      if (!profile) {
        this.log.warn(
          `serve: job ${r.jobId} served ${r.servedModelName} on '${r.cluster}', which is no longer in codedance.jobs.clusters: not followed (stop it on the cluster if it still runs)`,
        );
        await this.context.workspaceState.update(SERVE_RECORDS_KEY, withoutServeRecord(this.records(), r.cluster, r.jobId));
        continue;
      }
      await this.reconnect(profile, r, key);
    }
  }

  /** One remembered job: attached again and waited for in the background (ready: back in the pool; ended while closed: forgotten). */
  private async reconnect(profile: EditorClusterProfile, r: ServeRecord, key: string): Promise<void> {
    const what: ServeWhat = { role: r.role, servedModelName: r.servedModelName, replicas: r.replicas };
    let session: ServeSession;
    try {
      session = await this.sessionFor(profile, what);
    } catch (e) {
      this.log.error(`serve: job ${r.jobId} on ${r.cluster}: ${errorText(e)}`);
      return;
    }
    session.attach(r.jobId);
    const e: Served = { profile, session, params: what, key };
    this.sessions.set(key, e);
    this.followed.add(key);
    this.log.info(
      `serve: looking for ${r.servedModelName} on ${r.cluster} (job ${r.jobId}), served from this workspace before the window closed`,
    );
    this.tree?.redraw();
    void vscode.window
      .withProgress(
        { location: vscode.ProgressLocation.Window, title: `CodeDance: reconnecting to ${r.servedModelName} on ${r.cluster}` },
        () => session.waitReady(),
      )
      .then(
        (ready) => {
          if (!this.disposed && this.sessions.get(key) === e) this.onReady(e, ready, true);
        },
        (err) => {
          if (this.disposed || this.sessions.get(key) !== e) return;
          if (err instanceof ServeError && err.failure === 'job-ended') return this.endedWhileClosed(e, r, err);
          void this.onFailure(e, session, err);
        },
      );
  }

  private endedWhileClosed(e: Served, r: ServeRecord, err: ServeError): void {
    this.sessions.delete(e.key);
    void this.forget(e);
    this.tree?.redraw();
    this.log.info(`serve: ${errorText(err)}`);
    void vscode.window
      .showInformationMessage(
        `CodeDance: the job serving ${r.servedModelName} on ${r.cluster} (${r.jobId}) ended while the window was closed.`,
        'Show Log',
      )
      .then((c) => c && this.log.show(true));
  }

  /** `codedance.serve.stop`: the job of a tree node, of a key, or the one picked (the only one without asking). */
  async stopCommand(arg: unknown): Promise<void> {
    let s: Served | undefined;
    if (arg instanceof JobNode) s = this.sessions.get(`${arg.profile.name}/${arg.job.id}`);
    else if (typeof arg === 'string') s = this.sessions.get(arg);
    else {
      const all = [...this.sessions.values()];
      if (!all.length) return void vscode.window.showInformationMessage('CodeDance: no model is served from this window.');
      const p =
        all.length === 1
          ? { s: all[0] }
          : await vscode.window.showQuickPick(
              all.map((x) => ({
                label: x.params.servedModelName,
                description: `${x.profile.name} · job ${x.session.jobId} · ${x.session.state.phase}`,
                s: x,
              })),
              { title: 'Stop which served model?' },
            );
      s = p?.s;
    }
    if (s) await this.stop(s);
  }

  private async stop(s: Served): Promise<void> {
    this.sessions.delete(s.key);
    void this.forget(s);
    try {
      await s.session.stop();
    } catch (e) {
      void vscode.window.showErrorMessage(`CodeDance: ${errorText(e)}`);
    }
    if (this.served.remove(s.key))
      void vscode.window.showInformationMessage(
        `CodeDance: stopped ${s.params.servedModelName} on ${s.profile.name} (job ${s.session.jobId}); removed from chat's and eval's endpoints.`,
      );
    this.tree?.redraw();
    void this.tree?.poll();
  }

  /** The jobs keep running on the cluster (and stay remembered for the next window); the tunnels close. */
  dispose(): void {
    this.disposed = true;
    for (const s of this.sessions.values()) void s.session.detach();
    this.backends.dispose();
  }
}
