/**
 * The eval report: a webview panel over one results file (A) and optionally a second (B, for
 * an A/B comparison per sample). Summaries are computed here from the file (streamed); a
 * sample's trajectory and images are read from disk only when it is opened. The panel owns its
 * listeners (`disposables`) and disposes them with itself.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isCodeDanceError } from '../../core/errors';
import { evalResultItems } from '../../core/training-data';
import { loadRun, readRecordAt, reportSample, sampleTrajectory, type LoadedRun } from '../../core/eval';
import { reportComparisonWarnings } from '../../core/eval/tableCompare';
import { reportRequest, type FromReport, type ReportResponses, type ToReport } from '../../protocol/report';
import { runExportFlow } from '../data/exportFlow';
import { webviewHtml } from '../webviewHtml';
import { routeRequests } from '../webviewRequests';

const CHAT_COMMAND = 'codedance.openTrajectoryInChat';

export class EvalReportPanel implements vscode.Disposable {
  static readonly viewType = 'codedance.evalReport';
  private static current: EvalReportPanel | undefined;
  /** the extension's deactivation closes the open report (registered once, not per panel) */
  private static registered = false;
  private runs: LoadedRun[] = [];
  private files: string[];
  private ready = false;
  /** a sample to open once the page has the runs (the results view's flips) */
  private select: number | undefined;
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];

  /** `select`: a sample to open at once (its detail, both runs' when there are two) */
  static async show(
    context: vscode.ExtensionContext,
    log: vscode.LogOutputChannel,
    files: string[],
    select?: number,
  ): Promise<EvalReportPanel> {
    if (EvalReportPanel.current) {
      EvalReportPanel.current.panel.reveal(vscode.ViewColumn.Active);
      await EvalReportPanel.current.load(files, select);
      return EvalReportPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(EvalReportPanel.viewType, 'CodeDance Eval Report', vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
    });
    if (!EvalReportPanel.registered) {
      EvalReportPanel.registered = true;
      context.subscriptions.push({ dispose: () => EvalReportPanel.current?.dispose() });
    }
    const p = new EvalReportPanel(context, log, panel, files);
    EvalReportPanel.current = p;
    await p.load(files, select);
    return p;
  }

  private constructor(
    context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly panel: vscode.WebviewPanel,
    files: string[],
  ) {
    this.files = files;
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'codedance.svg');
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, {
      script: 'report.js',
      styles: ['report.css'],
      title: 'CodeDance Eval Report',
    });
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    const route = routeRequests<FromReport, ReportResponses>(
      { what: 'eval report', schema: reportRequest, log, reply: (m) => this.post(m) },
      {
        ready: () => {
          this.ready = true;
          this.postRuns();
        },
        sample: async (m) => reportSample(this.record(m.run, m.index), this.file(m.run), m.run),
        openInChat: (m) => this.openInChat(m.run, m.index),
        export: (m) => this.exportSamples(m.run, m.indexes),
        pickB: () => this.pickB(),
      },
    );
    panel.webview.onDidReceiveMessage((m: unknown) => void route(m), null, this.disposables);
  }

  /** Closes the panel (if open) and releases its listeners; called when the user closes it too. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (EvalReportPanel.current === this) EvalReportPanel.current = undefined;
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.runs = [];
  }

  private post(m: ToReport): void {
    if (!this.disposed) void this.panel.webview.postMessage(m);
  }

  async load(files: string[], select?: number): Promise<void> {
    this.files = files;
    this.select = select;
    const t0 = performance.now();
    this.runs = await Promise.all(files.slice(0, 2).map((f, i) => loadRun(f, i === 0 ? 'A' : 'B')));
    if (this.disposed) return;
    this.panel.title = `Eval: ${this.runs.map((r) => `${r.run.model}/${r.run.dataset}`).join(' vs ')}`;
    this.log.info(
      `eval report: ${files.join(' vs ')} (${this.runs.map((r) => r.run.samples.length).join('+')} samples) in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    if (this.ready) this.postRuns();
  }

  /** The runs, what stands against comparing them (A/B), and the sample to open (once). */
  private postRuns(): void {
    const runs = this.runs.map((r) => r.run);
    const warnings = runs.length > 1 ? reportComparisonWarnings(runs[0], runs[1]) : [];
    this.post({ type: 'runs', runs, warnings, ...(this.select !== undefined ? { select: this.select } : {}) });
    this.select = undefined;
  }

  private file(run: 'A' | 'B'): string {
    const r = this.runs[run === 'A' ? 0 : 1];
    if (!r) throw new Error(`there is no run ${run} in this report`);
    return r.run.file;
  }

  private record(run: 'A' | 'B', index: number) {
    const r = this.runs[run === 'A' ? 0 : 1];
    const at = r?.offsets.get(index);
    if (!r || !at) throw new Error(`sample ${index} is not in run ${run}`);
    return readRecordAt(r.run.file, at);
  }

  private async openInChat(run: 'A' | 'B', index: number): Promise<void> {
    const commands = await vscode.commands.getCommands(true);
    if (!commands.includes(CHAT_COMMAND)) {
      void vscode.window.showInformationMessage(
        'CodeDance: continuing a sample in the chat panel is not available in this build (the chat panel does not offer it yet).',
      );
      return;
    }
    // the stored trajectory, messages included: Retry and follow-ups in the chat continue the real conversation
    await vscode.commands.executeCommand(CHAT_COMMAND, await sampleTrajectory(this.record(run, index), this.file(run)));
  }

  /** The samples' trajectories, ground truths and data_sources from the results file; the same writer as `codedance data export`. */
  private async exportSamples(run: 'A' | 'B', indexes: number[]): Promise<void> {
    const file = this.file(run);
    if (!indexes.length) return;
    await runExportFlow({
      items: evalResultItems(file, { indexes: new Set(indexes) }),
      baseDir: path.dirname(file),
      what: `${indexes.length} sample(s) of ${path.basename(file)}`,
      log: this.log,
    }).catch((e: Error) => {
      if (!(isCodeDanceError(e) && e.kind === 'cancelled')) void vscode.window.showErrorMessage(`CodeDance: export failed: ${e.message}`);
    });
  }

  private async pickB(): Promise<void> {
    const other = await pickResultsFiles(`Compare ${path.basename(this.files[0])} with…`, false, this.files[0]);
    if (other?.length) await this.load([this.files[0], other[0]]);
  }
}

