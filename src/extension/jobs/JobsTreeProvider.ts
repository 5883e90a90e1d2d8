import * as vscode from 'vscode';
import { isTerminal, JobsError, type JobBackend, type JobInfo, type JobStatus } from '../../core/jobs';
import { errorMessage } from '../errors';
import type { EditorClusterProfile } from './clusterProfiles';

export class ClusterNode extends vscode.TreeItem {
  constructor(
    readonly profile: EditorClusterProfile,
    readonly error?: string,
  ) {
    super(profile.name, vscode.TreeItemCollapsibleState.Expanded);
    this.id = `cluster:${profile.name}`;
    this.contextValue = 'codedance.cluster';
    this.description = `${profile.kind === 'ray' ? `Ray · ${profile.address}` : `Slurm · ${profile.user ? profile.user + '@' : ''}${profile.host}`}${profile.origin === 'workspace' ? ' · workspace' : ''}`;
    this.iconPath = error
      ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground'))
      : new vscode.ThemeIcon(profile.kind === 'ray' ? 'cloud' : 'server');
    this.tooltip = error ? `${profile.name}: ${error}` : undefined;
  }
}

export class JobNode extends vscode.TreeItem {
  constructor(
    readonly profile: EditorClusterProfile,
    readonly job: JobInfo,
  ) {
    super(job.name ? `${job.name}` : job.id, vscode.TreeItemCollapsibleState.None);
    this.id = `job:${profile.name}:${job.id}`;
    this.description = `${job.status.toLowerCase()}${job.rawStatus !== job.status ? ` (${job.rawStatus.toLowerCase()})` : ''} · ${job.id}`;
    this.contextValue = isTerminal(job.status) ? 'codedance.job.done' : 'codedance.job.active';
    this.iconPath = statusIcon(job.status);
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**${job.name ?? job.id}** — ${job.status}\n\n`);
    md.appendMarkdown(`id: \`${job.id}\`  \ncluster: ${profile.name}\n`);
    if (job.startTime) md.appendMarkdown(`  \nstarted: ${new Date(job.startTime).toLocaleString()}`);
    if (job.endTime) md.appendMarkdown(`  \nended: ${new Date(job.endTime).toLocaleString()}`);
    if (job.exitCode !== undefined) md.appendMarkdown(`  \nexit code: ${job.exitCode}`);
    if (job.message) md.appendText(`\n\n${job.message.slice(0, 500)}`);
    this.tooltip = md;
    this.command = { command: 'codedance.jobs.showLogs', title: 'Show Logs', arguments: [this] };
  }
}

export class MessageNode extends vscode.TreeItem {
  constructor(text: string, icon = 'info') {
    super(text, vscode.TreeItemCollapsibleState.None);
    this.iconPath = new vscode.ThemeIcon(icon);
    this.contextValue = 'codedance.message';
  }
}

export function statusIcon(s: JobStatus): vscode.ThemeIcon {
  switch (s) {
    case 'PENDING':
      return new vscode.ThemeIcon('clock', new vscode.ThemeColor('charts.yellow'));
    case 'RUNNING':
      return new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('charts.blue'));
    case 'SUCCEEDED':
      return new vscode.ThemeIcon('pass', new vscode.ThemeColor('charts.green'));
    case 'FAILED':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('charts.red'));
    case 'STOPPED':
      return new vscode.ThemeIcon('debug-stop', new vscode.ThemeColor('disabledForeground'));
  }
}

export interface JobsSource {
  profiles(): { profiles: EditorClusterProfile[]; problems: string[] };
  backend(profile: EditorClusterProfile): Promise<JobBackend>;
}

/** "Training Jobs": clusters → jobs (newest first), polled while visible or while a job is live; tells when a job ends. */
export class JobsTreeProvider implements vscode.TreeDataProvider<vscode.TreeItem>, vscode.Disposable {
  static readonly viewId = 'codedance.jobs';
  private readonly changed = new vscode.EventEmitter<vscode.TreeItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  /** last known jobs per cluster, and the error of the last poll */
  private readonly cache = new Map<string, { jobs: JobInfo[]; error?: string }>();
  /** status seen per job key, to notice transitions into a terminal state */
  private readonly lastStatus = new Map<string, JobStatus>();
  private timer?: NodeJS.Timeout;
  private polling = false;
  visible = false;
  /** extra words and icon for a job (the serve feature marks the jobs that serve a model) */
  decorate?: (profile: EditorClusterProfile, job: JobInfo) => { description: string; icon?: vscode.ThemeIcon } | undefined;
  /** jobs whose end another feature tells of itself (a served model: "… is gone from hpc"): no second notification */
  endToldElsewhere?: (profile: EditorClusterProfile, job: JobInfo) => boolean;
  /** the alarms of the job's run in an open run view (src/extension/runs): a badge before its description */
  runBadge?: (profile: EditorClusterProfile, job: JobInfo) => { description: string; tooltip: string } | undefined;

