/**
 * The training-data commands in the editor: "Verify Dataset Code" (SFT rows replayed in fresh
 * kernels, progress and cancel in a notification, resumable) and "Export as Training Data" from
 * saved chat conversations or an eval results file, as CodeDance-SFT or CodeDance-RL parquet.
 * registerData.ts registers them at activation; this module is a chunk loaded on their first use
 * (lazyChunks in scripts/build.mjs).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { evalResultItems, type EvalSelection } from '../../core/training-data';
import { verifySftFile } from '../../core/training-data/verify';
import type { HistoryStore } from '../chat/historyStore';
import type { ChatViewProvider } from '../chatViewProvider';
import { pickResultsFiles } from '../eval/reportPanel';
import { verifyResultsFile } from './datasetFiles';
import { exchangeItems, pickConversations, runExportFlow } from './exportFlow';

/** "Verify Dataset Code": the file's SFT rows replayed in fresh kernels (the chat's Python), progress and cancel in a notification. */
export async function verifyDataset(log: vscode.LogOutputChannel, chat: ChatViewProvider, uri?: vscode.Uri): Promise<void> {
  uri ??= (
    await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'SFT data': ['parquet', 'jsonl'] }, openLabel: 'Verify' })
  )?.[0];
  if (!uri) return;
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(
      'CodeDance: verifying runs the rows’ code; trust this workspace first (no code runs in an untrusted workspace).',
    );
    return;
  }
  const file = uri.fsPath;
  const python = await chat.kernels.editorPython();
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Verifying ${path.basename(file)}`, cancellable: true },
    async (progress, token) => {
      const ctrl = new AbortController();
      token.onCancellationRequested(() => ctrl.abort());
      let last = 0;
      const r = await verifySftFile({
        file,
        out: verifyResultsFile(file),
        python: python.python,
        concurrency: Math.max(1, Math.min(4, vscode.workspace.getConfiguration('codedance').get<number>('eval.numWorkers') ?? 2)),
        ...chat.kernels.tuning(),
        signal: ctrl.signal,
        onProgress: (p) => {
          const pct = p.total ? (100 * p.done) / p.total : 0;
          progress.report({
            increment: pct - last,
            message: `${p.done}/${p.total} · ${p.counts.reproduces} reproduce, ${p.counts.differs} differ, ${p.counts.fails} fail, ${p.counts.invalid} invalid`,
          });
          last = pct;
        },
      });
      const t = r.summary.total;
      log.info(`verify ${file}: ${JSON.stringify(r.summary)}`);
      void vscode.window.showInformationMessage(
        `CodeDance: ${r.cancelled ? 'verify stopped (run it again to resume)' : 'verify done'}: ${t.rows} rows, executable ${t.executablePct ?? '--'}%, reproduces ${t.reproducesPct ?? '--'}% (${t.differs} differ, ${t.fails} fail, ${t.invalid} invalid). Results: ${path.basename(r.out)}`,
      );
    },
  );
}

/** `store`: the chat's history store (one per window, so its writes queue behind the chat's) */
export async function exportCommand(log: vscode.LogOutputChannel, store: HistoryStore, uri: vscode.Uri | undefined): Promise<void> {
  const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
  if (!uri || !/\.jsonl$/i.test(uri.fsPath)) {
    const source = await vscode.window.showQuickPick(
      [
        { label: 'Chat conversations…', id: 'chat' },
        { label: 'Eval results file…', id: 'eval' },
      ],
      { title: 'Export as training data: from' },
    );
    if (!source) return;
    if (source.id === 'chat') return exportChats(log, store);
    const files = await pickResultsFiles('Export samples of…', false);
    if (!files?.length) return;
    uri = vscode.Uri.file(files[0]);
  }
  const select = await pickSelection();
  if (!select) return;
  await runExportFlow({
    items: evalResultItems(uri.fsPath, { select }),
    baseDir: path.dirname(uri.fsPath) || workspace,
    what: `${select} samples of ${path.basename(uri.fsPath)}`,
    log,
  });
}

/** Saved conversations (the chat's current one checked) as training rows. */
export async function exportChats(log: vscode.LogOutputChannel, store: HistoryStore, current?: string): Promise<void> {
  const convs = await pickConversations(store, current);
  if (!convs) return;
  const n = convs.reduce((k, c) => k + c.exchanges.length, 0);
  await runExportFlow({
    items: exchangeItems(convs),
    baseDir: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '',
    what: `${n} question(s) of ${convs.length} conversation(s)`,
    log,
  });
}

async function pickSelection(): Promise<EvalSelection | undefined> {
  const s = await vscode.window.showQuickPick(
    [
      { label: 'Correct samples', id: 'correct' as EvalSelection },
      { label: 'All samples', id: 'all' as EvalSelection },
      { label: 'Wrong samples', id: 'wrong' as EvalSelection },
    ],
    { title: 'Which eval samples' },
  );
  return s?.id;
}
