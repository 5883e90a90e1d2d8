/**
 * "Export as training data" in the editor, one flow for every place it starts from (the command,
 * the chat's menu, the eval report's selection): pick SFT or RL, pick the file (save dialog),
 * write it with the same writer as `codedance data export` (core exportTrainingData), say what
 * was written and offer to open it in the dataset viewer. An RL row's ground truth is the
 * item's own (an eval sample's dataset answer, a chat exchange opened from an eval sample); when
 * there is none the user is asked for it, and cancelling the question cancels the export.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exportTrainingData, trajectoryItems, type ExportItem, type TrainingFormat } from '../../core/training-data';
import type { Trajectory } from '../../core/trajectory/types';
import { HistoryStore } from '../chat/historyStore';
import { datasetViewTypeFor } from './datasetFiles';

export interface ExportFlow {
  items: AsyncIterable<ExportItem>;
  /** the folder the save dialog starts in */
  baseDir: string;
  /** shown in the format pick's title, e.g. "3 samples of result_x.jsonl" */
  what: string;
  log: vscode.LogOutputChannel;
}

/** Returns the written file, or undefined when the user cancelled a pick or the dialog. */
export async function runExportFlow(f: ExportFlow): Promise<string | undefined> {
  const fmt = await vscode.window.showQuickPick(
    [
      { label: 'CodeDance-SFT', description: 'messages + images: the whole trajectory', id: 'sft' as TrainingFormat },
      { label: 'CodeDance-RL', description: 'prompt, images, reward_model.ground_truth, extra_info', id: 'rl' as TrainingFormat },
    ],
    { title: `Training data format for ${f.what}` },
  );
  if (!fmt) return undefined;
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(f.baseDir, `codedance_${fmt.id}_export.parquet`)),
    filters: { Parquet: ['parquet'] },
  });
  if (!target) return undefined;
  const ctrl = new AbortController();
  const summary = await exportTrainingData({
    format: fmt.id,
    out: target.fsPath,
    items: f.items,
    signal: ctrl.signal,
    groundTruth: async (item) => {
      const v = await vscode.window.showInputBox({
        title: `Correct answer for ${item.origin}`,
        prompt: `“${item.trajectory.question.slice(0, 200)}” — the RL row is scored against this (model answered: ${item.trajectory.answer ?? 'nothing'})`,
        ignoreFocusOut: true,
      });
      if (v === undefined) ctrl.abort();
      return v;
    },
  });
  f.log.info(`export: ${summary.rows} ${fmt.id} rows to ${summary.file}; skipped ${JSON.stringify(summary.skipped)}`);
  void vscode.window
    .showInformationMessage(
      `CodeDance: wrote ${summary.rows} ${fmt.label} row(s) to ${path.basename(summary.file)}${summary.skipped.length ? ` (${summary.skipped.length} skipped: ${summary.skipped[0].reason})` : ''}.`,
      'Open',
    )
    .then((open) => open && vscode.commands.executeCommand('vscode.openWith', target, datasetViewTypeFor(target.fsPath)));
  return summary.file;
}

/** The exchanges of saved conversations as export items: an exchange opened from an eval sample brings its ground truth and data_source. */
export function exchangeItems(conversations: { title: string; exchanges: Trajectory[] }[]): AsyncIterable<ExportItem> {
  const all: ExportItem[] = [];
  for (const c of conversations)
    c.exchanges.forEach((t, i) =>
      all.push({
        trajectory: t,
        origin: `conversation '${c.title}' question ${i + 1}`,
        groundTruth: t.reference?.groundTruth,
        dataSource: t.reference?.dataSource,
      }),
    );
  return trajectoryItems(all);
}

/** Picks saved conversations (several at once; `current` checked first) and loads them. */
export async function pickConversations(
  store: HistoryStore,
  current?: string,
): Promise<{ title: string; exchanges: Trajectory[] }[] | undefined> {
  const list = await store.list();
  if (!list.length) throw new Error('there are no saved conversations yet');
  const picked = await vscode.window.showQuickPick(
    list.map((c) => ({ label: c.title, description: `${c.exchanges} question(s) · ${c.updatedAt}`, id: c.id, picked: c.id === current })),
    { title: 'Conversations to export', canPickMany: true },
  );
  if (!picked?.length) return undefined;
  return Promise.all(picked.map(async (p) => ({ title: p.label, exchanges: (await store.load(p.id)).exchanges })));
}