  /** Redraws from the last poll (no cluster call). */
  redraw(): void {
    this.changed.fire(undefined);
  }
  private readonly endedEmitter = new vscode.EventEmitter<{ profile: EditorClusterProfile; job: JobInfo }>();
  /** a job moved from PENDING/RUNNING to a terminal state */
  readonly onDidEndJob = this.endedEmitter.event;

  constructor(
    private readonly source: JobsSource,
    private readonly log: vscode.LogOutputChannel,
    private pollMs = 5000,
  ) {}

  setPollInterval(ms: number): void {
    this.pollMs = ms;
    if (this.timer) this.startPolling();
  }

  startPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(() => {
      const anyLive = [...this.lastStatus.values()].some((s) => !isTerminal(s));
      if (this.visible || anyLive) void this.poll();
    }, this.pollMs);
  }

  getTreeItem(item: vscode.TreeItem): vscode.TreeItem {
    return item;
  }

  async getChildren(element?: vscode.TreeItem): Promise<vscode.TreeItem[]> {
    const { profiles, problems } = this.source.profiles();
    if (!element) {
      const nodes: vscode.TreeItem[] = profiles.map((p) => new ClusterNode(p, this.cache.get(p.name)?.error));
      for (const pr of problems) nodes.push(new MessageNode(pr, 'warning'));
      if (!this.cache.size && profiles.length) void this.poll();
      return nodes;
    }
    if (element instanceof ClusterNode) {
      const c = this.cache.get(element.profile.name);
      if (!c) return [new MessageNode('loading…', 'loading~spin')];
      if (c.error && !c.jobs.length) return [new MessageNode(c.error, 'warning')];
      if (!c.jobs.length) return [new MessageNode('no jobs yet')];
      return c.jobs.map((j) => {
        const n = new JobNode(element.profile, j);
        const d = this.decorate?.(element.profile, j);
        if (d) {
          n.description = `${d.description} · ${n.description}`;
          if (d.icon) n.iconPath = d.icon;
        }
        const badge = this.runBadge?.(element.profile, j);
        if (badge) {
          n.description = `${badge.description} · ${n.description}`;
          if (n.tooltip instanceof vscode.MarkdownString) n.tooltip.appendText(`\n\nRun alarms:\n${badge.tooltip}`);
        }
        return n;
      });
    }
    return [];
  }

  /** Reads every cluster's jobs (one at a time per cluster, never overlapping), then redraws. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const { profiles } = this.source.profiles();
      for (const name of [...this.cache.keys()]) if (!profiles.some((p) => p.name === name)) this.cache.delete(name);
      await Promise.all(
        profiles.map(async (p) => {
          try {
            const b = await this.source.backend(p);
            const jobs = await b.list();
            jobs.sort((a, b2) => (b2.startTime ?? 0) - (a.startTime ?? 0));
            this.cache.set(p.name, { jobs });
            for (const j of jobs) this.noteStatus(p, j);
          } catch (e) {
            const msg = e instanceof JobsError ? errorMessage(e) : String((e as Error).message ?? e);
            this.log.warn(`jobs: ${p.name}: ${msg}`);
            this.cache.set(p.name, { jobs: this.cache.get(p.name)?.jobs ?? [], error: msg });
          }
        }),
      );
    } finally {
      this.polling = false;
    }
    // redraw only on a change: a redraw under the user's pointer closes context menus and hovers
    const signature = JSON.stringify(
      [...this.cache.entries()].map(([k, v]) => [
        k,
        v.error,
        v.jobs.map((j) => [j.id, j.name, j.status, j.rawStatus, j.message, j.exitCode, j.endTime]),
      ]),
    );
    if (signature !== this.lastSignature) {
      this.lastSignature = signature;
      this.changed.fire(undefined);
    }
  }
  private lastSignature = '';

  /** Records a job's status (from a poll or a single status call); fires onDidEndJob on live → terminal. */
  noteStatus(profile: EditorClusterProfile, job: JobInfo): void {
    const key = `${profile.name}\u0000${job.id}`;
    const before = this.lastStatus.get(key);
    this.lastStatus.set(key, job.status);
    if (before && !isTerminal(before) && isTerminal(job.status)) this.endedEmitter.fire({ profile, job });
  }

  /** A job just submitted: known as live, so its end is noticed even while the view is hidden. */
  watch(profile: EditorClusterProfile, id: string): void {
    this.lastStatus.set(`${profile.name}\u0000${id}`, 'PENDING');
  }

  /** The cluster's backend (the run view follows a job's log and reads its files through it). */
  backendFor(profile: EditorClusterProfile): Promise<JobBackend> {
    return this.source.backend(profile);
  }

  jobs(cluster: string): JobInfo[] {
    return this.cache.get(cluster)?.jobs ?? [];
  }

  refresh(): void {
    this.lastSignature = '';
    void this.poll();
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.changed.dispose();
    this.endedEmitter.dispose();
  }
}
