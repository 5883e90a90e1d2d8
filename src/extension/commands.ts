import * as path from 'node:path';
import * as vscode from 'vscode';
import { API_KEY_SECRET } from './chat/ChatController';
import { openInImagePreview } from './chat/chatFiles';
import { pickInterpreter } from './chat/kernelService';
import { chatStatusPicker, setApproval } from './chat/setupActions';
import type { ServedEndpoints } from '../core/serve';
import { ChatViewProvider } from './chatViewProvider';
import type { RunEvalArgs } from './eval/runEvalCommand';

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp'];

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(p).slice(1).toLowerCase());
}

/** "Ask about image": an image (picked when none is given) opened beside the chat and attached to its next question. */
async function askAboutImage(log: vscode.LogOutputChannel, chat: ChatViewProvider, uri?: vscode.Uri): Promise<void> {
  if (!uri) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      openLabel: 'Ask about this image',
      filters: { Images: IMAGE_EXTENSIONS },
    });
    uri = picked?.[0];
    if (!uri) return;
  }
  if (!isImagePath(uri.fsPath)) {
    void vscode.window.showErrorMessage(
      `CodeDance: ${path.basename(uri.fsPath)} is not an image. Pick a ${IMAGE_EXTENSIONS.join(', ')} file.`,
    );
    return;
  }
  log.info(`ask about image: ${uri.fsPath}`);
  // the chat first, loaded before the image preview (another webview) starts loading: see
  // ReadyGate; then the image in the editor (beside the chat when the chat is a tab), attached
  await chat.reveal();
  if (!(await chat.whenReady(15_000))) log.warn('ask about image: the chat view did not load within 15 s; opening the image anyway');
  await openInImagePreview(uri, chat.besideChat()).catch((e) =>
    log.warn(`ask about image: the image preview did not open: ${(e as Error).message}`),
  );
  await chat.chat.attachFiles([uri], true);
}

/** the image shown in the active editor tab (the image preview is a custom editor, not a text editor) */
function activeTabUri(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  if (input instanceof vscode.TabInputCustom || input instanceof vscode.TabInputText) return input.uri;
  return vscode.window.activeTextEditor?.document.uri;
}

/** "Set API key": asks for the model endpoint's key and stores it in SecretStorage (empty removes it). */
async function setApiKey(context: vscode.ExtensionContext): Promise<void> {
  const key = await vscode.window.showInputBox({
    title: 'CodeDance: API key for the model endpoint',
    prompt: 'Stored in VS Code SecretStorage (never in settings or logs). Leave empty to remove the stored key.',
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return;
  if (key.trim()) await context.secrets.store(API_KEY_SECRET, key.trim());
  else await context.secrets.delete(API_KEY_SECRET);
  void vscode.window.showInformationMessage(
    key.trim() ? 'CodeDance: API key stored in SecretStorage.' : 'CodeDance: stored API key removed.',
  );
}

/** `served`: the models served from this window (eval offers them). */
export function registerCommands(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  chat: ChatViewProvider,
  served: ServedEndpoints,
): void {
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  const askAbout = (uri?: vscode.Uri) => askAboutImage(log, chat, uri);
  /** a chat action from a menu or the palette: its failure shows in the chat, as the panel's own would */
  const chatAction = (fn: () => unknown) => async () => {
    try {
      await fn();
    } catch (e) {
      chat.post({ type: 'notice', level: 'error', text: (e as Error).message });
    }
  };

  reg('codedance.askAboutImage', (u) => askAbout(u instanceof vscode.Uri ? u : undefined));
  reg('codedance.askAboutImageFromExplorer', (u) => askAbout(u instanceof vscode.Uri ? u : activeTabUri()));
  reg('codedance.newChat', async () => {
    await chat.reveal();
    await chat.chat.newChat();
  });
  reg('codedance.openChatInEditor', () => chat.openInEditor());
  reg('codedance.moveChatToSideBar', () => chat.moveToSideBar());
  reg('codedance.chatHistory', async () => {
    await chat.reveal();
    chat.post({ type: 'toggleHistory' });
  });
  reg(
    'codedance.retry',
    chatAction(() => chat.chat.retry(`cmd-${Date.now().toString(36)}`)),
  );
  reg(
    'codedance.exportIpynb',
    chatAction(() => chat.chat.export('ipynb')),
  );
  reg(
    'codedance.exportMarkdown',
    chatAction(() => chat.chat.export('markdown')),
  );
  reg(
    'codedance.restartKernel',
    chatAction(() => chat.chat.restartKernel()),
  );
  reg('codedance.approval.ask', () => setApproval('always'));
  reg('codedance.approval.auto', () => setApproval('auto'));
  reg('codedance.chatStatus', () => chatStatusPicker());
  reg('codedance.connectModel', () => chat.connectModel());
  reg('codedance.pickInterpreter', async () => {
    await pickInterpreter(chat.kernels);
    chat.kernels.invalidate();
  });
  reg('codedance.getStarted', () => chat.openWalkthrough());
  reg('codedance.openTrajectoryInChat', async (arg) => {
    await chat.reveal();
    try {
      await chat.chat.openTrajectory(arg);
    } catch (e) {
      void vscode.window.showErrorMessage(`CodeDance: cannot open the trajectory: ${(e as Error).message}`);
    }
  });
  reg('codedance.runEval', async (u) =>
    (await import('./eval/runEvalCommand')).runEvalCommand(
      context,
      log,
      { kernels: chat.kernels, served },
      u as vscode.Uri | RunEvalArgs | undefined,
    ),
  );
  // codedance.startTrainingJob: src/extension/jobs/registerJobs.ts
  reg('codedance.openEvalReport', async (u) => (await import('./eval/runEvalCommand')).openEvalReportCommand(context, log, u));
  reg('codedance.compareEvalRuns', async (u, selected) =>
    (await import('./eval/resultsTablePanel')).compareEvalRunsCommand(context, log, u, selected),
  );
  reg('codedance.setApiKey', () => setApiKey(context));
  reg('codedance.showLog', () => log.show());
}
