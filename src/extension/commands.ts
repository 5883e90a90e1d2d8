import * as path from 'node:path';
import * as vscode from 'vscode';
import { ChatViewProvider } from './chatViewProvider';

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp'];

/** Says honestly that a feature has not shipped yet; never fakes a result. */
function notAvailable(feature: string, hint?: string): void {
  void vscode.window.showInformationMessage(`CodeDance: ${feature} is not available yet in this build.${hint ? ' ' + hint : ''}`);
}

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(p).slice(1).toLowerCase());
}

export function registerCommands(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): void {
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  const askAbout = async (uri?: vscode.Uri) => {
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
    await vscode.commands.executeCommand(`${ChatViewProvider.viewType}.focus`);
    notAvailable('Asking in the chat panel', `Meanwhile: npx codedance ask "${uri.fsPath}" "your question" --base-url URL`);
  };

  reg('codedance.askAboutImage', (u) => askAbout(u instanceof vscode.Uri ? u : undefined));
  reg('codedance.askAboutImageFromExplorer', (u) => askAbout(u instanceof vscode.Uri ? u : vscode.window.activeTextEditor?.document.uri));
  reg('codedance.newChat', () => notAvailable('New Chat'));
  reg('codedance.runEval', () => notAvailable('Run CodeDance Eval'));
  reg('codedance.startTrainingJob', () => notAvailable('Start Training Job'));
  reg('codedance.openEvalReport', () => notAvailable('Open Eval Report'));
  reg('codedance.setApiKey', () => notAvailable('Set API Key'));
  reg('codedance.showLog', () => log.show());
}
