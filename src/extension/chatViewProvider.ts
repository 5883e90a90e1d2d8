import * as vscode from 'vscode';
import type { FromWebview, PanelState, PythonStatus, ToWebview } from '../webview/protocol';
import { API_KEY_SECRET, ChatController } from './chat/ChatController';
import { KernelService, pickInterpreter } from './chat/kernelService';
import { validateFromWebview } from './chat/validate';
import { readSettings } from './settings';
import { webviewHtml } from './webviewHtml';

const WALKTHROUGH_DISMISSED = 'codedance.walkthroughDismissed';

/** The chat webview view in the CodeDance container: webview plumbing over `ChatController`. */
export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'codedance.chat';
  private view?: vscode.WebviewView;
  private readonly disposables: vscode.Disposable[] = [];
  /** what one resolved view registered: disposed with that view (or when the next one resolves) */
  private viewDisposables: vscode.Disposable[] = [];
  readonly kernels: KernelService;
  readonly chat: ChatController;
  private python: PythonStatus = { state: 'checking' };
  /** messages for a view that is not resolved yet (a command ran before the panel opened) */
  private readonly queue: ToWebview[] = [];
  private ready = false;

  constructor(private readonly context: vscode.ExtensionContext, private readonly log: vscode.LogOutputChannel) {
    this.kernels = new KernelService(log);
    this.chat = new ChatController(context, this.kernels, log, (m) => this.post(m));
    this.disposables.push(
      this.kernels,
      this.chat,
      this.kernels.onDidChangePython(() => {
        // a new interpreter: the conversation's kernel goes after the run in progress
        this.chat.session.retireKernel();
        void this.checkPython();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.sendInit();
        void this.checkPython().then(() => this.kernels.prewarm());
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('codedance')) this.sendInit();
      }),
      context.secrets.onDidChange((e) => {
        if (e.key === API_KEY_SECRET) this.sendInit();
      }),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.disposeView();
    this.view = view;
    this.ready = false;
    const storage = this.context.storageUri ?? this.context.globalStorageUri;
    view.webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist'), vscode.Uri.joinPath(this.context.extensionUri, 'media'), storage],
    };
    view.webview.html = webviewHtml(view.webview, this.context.extensionUri, { script: 'webview.js', styles: ['chat.css'], title: 'CodeDance Chat' });
    this.viewDisposables.push(
      view.webview.onDidReceiveMessage((m: unknown) => void this.onMessage(m)),
      view.onDidDispose(() => this.disposeView()),
    );
  }

  /** how many listeners the resolved view holds (0 once it is gone) */
  get viewListenerCount(): number {
    return this.viewDisposables.length;
  }

  private disposeView(): void {
    for (const d of this.viewDisposables.splice(0)) d.dispose();
    this.view = undefined;
    this.ready = false;
  }

  /** Shows the panel (resolving it if needed). */
  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${ChatViewProvider.viewType}.focus`);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const msg = validateFromWebview(raw);
    if (!msg) {
      this.log.warn(`chat view: ignored invalid message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    try {
      await this.handle(msg);
      this.post({ type: 'reply', replyTo: msg.id });
    } catch (e) {
      this.log.error(`chat view: ${msg.type} failed: ${(e as Error).stack ?? e}`);
      this.post({ type: 'reply', replyTo: msg.id, error: (e as Error).message });
    }
  }

  private async handle(msg: FromWebview): Promise<void> {
    const c = this.chat;
    switch (msg.type) {
      case 'ready':
        this.ready = true;
        this.sendInit();
        await c.sync();
        for (const m of this.queue.splice(0)) void this.view?.webview.postMessage(m);
        void this.checkPython();
        void this.kernels.prewarm();
        return;
      case 'ask':
        return c.ask(msg.question, msg.id);
      case 'stop':
        return c.stop();
      case 'retry':
        return c.retry(msg.id);
      case 'newChat':
        return c.newChat();
      case 'attachPick': {
        const picked = await vscode.window.showOpenDialog({ canSelectMany: true, openLabel: 'Attach', defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri, filters: { Images: ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp'] } });
        if (picked?.length) await c.attachFiles(picked, true);
        return;
      }
      case 'attachData':
        return c.attachData(msg.name, new Uint8Array(Buffer.from(msg.data, 'base64')));
      case 'attachUris': {
        const uris = msg.uris.flatMap((u) => {
          try {
            return [vscode.Uri.parse(u, true)];
          } catch {
            return [];
          }
        });
        return c.attachFiles(uris, true);
      }
      case 'removeAttachment':
        return c.removeAttachment(msg.attachmentId);
      case 'approval':
        return c.answerApproval(msg.run, msg.cellId, msg.reply);
      case 'restore':
        return c.answerRestore(msg.run, msg.accept);
      case 'fork':
        return c.fork(msg.index, msg.cellId, msg.code, msg.id);
      case 'openImage':
        return c.openImage(msg.index, msg.imageId);
      case 'saveImage':
        return c.saveImage(msg.index, msg.imageId);
      case 'copyText':
        await vscode.env.clipboard.writeText(msg.text);
        this.post({ type: 'notice', level: 'info', text: 'Copied to the clipboard.' });
        return;
      case 'openCode': {
        const doc = await vscode.workspace.openTextDocument({ language: 'python', content: msg.code });
        await vscode.window.showTextDocument(doc, { preview: false });
        return;
      }
      case 'openLink':
        return this.openLink(msg.href);
      case 'restartKernel':
        return c.restartKernel();
      case 'history':
        if (msg.action === 'open') return c.open(msg.conversationId);
        if (msg.action === 'rename') return c.rename(msg.conversationId);
        return c.delete(msg.conversationId);
      case 'showHistory':
        return c.history();
      case 'export':
        return c.export(msg.format);
      case 'setup':
        return this.setup(msg.action);
    }
  }

  /** Links in model output open only after the user confirms, and only http(s)/mailto. */
  private async openLink(href: string): Promise<void> {
    let uri: vscode.Uri;
    try {
      uri = vscode.Uri.parse(href, true);
    } catch {
      return;
    }
    if (!['http', 'https', 'mailto'].includes(uri.scheme)) {
      this.post({ type: 'notice', level: 'warning', text: `Blocked a ${uri.scheme}: link from the model output.` });
      return;
    }
    const ok = await vscode.window.showWarningMessage(`The model's answer links to:\n${href}\n\nOpen it in your browser?`, { modal: true }, 'Open Link');
    if (ok === 'Open Link') await vscode.env.openExternal(uri);
  }

  private async setup(action: Extract<FromWebview, { type: 'setup' }>['action']): Promise<void> {
    const cfg = () => vscode.workspace.getConfiguration('codedance');
    const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    switch (action) {
      case 'setEndpoint': {
        const cur = readSettings().endpoints.join(', ');
        const v = await vscode.window.showInputBox({
          title: 'CodeDance: model endpoint',
          prompt: 'OpenAI-compatible base URL(s), comma-separated (e.g. http://127.0.0.1:8000/v1 for vllm serve)',
          value: cur,
          validateInput: (s) => (s.split(',').every((u) => /^https?:\/\/\S+$/.test(u.trim())) ? undefined : 'http(s) URLs, comma-separated'),
        });
        if (v === undefined) return;
        await cfg().update('model.endpoints', v.split(',').map((u) => u.trim()).filter(Boolean), vscode.ConfigurationTarget.Global);
        return;
      }
      case 'setApiKey':
        await vscode.commands.executeCommand('codedance.setApiKey');
        return;
      case 'pickInterpreter':
        await pickInterpreter(this.kernels);
        this.kernels.invalidate();
        return;
      case 'trust':
        await vscode.commands.executeCommand('workbench.trust.manage');
        return;
      case 'openSettings':
        await vscode.commands.executeCommand('workbench.action.openSettings', 'codedance');
        return;
      case 'dismissWalkthrough':
        await this.context.globalState.update(WALKTHROUGH_DISMISSED, true);
        this.sendInit();
        return;
      case 'askAboutImage':
        await vscode.commands.executeCommand('codedance.askAboutImage');
        return;
      case 'toggleApproval': {
        const next = readSettings().approval === 'always' ? 'auto' : 'always';
        if (next === 'auto') {
          const ok = await vscode.window.showWarningMessage('Run every cell the model writes without asking?', { modal: true }, 'Run without asking');
          if (ok !== 'Run without asking') return;
        }
        await cfg().update('execution.approval', next, target);
        return;
      }
    }
  }

  private async checkPython(): Promise<void> {
    if (!vscode.workspace.isTrusted) {
      this.python = { state: 'missing', message: 'not checked: the workspace is not trusted' };
      this.sendInit();
      return;
    }
    this.python = { state: 'checking' };
    this.sendInit();
    try {
      const r = await this.kernels.python();
      this.python = { state: 'ok', python: r.python, version: r.version, reason: r.reason };
    } catch (e) {
      this.python = { state: 'missing', message: (e as Error).message };
    }
    this.sendInit();
  }

  private sendInit(): void {
    const s = readSettings();
    void this.context.secrets.get(API_KEY_SECRET).then((key) => {
      const state: PanelState = {
        endpoint: s.endpoints.join(', '),
        model: s.model,
        protocol: s.protocol,
        trusted: vscode.workspace.isTrusted,
        approval: s.approval,
        hasApiKey: !!key,
        python: this.python,
        walkthrough: !this.context.globalState.get<boolean>(WALKTHROUGH_DISMISSED, false),
      };
      this.post({ type: 'init', state });
    });
  }

  post(msg: ToWebview): void {
    if (!this.view || !this.ready) {
      if (msg.type === 'attachments' || msg.type === 'focusInput' || msg.type === 'notice') this.queue.push(msg);
      return;
    }
    void this.view.webview.postMessage(msg);
  }

  dispose(): void {
    this.disposeView();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