/** Results files in the workspace (result_*.jsonl), newest first, or a file dialog. */
export async function pickResultsFiles(title: string, many: boolean, exclude?: string): Promise<string[] | undefined> {
  const found = (await vscode.workspace.findFiles('**/result_*.jsonl', '**/node_modules/**', 200))
    .map((u) => u.fsPath)
    .filter((f) => f !== exclude);
  const browse = '$(folder-opened) Browse…';
  const items: vscode.QuickPickItem[] = [
    ...found.map((f) => ({ label: path.basename(f), description: vscode.workspace.asRelativePath(path.dirname(f)), detail: f })),
    { label: browse },
  ];
  const picked = many
    ? await vscode.window.showQuickPick(items, { title, canPickMany: true, placeHolder: 'one results file, or two to compare (A/B)' })
    : await vscode.window.showQuickPick(items, { title });
  const list = picked ? (Array.isArray(picked) ? picked : [picked]) : [];
  if (!list.length) return undefined;
  if (list.some((p) => p.label === browse)) {
    const uris = await vscode.window.showOpenDialog({
      canSelectMany: many,
      filters: { 'Eval results': ['jsonl'] },
      openLabel: 'Open report',
    });
    return uris?.map((u) => u.fsPath).slice(0, 2);
  }
  return list.map((p) => p.detail!).slice(0, 2);
}
