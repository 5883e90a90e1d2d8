/**
 * The run view in the editor (issue #23): `CodeDance: Open Run View…` (a known job, a log file or
 * a run folder), "Open Run View" on a job of the Training Jobs tree (and after a submit), the
 * alarms told once each as notifications and counted on the job's tree item, the thresholds from
 * the settings `codedance.runs.alarms.*`, the checkpoint evals recorded for a run (the index file
 * watched: the CLI writes it too), and the views restored after a window reload. Also "Evaluate
 * Checkpoint…" and "Serve Checkpoint…" (checkpointEval.ts).
 * Activation registers the commands and the serializer only: the views (runViews.ts) and the
 * checkpoint commands load on first use, each a chunk (lazyChunks in scripts/build.mjs).
 */
import * as vscode from 'vscode';
import type { JobInfo } from '../../core/jobs';
import type { ServedEndpoints } from '../../core/serve';
import type { ChatViewProvider } from '../chatViewProvider';
import type { EditorClusterProfile } from '../jobs/clusterProfiles';
import { JobNode, type JobsTreeProvider } from '../jobs/JobsTreeProvider';
import { onFirstUse } from '../onFirstUse';
import type { CheckpointMode } from './checkpointPick';
import { RUN_VIEW_TYPE } from './runViewType';

/** `chat`: the chat that "Open in chat" asks in. */
export function registerRuns(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  tree: JobsTreeProvider,
  chat: ChatViewProvider,
): void {
  const views = onFirstUse(async () => new (await import('./runViews')).RunViews(context, log, tree, chat));
  const failed = (e: Error) => void vscode.window.showErrorMessage(`CodeDance: the run view failed: ${e.message}`);
  const reg = (id: string, fn: (...a: unknown[]) => Promise<void>) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, (...a: unknown[]) => fn(...a).catch(failed)));
  reg('codedance.runs.open', async (arg) => {
    if (arg instanceof vscode.Uri) return (await views.get()).openFile(arg.fsPath);
    return (await views.get()).pickAndOpen();
  });
  // the tree's context menu, and the notification after a submit ({ profile, job })
  reg('codedance.jobs.openRunView', async (arg) => {
    const n = arg instanceof JobNode ? arg : (arg as { profile?: EditorClusterProfile; job?: JobInfo } | undefined);
    if (n?.profile && n.job) await (await views.get()).openJob(n.profile, n.job);
  });
  context.subscriptions.push(
    views,
    vscode.window.registerWebviewPanelSerializer(RUN_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel, state) => (await views.get()).restore(panel, state),
    }),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('codedance.runs') && tree.redraw()),
  );
}

/** "Evaluate Checkpoint…" and "Serve Checkpoint…" (issue #23 §4): from the run view, the tree or the palette. */
export function registerCheckpointCommands(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  tree: JobsTreeProvider,
  served: ServedEndpoints,
): void {
  const d = { context, log, tree, served };
  const command = (mode: CheckpointMode) => async (arg: unknown) => (await import('./checkpointEval')).checkpointCommand(d, mode, arg);
  context.subscriptions.push(
    vscode.commands.registerCommand('codedance.runs.evaluateCheckpoint', command('evaluate')),
    vscode.commands.registerCommand('codedance.runs.serveCheckpoint', command('serve')),
  );
}
