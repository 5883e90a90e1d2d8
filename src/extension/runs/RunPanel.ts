/**
 * The run view: an editor tab ("CodeDance Run: <experiment>") over one run or several overlaid.
 * It owns its runs (RunSession: the log followed, the alarms, the checkpoints) and answers the
 * webview's requests (src/protocol/runs.ts): exports through save dialogs, rollouts, "Open in
 * chat", "Add to training data", checkpoint actions. It disposes its runs with itself.
 */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isCodeDanceError } from '../../core/errors';
import { imageExtension, sniffImageMime } from '../../core/images/sniffImageMime';
import { trajectoryItems } from '../../core/training-data';
import type { Handlers } from '../../protocol/messages';
import { encodeNonFinite } from '../../protocol/nonFinite';
import { runsRequest, type FromRuns, type RolloutKind, type RunsResponses, type ToRuns } from '../../protocol/runs';
import { runExportFlow } from '../data/exportFlow';
import { webviewHtml } from '../webviewHtml';
import { routeRequests } from '../webviewRequests';
import { checkpointActions } from './checkpointActions';
import { RolloutAccess } from './rolloutAccess';
import type { RunSource } from './runSourceTypes';
import { RunSession, type SessionHost } from './runSession';
import { RUN_VIEW_TYPE } from './runViewType';

/** What a run view needs from the rest of the extension. */
export interface RunViewHost extends Omit<SessionHost, 'post'> {
  extensionUri: vscode.Uri;
  log: vscode.LogOutputChannel;
  /** asks for another run to add (a job, a log file) */
  pickSource(title: string): Promise<RunSource | undefined>;
  /** opens the chat with the image attached and asks the question */
  ask(
    question: string,
    image: { name: string; bytes: Uint8Array } | undefined,
    groundTruth?: { answer: string; dataSource: string; origin: string },
  ): Promise<void>;
  /** the panel closed */
  closed(panel: RunPanel): void;
}

