/**
 * The chat's status bar item: "model · kernel state" (and a waiting approval), opening the
 * picker (`codedance.chatStatus`) on click. Fed by the chat provider's status.
 */
import * as vscode from 'vscode';
import { hostOf, statusText, type ChatStatus } from './statusText';

export type { ChatStatus } from './statusText';

export class ChatStatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('codedance.chatStatus', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'CodeDance Chat';
    this.item.command = 'codedance.chatStatus';
  }

  update(s: ChatStatus): void {
    this.item.text = statusText(s);
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**CodeDance chat**\n\n`);
    md.appendText(
      `Endpoint: ${s.endpoint || 'none'}\nModel: ${s.model || 'the first model of the endpoint'}\nKernel: ${s.kernel === 'none' ? 'not started' : s.kernel}\nApproval: ${s.approval === 'always' ? 'ask before each cell' : 'runs without asking'}`,
    );
    if (s.pendingApprovals) md.appendText(`\n${s.pendingApprovals} cell(s) waiting for your approval`);
    md.appendMarkdown('\n\nClick to connect a model, pick the interpreter or restart the kernel.');
    this.item.tooltip = md;
    this.item.accessibilityInformation = {
      label: `CodeDance chat: model ${s.model || hostOf(s.endpoint) || 'none'}, kernel ${s.kernel === 'none' ? 'not started' : s.kernel}${s.pendingApprovals ? ', a cell waits for approval' : ''}`,
      role: 'button',
    };
    this.item.backgroundColor = s.pendingApprovals ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
