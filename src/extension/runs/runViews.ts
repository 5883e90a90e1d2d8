/**
 * The run views of a window (issue #23): opened from `CodeDance: Open Run View…`, a job of the
 * Training Jobs tree or a submit, restored after a reload; their alarms told once each and counted
 * on the job's tree item; the checkpoint-eval index watched for their charts. Made on the first
 * view (registerRuns.ts registers the commands at activation): this module is a chunk loaded then
 * (lazyChunks in scripts/build.mjs).
 */
import * as path from 'node:path';
import * as v from 'valibot';
import * as vscode from 'vscode';
import type { JobInfo } from '../../core/jobs';
import type { Alarm } from '../../core/runs/types';
import { savedRunView, type RunRef } from '../../protocol/runs';
import type { ChatViewProvider } from '../chatViewProvider';
import { readClusterProfiles, type EditorClusterProfile } from '../jobs/clusterProfiles';
import type { JobsTreeProvider } from '../jobs/JobsTreeProvider';
import { checkpointEvalsFileForWindow } from './checkpointEval';
import { pickRunSource } from './runPick';
import { alarmThresholds } from './runSettings';
import { RunPanel, type RunViewHost } from './RunPanel';
import { RunStore } from './runStore';
import type { RunSource } from './runSourceTypes';
import { FileRunSource, JobRunSource } from './runSources';
import type { RunSession } from './runSession';

/** A job (from the tree, a submit, or a saved view) as a run source. */
export function jobSource(tree: JobsTreeProvider, profile: EditorClusterProfile, job: JobInfo): RunSource {
  return new JobRunSource(
    profile,
    job,
    () => tree.backendFor(profile),
    (p, j) => tree.noteStatus(p, j),
  );
}

function sourceOfRef(tree: JobsTreeProvider, ref: RunRef): RunSource | undefined {
  if (ref.kind === 'file') return new FileRunSource(ref.path);
  const profile = readClusterProfiles().profiles.find((p) => p.name === ref.cluster);
  if (!profile) return undefined;
  const job = tree.jobs(profile.name).find((j) => j.id === ref.id) ?? {
    id: ref.id,
    name: ref.name,
    status: 'PENDING' as const,
    rawStatus: '',
  };
  return jobSource(tree, profile, job);
}

/** Fires when the window's checkpoint-eval index changes on disk (created, rewritten by a rename, deleted). */
function watchCheckpointEvals(file: string): vscode.Disposable & { event: vscode.Event<void> } {
  const uri = vscode.Uri.file(file);
  const folder = vscode.workspace.getWorkspaceFolder(uri);
  const pattern = folder
    ? new vscode.RelativePattern(folder, path.relative(folder.uri.fsPath, file).split(path.sep).join('/'))
    : new vscode.RelativePattern(vscode.Uri.file(path.dirname(file)), path.basename(file));
  const watcher = vscode.workspace.createFileSystemWatcher(pattern);
  const changed = new vscode.EventEmitter<void>();
  const fire = () => changed.fire();
  const subs = [watcher.onDidCreate(fire), watcher.onDidChange(fire), watcher.onDidDelete(fire)];
  return {
    event: changed.event,
    dispose: () => {
      for (const d of subs) d.dispose();
      watcher.dispose();
      changed.dispose();
    },
  };
}

export class RunViews implements vscode.Disposable {
  private readonly panels = new Set<RunPanel>();
  private readonly host: RunViewHost;
  private readonly evalsWatch: ReturnType<typeof watchCheckpointEvals>;

