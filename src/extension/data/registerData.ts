/**
 * The training-data loop in the editor: the dataset viewer (custom editor), "Verify Dataset Code"
 * (SFT rows replayed in fresh kernels, progress and cancel in a notification, resumable), and
 * "Export as Training Data" from saved chat conversations or an eval results file, as
 * CodeDance-SFT or CodeDance-RL parquet. RL rows from chats ask the user for each question's
 * correct answer (never taken from the model).
 * Activation registers the editor and the commands only: the viewer (datasetEditor.ts) and the
 * commands (dataCommands.ts) load on first use, each a chunk (lazyChunks in scripts/build.mjs).
 */
import * as vscode from 'vscode';
import { isCodeDanceError } from '../../core/errors';
import type { TrajectoryReference } from '../../core/trajectory/types';
import type { ChatViewProvider } from '../chatViewProvider';
import { onFirstUse } from '../onFirstUse';
import type { DataHost } from './datasetEditor';
import { DATASET_JSONL_VIEW_TYPE, DATASET_VIEW_TYPE, datasetViewTypeFor } from './datasetFiles';

export function registerData(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, chat: ChatViewProvider): void {
  const verify = async (uri?: vscode.Uri) => (await import('./dataCommands')).verifyDataset(log, chat, uri);
  const host: DataHost = {
    ask: async (question: string, image: { name: string; bytes: Uint8Array } | undefined, reference?: TrajectoryReference) => {
      await chat.reveal();
      if (image) chat.chat.attachData(image.name, image.bytes);
      await chat.chat.ask(question, `dataset-${Date.now().toString(36)}`, reference);
    },
    verify: (u: vscode.Uri) => verify(u),
  };
  // the viewer's code loads with the first dataset opened
  const viewer = onFirstUse(async () => new (await import('./datasetEditor')).DatasetEditorProvider(context, log, host));
  const provider: vscode.CustomReadonlyEditorProvider = {
    openCustomDocument: async (uri) => (await viewer.get()).openCustomDocument(uri),
    resolveCustomEditor: async (doc, panel) => (await viewer.get()).resolveCustomEditor(doc, panel),
  };
  for (const viewType of [DATASET_VIEW_TYPE, DATASET_JSONL_VIEW_TYPE])
    context.subscriptions.push(
      vscode.window.registerCustomEditorProvider(viewType, provider, {
        supportsMultipleEditorsPerDocument: true,
        webviewOptions: { retainContextWhenHidden: true },
      }),
    );
  const reg = (id: string, fn: (...a: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg('codedance.openDataset', async (u) => {
    const uri =
      u instanceof vscode.Uri
        ? u
        : (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Datasets: ['parquet', 'jsonl'] } }))?.[0];
    if (uri) await vscode.commands.executeCommand('vscode.openWith', uri, datasetViewTypeFor(uri.fsPath));
  });
  reg('codedance.verifyDataset', (u) => verify(u instanceof vscode.Uri ? u : undefined));
  const failed = (e: Error) => {
    if (!(isCodeDanceError(e) && e.kind === 'cancelled')) void vscode.window.showErrorMessage(`CodeDance: export failed: ${e.message}`);
  };
  const commands = () => import('./dataCommands');
  reg('codedance.exportTrainingData', (u) => {
    const uri = u instanceof vscode.Uri ? u : undefined;
    return commands()
      .then((c) => c.exportCommand(log, chat.chat.store, uri))
      .catch(failed);
  });
  // the chat's menu: the conversations, the one on screen checked
  reg('codedance.exportChatTrainingData', () => {
    const current = chat.chat.conversation.id;
    return commands()
      .then((c) => c.exportChats(log, chat.chat.store, current))
      .catch(failed);
  });
}
