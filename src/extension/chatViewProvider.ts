import * as vscode from 'vscode';
import type { FromWebview, ToWebview } from '../webview/protocol';
import { readSettings } from './settings';
import { webviewHtml } from './webviewHtml';

/** The chat webview view in the CodeDance container. */
export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'codedance.chat';
  private view?: vscode.WebviewView;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly extensionUri: vscode.Uri, private readonly log: vscode.LogOutputChannel) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'dist'), vscode.Uri.joinPath(this.extensionUri, 'media')],
    };
    view.webview.html = webviewHtml(view.webview, this.extensionUri, { script: 'webview.js', styles: ['chat.css'], title: 'CodeDance Chat' });
    this.disposables.push(
      view.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.sendInit()),
    );
  }

  private onMessage(msg: FromWebview): void {
    switch (msg.type) {
      case 'ready':
        this.sendInit();
        break;
      case 'command':
        void vscode.commands.executeCommand(msg.command === 'newChat' ? 'codedance.newChat' : 'codedance.askAboutImage');
        break;
      case 'ask':
        this.post({ type: 'notice', level: 'info', text: 'The chat panel is not available yet in this build.' });
        break;
      default:
        this.log.warn(`chat view: ignored unknown message ${JSON.stringify(msg).slice(0, 200)}`);
    }
  }

  private sendInit(): void {
    const s = readSettings();
    this.post({
      type: 'init',
      state: { endpoint: s.endpoints.join(', '), model: s.model, trusted: vscode.workspace.isTrusted, chatAvailable: false },
    });
  }

  post(msg: ToWebview): void {
    void this.view?.webview.postMessage(msg);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