  constructor(
    context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly tree: JobsTreeProvider,
    chat: ChatViewProvider,
  ) {
    const dir = path.join((context.storageUri ?? context.globalStorageUri).fsPath, 'runs');
    const evalsFile = checkpointEvalsFileForWindow(context);
    this.evalsWatch = watchCheckpointEvals(evalsFile);
    this.host = {
      extensionUri: context.extensionUri,
      log,
      store: new RunStore(context.workspaceState, dir, log),
      thresholds: () => alarmThresholds(vscode.workspace.getConfiguration('codedance.runs.alarms')),
      alarmRaised: (s, a) => this.tell(s, a),
      alarmsChanged: () => this.tree.redraw(),
      pickSource: (title) => pickRunSource(title, this.tree, (p, j) => jobSource(this.tree, p, j)),
      ask: async (question, image, gt) => {
        await chat.reveal();
        if (image) chat.chat.attachData(image.name, image.bytes);
        const reference = gt && { groundTruth: gt.answer, dataSource: gt.dataSource, origin: gt.origin };
        await chat.chat.ask(question, `run-${Date.now().toString(36)}`, reference);
      },
      closed: (p) => this.panels.delete(p),
      checkpointEvalsFile: () => evalsFile,
      onCheckpointEvalsChanged: (fn) => this.evalsWatch.event(fn),
    };
    tree.runBadge = (profile, job) => this.badge(`job:${profile.name}:${job.id}`);
  }

  /** The alarms of the job's run in any open view: the tree item's badge. */
  private badge(key: string): { description: string; tooltip: string } | undefined {
    // a job that finished or was stopped is no alarm for the tree (its status says it); a failed one is
    const alarms = [...this.panels]
      .flatMap((p) => p.runs().filter((s) => s.source.key === key))
      .flatMap((s) => s.alarms)
      .filter((a) => a.kind !== 'job-ended' || /ended FAILED/.test(a.message));
    if (!alarms.length) return undefined;
    return {
      description: `⚠ ${alarms.length} alarm${alarms.length > 1 ? 's' : ''}`,
      tooltip: alarms.map((a) => `step ${a.step}: ${a.message}`).join('\n'),
    };
  }

  private tell(s: RunSession, a: Alarm): void {
    this.log.warn(`runs: ${s.label}: alarm ${a.kind} at step ${a.step}: ${a.message}`);
    // a job that finished or was stopped: the Training Jobs tree tells it already; a failed one is told here with its exception
    if (a.kind === 'job-ended' && !/ended FAILED/.test(a.message)) return;
    const show = a.kind === 'job-ended' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
    void show(`CodeDance run ${s.label}: ${a.message}`, 'Show Run').then((x) => {
      if (x) this.find(s.source.key)?.reveal();
    });
  }

  private find(key: string): RunPanel | undefined {
    return [...this.panels].find((p) => p.has(key));
  }

  private create(panel: vscode.WebviewPanel): RunPanel {
    const p = new RunPanel(panel, this.host);
    this.panels.add(p);
    return p;
  }

  /** Shows the run: the view that already has it, else a new one. */
  async open(source: RunSource): Promise<void> {
    const shown = this.find(source.key);
    if (shown) return shown.reveal();
    const panel = vscode.window.createWebviewPanel(RunPanel.viewType, `CodeDance Run: ${source.name}`, vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
    });
    await this.create(panel).add(source);
  }

  /** A log file or run folder (the explorer's context menu). */
  openFile(file: string): Promise<void> {
    return this.open(new FileRunSource(file));
  }

  /** A job of the tree, or the one just submitted. */
  openJob(profile: EditorClusterProfile, job: JobInfo): Promise<void> {
    return this.open(jobSource(this.tree, profile, job));
  }

  async pickAndOpen(): Promise<void> {
    const s = await this.host.pickSource('Open Run View');
    if (s) await this.open(s);
  }

  /** A view VS Code restores after a reload: the runs the webview had saved. */
  async restore(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const p = this.create(panel);
    const saved = v.safeParse(savedRunView, state);
    const refs = saved.success ? saved.output.refs : [];
    for (const ref of refs) {
      const s = sourceOfRef(this.tree, ref);
      if (s) await p.add(s);
      else this.log.warn(`runs: cannot restore ${JSON.stringify(ref)}: its cluster profile is gone`);
    }
  }

  dispose(): void {
    for (const p of [...this.panels]) p.dispose();
    this.evalsWatch.dispose();
  }
}
