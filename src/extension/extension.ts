/**
 * Entry point: thin VS Code adapters over src/core. Activation registers providers and commands
 * only; nothing starts (no kernel, no network) until the user asks for it.
 */
import * as vscode from 'vscode';
import { ServedEndpoints } from '../core/serve';
import { ChatStatusBar } from './chat/statusBar';
import { ChatViewProvider } from './chatViewProvider';
import { registerCommands } from './commands';
import { registerData } from './data/registerData';
import { registerJobs } from './jobs/registerJobs';
import { registerCheckpointCommands, registerRuns } from './runs/registerRuns';
import { registerKernelPicker } from './kernel/picker';
import { withRedactingSecrets } from './secrets';
import { registerServe } from './serve/registerServe';

export function activate(editorContext: vscode.ExtensionContext): { activationMs: number } {
  const t0 = performance.now();
  // every value read from SecretStorage joins the secrets that outputs and logs are redacted of
  const context = withRedactingSecrets(editorContext);
  const log = vscode.window.createOutputChannel('CodeDance', { log: true });
  context.subscriptions.push(log);

  // the window's state lives in objects made here and passed to what uses them (no module-level singletons):
  // the models this window serves on clusters, which chat and eval add to their endpoints
  const served = new ServedEndpoints();
  const chat = new ChatViewProvider(context, log, served);
  context.subscriptions.push(
    chat,
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewType, chat, { webviewOptions: { retainContextWhenHidden: true } }),
    // the chat's editor tab comes back after a window reload, with the conversation it showed
    vscode.window.registerWebviewPanelSerializer(ChatViewProvider.editorType, {
      deserializeWebviewPanel: (panel, state) => chat.restorePanel(panel, state),
    }),
  );
  const status = new ChatStatusBar();
  context.subscriptions.push(
    status,
    chat.onDidChangeStatus((s) => status.update(s)),
  );
  chat.refreshStatus();
  registerKernelPicker(context, chat.kernels);
  registerCommands(context, log, chat, served);
  registerData(context, log, chat);
  // models served on a cluster from this window join the chat's endpoints: its status follows them
  const jobsTree = registerJobs(context, log, served);
  registerServe(context, log, served, jobsTree);
  // the run view (charts, alarms, rollouts, checkpoints of an RL run) follows the tree's jobs
  registerRuns(context, log, jobsTree, chat);
  // a checkpoint merged, served and evaluated (issue #23 §4): from the run view, the tree or the palette
  registerCheckpointCommands(context, log, jobsTree, served);
  context.subscriptions.push({ dispose: served.onChange(() => chat.servedModelsChanged()) });

  const activationMs = performance.now() - t0;
  log.info(`CodeDance activated in ${activationMs.toFixed(1)} ms (workspace trusted: ${vscode.workspace.isTrusted})`);
  return { activationMs };
}

export function deactivate(): void {
  // everything is disposed through context.subscriptions
}
