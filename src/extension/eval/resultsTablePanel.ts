/**
 * "Compare Eval Runs (Results Table)": a webview panel with one table across benchmarks and runs
 * (core/eval/tableModel.ts, the same table `codedance eval table` prints): accuracy with its 95 %
 * interval per benchmark and run, the paired comparison with the first run, the rows whose runs
 * differ in protocol, scoring, judge, max turns, image budget or dataset, and the samples that
 * flipped. A flipped sample opens in the eval report (both runs, its detail shown); the table is
 * exported as Markdown, LaTeX or CSV through a save dialog. The panel owns its listeners.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { renderTable, type TableFormat } from '../../core/eval/tableExport';
import { loadResultsTable } from '../../core/eval/tableModel';
import type { ResultsTable } from '../../core/eval/tableTypes';
import { resultsRequest, type FromResults, type ResultsResponses, type ToResults } from '../../protocol/results';
import { webviewHtml } from '../webviewHtml';
import { routeRequests } from '../webviewRequests';
import { EvalReportPanel } from './reportPanel';

const EXPORTS: Record<TableFormat, { ext: string; filter: string }> = {
  md: { ext: 'md', filter: 'Markdown' },
  latex: { ext: 'tex', filter: 'LaTeX' },
  csv: { ext: 'csv', filter: 'CSV' },
};

export class ResultsTablePanel implements vscode.Disposable {
  static readonly viewType = 'codedance.resultsTable';
  private static current: ResultsTablePanel | undefined;
  private static registered = false;
  private table: ResultsTable | undefined;
  private ready = false;
  private disposed = false;
  private readonly disposables: vscode.Disposable[] = [];

  static async show(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, runs: string[]): Promise<ResultsTablePanel> {
    if (ResultsTablePanel.current) {
      ResultsTablePanel.current.panel.reveal(vscode.ViewColumn.Active);
      await ResultsTablePanel.current.load(runs);
      return ResultsTablePanel.current;
    }
    const panel = vscode.window.createWebviewPanel(ResultsTablePanel.viewType, 'CodeDance Results Table', vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
    });
    if (!ResultsTablePanel.registered) {
      ResultsTablePanel.registered = true;
      context.subscriptions.push({ dispose: () => ResultsTablePanel.current?.dispose() });
    }
    const p = new ResultsTablePanel(context, log, panel);
    ResultsTablePanel.current = p;
    try {
      await p.load(runs);
    } catch (e) {
      p.dispose();
      throw e;
    }
    return p;
  }

  private constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly panel: vscode.WebviewPanel,
  ) {
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'codedance.svg');
    panel.webview.html = webviewHtml(panel.webview, context.extensionUri, {
      script: 'results.js',
      styles: ['report.css', 'results.css'],
      title: 'CodeDance Results Table',
    });
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    const route = routeRequests<FromResults, ResultsResponses>(
      { what: 'results table', schema: resultsRequest, log, reply: (m) => this.post(m) },
      {
        ready: () => {
          this.ready = true;
          if (this.table) this.post({ type: 'table', table: this.table });
        },
        openSample: (m) => this.openSample(m.comparison, m.benchmark, m.key),
        export: (m) => this.export(m.format),
        pickRuns: () => this.pickRuns(),
      },
    );
    panel.webview.onDidReceiveMessage((m: unknown) => void route(m), null, this.disposables);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (ResultsTablePanel.current === this) ResultsTablePanel.current = undefined;
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
    this.table = undefined;
  }

  private post(m: ToResults): void {
    if (!this.disposed) void this.panel.webview.postMessage(m);
  }

  async load(runs: string[]): Promise<void> {
    const t0 = performance.now();
    const table = await loadResultsTable(runs);
    if (this.disposed) return;
    this.table = table;
    this.panel.title = `Results: ${table.runs.map((r) => r.label).join(' vs ')}`;
    this.log.info(`results table: ${runs.join(', ')} (${table.benchmarks.length} rows) in ${(performance.now() - t0).toFixed(0)} ms`);
    for (const r of table.runs) for (const note of r.notes) this.log.warn(`results table: ${r.label}: ${note}`);
    if (this.ready) this.post({ type: 'table', table });
  }

  /** The flipped sample in the eval report: both runs' results files, the sample's detail open. */
  private async openSample(comparison: number, benchmark: string, key: string): Promise<void> {
    const flip = this.table?.comparisons[comparison]?.rows.find((r) => r.benchmark === benchmark)?.flips.find((f) => f.key === key);
    if (!flip) throw new Error(`sample ${key} of ${benchmark} is not among the flipped samples of this table`);
    await EvalReportPanel.show(this.context, this.log, [flip.fileA, flip.fileB], flip.index);
  }

  /** Saves the table in `format` where the user says; returns the file, or undefined when cancelled. */
  private async export(format: TableFormat): Promise<string | undefined> {
    if (!this.table) throw new Error('there is no table to export yet');
    const { ext, filter } = EXPORTS[format];
    const first = this.table.runs[0]?.path;
    const dir = first ? path.dirname(path.resolve(first)) : (vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? process.cwd());
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(dir, `results_table.${ext}`)),
      filters: { [filter]: [ext] },
    });
    if (!target) return undefined;
    await vscode.workspace.fs.writeFile(target, Buffer.from(renderTable(this.table, format), 'utf8'));
    this.log.info(`results table: wrote ${target.fsPath}`);
    void vscode.window.showInformationMessage(`CodeDance: wrote the results table to ${path.basename(target.fsPath)}.`);
    return target.fsPath;
  }

  private async pickRuns(): Promise<void> {
    const runs = await pickRunFolders();
    if (runs?.length) await this.load(runs);
  }
}