export class RunPanel implements vscode.Disposable {
  static readonly viewType = RUN_VIEW_TYPE;
  private readonly sessions = new Map<string, { session: RunSession; rollouts: RolloutAccess }>();
  private next = 1;
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly host: RunViewHost,
  ) {
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'codedance.svg');
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(host.extensionUri, 'dist'), vscode.Uri.joinPath(host.extensionUri, 'media')],
    };
    // uPlot's stylesheet is bundled by esbuild beside dist/runs.js (scripts/build.mjs)
    panel.webview.html = webviewHtml(panel.webview, host.extensionUri, {
      script: 'runs.js',
      styles: ['chat.css', 'runs.css', '../dist/runs.css'],
      title: 'CodeDance Run',
      bodyClass: 'runs',
    });
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    const route = routeRequests<FromRuns, RunsResponses>(
      { what: 'run view', schema: runsRequest, log: host.log, reply: (m) => this.post(m) },
      this.handlers(),
    );
    panel.webview.onDidReceiveMessage((m: unknown) => void route(m), null, this.disposables);
  }

  private handlers(): Handlers<FromRuns, RunsResponses> {
    return {
      ready: () => {
        for (const { session } of this.sessions.values()) session.sendAll();
      },
      addRun: async () => {
        const s = await this.host.pickSource('Add a run to this view');
        if (s) await this.add(s);
      },
      removeRun: (m) => this.remove(m.run),
      openLog: (m) => this.get(m.run).session.source.openLog(),
      saveCsv: (m) => this.save(m.name, 'CSV', ['csv'], Buffer.from(m.csv, 'utf8')),
      savePng: (m) => this.save(m.name, 'PNG image', ['png'], Buffer.from(m.dataUrl.slice(m.dataUrl.indexOf(',') + 1), 'base64')),
      rolloutSteps: (m) => this.get(m.run).rollouts.steps(m.kind),
      rollouts: (m) => this.get(m.run).rollouts.rows(m.kind, m.step),
      rollout: (m) => this.get(m.run).rollouts.detail(m.kind, m.step, m.index),
      samePrompt: (m) => this.get(m.run).rollouts.samePrompt(m.kind, m.step, m.index),
      openInChat: (m) => this.openInChat(m.run, m.kind, m.step, m.index),
      addToTrainingData: (m) => this.exportRollouts(m.run, m.kind, m.items),
      checkpointAction: async (m) => {
        const { session } = this.get(m.run);
        const checkpoint = session.checkpoints.find((c) => c.step === m.step);
        if (!checkpoint) throw new Error(`${session.label} has no checkpoint at step ${m.step}`);
        await checkpointActions[m.action]({ session, checkpoint });
      },
    };
  }

  /** The runs shown, for the tree's badges and the serializer. */
  runs(): RunSession[] {
    return [...this.sessions.values()].map((s) => s.session);
  }

  has(key: string): boolean {
    return this.runs().some((s) => s.source.key === key);
  }

  private get(id: string): { session: RunSession; rollouts: RolloutAccess } {
    const s = this.sessions.get(id);
    if (!s) throw new Error(`the view has no run ${id} (it was removed)`);
    return s;
  }

  /** A message to the webview, its NaN and ±Infinity kept (JSON would make them null). */
  private post(m: ToRuns): void {
    if (!this.disposed) void this.panel.webview.postMessage(encodeNonFinite(m));
  }

  /** Adds a run (one already shown is not added twice) and starts following it. */
  async add(source: RunSource): Promise<void> {
    if (this.has(source.key)) return;
    const id = `r${this.next++}`;
    const session = new RunSession(id, source, { ...this.host, post: (m) => this.onSessionMessage(m) });
    this.sessions.set(id, { session, rollouts: new RolloutAccess(session) });
    await session.start();
    this.retitle();
  }

  private onSessionMessage(m: ToRuns): void {
    this.post(m);
    if (m.type === 'run') this.retitle();
  }

  private retitle(): void {
    const labels = this.runs().map((s) => s.label);
    this.panel.title = `CodeDance Run: ${labels.join(' vs ') || 'no run'}`;
  }

  private remove(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    s.session.dispose();
    this.sessions.delete(id);
    this.post({ type: 'removed', run: id });
    this.host.alarmsChanged(s.session);
    this.retitle();
  }

  private async save(name: string, label: string, ext: string[], bytes: Buffer): Promise<string | undefined> {
    const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    const target = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(path.join(base, name)), filters: { [label]: ext } });
    if (!target) return undefined;
    await writeFile(target.fsPath, bytes);
    void vscode.window.showInformationMessage(`CodeDance: wrote ${path.basename(target.fsPath)}.`);
    return target.fsPath;
  }

  private async openInChat(run: string, kind: RolloutKind, step: number, index: number): Promise<void> {
    const { rollouts } = this.get(run);
    const r = await rollouts.one(kind, step, index);
    const d = await rollouts.detail(kind, step, index);
    const first = r.images[0] ? Buffer.from(r.images[0], 'base64') : undefined;
    const image = first && { name: `step${step}-rollout${index}.${imageExtension(sniffImageMime(first) ?? 'image/png')}`, bytes: first };
    const gt = d.groundTruth;
    await this.host.ask(
      d.exchange.question,
      image,
      gt === undefined ? undefined : { answer: gt, dataSource: r.dataSource ?? '', origin: rollouts.origin(kind, step, index) },
    );
  }

  private async exportRollouts(run: string, kind: RolloutKind, picks: { step: number; index: number }[]): Promise<void> {
    const { session, rollouts } = this.get(run);
    const items = await rollouts.items(kind, picks);
    const dir = session.source.kind === 'file' ? path.dirname((session.source.ref as { path: string }).path) : undefined;
    await runExportFlow({
      items: trajectoryItems(items),
      baseDir: dir ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '',
      what: `${items.length} rollout(s) of ${session.label}`,
      log: this.host.log,
    }).catch((e: Error) => {
      if (!(isCodeDanceError(e) && e.kind === 'cancelled')) void vscode.window.showErrorMessage(`CodeDance: export failed: ${e.message}`);
    });
  }

  reveal(): void {
    this.panel.reveal(vscode.ViewColumn.Active);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const runs = this.runs();
    for (const s of runs) s.dispose();
    this.sessions.clear();
    this.host.closed(this);
    for (const s of runs) this.host.alarmsChanged(s);
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