/** Eval output folders in the workspace (those holding result_*.jsonl), or folders from a dialog. */
export async function pickRunFolders(): Promise<string[] | undefined> {
  const found = (await vscode.workspace.findFiles('**/result_*.jsonl', '**/node_modules/**', 500)).map((u) => path.dirname(u.fsPath));
  const browse = '$(folder-opened) Browse…';
  const items: vscode.QuickPickItem[] = [
    ...[...new Set(found)].sort().map((d) => ({ label: path.basename(d), description: vscode.workspace.asRelativePath(d), detail: d })),
    { label: browse },
  ];
  const picked = await vscode.window.showQuickPick(items, {
    title: 'CodeDance: compare eval runs',
    canPickMany: true,
    placeHolder: 'eval output folders (the first is the baseline every other run is compared with)',
  });
  if (!picked?.length) return undefined;
  const runs = picked.some((p) => p.label === browse)
    ? (
        await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: true, openLabel: 'Compare' })
      )?.map((u) => u.fsPath)
    : picked.map((p) => p.detail!);
  return runs && runs.length > 1 ? withBaselineFirst(runs) : runs;
}

/** The runs with the one the user names as the baseline first (undefined when the pick is cancelled). */
async function withBaselineFirst(runs: string[]): Promise<string[] | undefined> {
  const base = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: path.basename(r), description: vscode.workspace.asRelativePath(r), detail: r })),
    { title: 'CodeDance: the baseline run (every other run is compared with it)' },
  );
  return base ? [base.detail, ...runs.filter((r) => r !== base.detail)] : undefined;
}

/** The command: the folders it was given (the explorer's selection), else picked. */
export async function compareEvalRunsCommand(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  uri?: unknown,
  selected?: unknown,
): Promise<void> {
  const given = (Array.isArray(selected) ? selected : uri ? [uri] : []).filter((u): u is vscode.Uri => u instanceof vscode.Uri);
  const runs = given.length ? given.map((u) => u.fsPath) : await pickRunFolders();
  if (!runs?.length) return;
  try {
    await ResultsTablePanel.show(context, log, runs);
  } catch (e) {
    void vscode.window.showErrorMessage(`CodeDance: cannot compare these runs: ${(e as Error).message}`);
  }
}
