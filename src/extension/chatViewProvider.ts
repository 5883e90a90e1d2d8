import * as vscode from 'vscode';
import type { FromWebview, PanelState, PythonStatus, ToWebview } from '../webview/protocol';
import { API_KEY_SECRET, ChatController } from './chat/ChatController';
import { ContextKeys } from './chat/contextKeys';
import { KernelService, pickInterpreter } from './chat/kernelService';
import { ReadyGate } from './chat/readyGate';
import { RunWatch } from './chat/runWatch';
import { connectModel, openLink, runSetupAction, type SetupAction } from './chat/setupActions';
import type { ChatStatus } from './chat/statusBar';
import { validateFromWebview } from './chat/validate';
import { errorMessage } from './errors';
import { servedEndpointLine } from './serve/servedModels';
import { readSettings } from './settings';
import { webviewHtml } from './webviewHtml';

const WALKTHROUGH_DISMISSED = 'codedance.walkthroughDismissed';
export const WALKTHROUGH_ID = 'codedance.codedance-vscode#gettingStarted';

/** One webview showing the chat: the side bar view or the editor tab ("Open Chat in Editor"). */
interface Host {
  kind: 'view' | 'editor';
  webview: vscode.Webview;
  ready: boolean;
  disposables: vscode.Disposable[];
}

/**
 * The chat's webviews over one `ChatController`: the view in the CodeDance container and, on
 * "Open Chat in Editor", a webview panel with the same script and protocol. One of them is live
 * at a time (the panel while it is open; the view then says where the chat went). Also keeps
 * what the workbench shows around the chat: the view's badge while approvals wait, the context
 * keys of the menus, and the status (status bar item).
 */
export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'codedance.chat';
  static readonly editorType = 'codedance.chatEditor';
  private view?: vscode.WebviewView;
  private viewHost?: Host;
  private panel?: vscode.WebviewPanel;
  private editorHost?: Host;
  private readonly disposables: vscode.Disposable[] = [];
  readonly kernels: KernelService;
  readonly chat: ChatController;
  private python: PythonStatus = { state: 'checking' };
  /** messages for a webview that is not ready yet (a command ran before the panel opened) */
  private readonly queue: ToWebview[] = [];
  /** approvals waiting, kernel state, the live run: from the messages to the panel */
  private readonly watch = new RunWatch();
  private readonly contextKeys = new ContextKeys();
  private readonly readyGate = new ReadyGate();
  private readonly statusEmitter = new vscode.EventEmitter<ChatStatus>();
  readonly onDidChangeStatus = this.statusEmitter.event;

  constructor(private readonly context: vscode.ExtensionContext, private readonly log: vscode.LogOutputChannel) {
    this.kernels = new KernelService(log);
    this.chat = new ChatController(context, this.kernels, log, (m) => this.post(m));
    this.disposables.push(
      this.kernels,
      this.chat,
      this.statusEmitter,
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
    this.log.info(`chat view: loading${this.viewHost ? ' again (its webview was recreated)' : ''}`);
    this.disposeView();
    this.view = view;
    const host = this.attach('view', view.webview);
    host.disposables.push(view.onDidDispose(() => {
      this.log.info('chat view: closed');
      this.disposeView();
    }));
    this.viewHost = host;
    this.updateBadge();
  }

  /** how many listeners the resolved view holds (0 once it is gone) */
  get viewListenerCount(): number {
    return this.viewHost?.disposables.length ?? 0;
  }

  private attach(kind: Host['kind'], webview: vscode.Webview): Host {
    const storage = this.context.storageUri ?? this.context.globalStorageUri;
    webview.options = {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist'), vscode.Uri.joinPath(this.context.extensionUri, 'media'), storage],
    };
    webview.html = webviewHtml(webview, this.context.extensionUri, { script: 'webview.js', styles: ['chat.css'], title: 'CodeDance Chat', bodyClass: kind === 'editor' ? 'in-editor' : undefined });
    const host: Host = { kind, webview, ready: false, disposables: [] };
    host.disposables.push(webview.onDidReceiveMessage((m: unknown) => void this.onMessage(host, m)));
    return host;
  }

  private disposeView(): void {
    for (const d of this.viewHost?.disposables.splice(0) ?? []) d.dispose();
    this.viewHost = undefined;
    this.view = undefined;
  }

  /** the webview the chat is live in */
  private get active(): Host | undefined {
    return this.editorHost ?? this.viewHost;
  }

  /** Resolves true once the live webview has loaded (said `ready`), false after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<boolean> {
    return this.active?.ready ? Promise.resolve(true) : this.readyGate.wait(timeoutMs);
  }

  /** Shows the chat where it is live (resolving the view if needed). */
  async reveal(): Promise<void> {
    if (this.panel) this.panel.reveal(undefined, false);
    else await vscode.commands.executeCommand(`${ChatViewProvider.viewType}.focus`);
  }

  /** "Open Chat in Editor": the chat moves to an editor tab beside the active editor (e.g. the image). */
  openInEditor(): void {
    if (this.panel) return this.panel.reveal();
    this.adoptPanel(vscode.window.createWebviewPanel(ChatViewProvider.editorType, 'CodeDance Chat', vscode.ViewColumn.Beside, { retainContextWhenHidden: true, enableFindWidget: true }));
  }

  /** The chat tab VS Code restores after a window reload, with the conversation it showed (when it still exists). */
  async restorePanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    this.adoptPanel(panel);
    const id = (state as { conversationId?: unknown } | undefined)?.conversationId;
    if (typeof id === 'string') await this.chat.open(id).catch(() => undefined); // one deleted since: a new chat
  }

  /** The chat tab: a new one, or the one VS Code restores after a window reload (its serializer). */
  adoptPanel(panel: vscode.WebviewPanel): void {
    this.panel?.dispose();
    panel.iconPath = vscode.Uri.joinPath(this.context.extensionUri, 'media', 'codedance.svg');
    this.panel = panel;
    const host = this.attach('editor', panel.webview);
    host.disposables.push(panel.onDidDispose(() => this.onEditorClosed()));
    this.editorHost = host;
    this.contextKeys.set('codedance.chatInEditor', true);
    if (this.viewHost?.ready) void this.viewHost.webview.postMessage({ type: 'moved', to: 'editor' } satisfies ToWebview);
    this.updateBadge();
  }

  /** "Move Chat to Side Bar": closes the editor tab; the view is live again. */
  async moveToSideBar(): Promise<void> {
    this.panel?.dispose();
    await this.reveal();
  }

  private onEditorClosed(): void {
    for (const d of this.editorHost?.disposables.splice(0) ?? []) d.dispose();
    this.editorHost = undefined;
    this.panel = undefined;
    this.contextKeys.set('codedance.chatInEditor', false);
    const view = this.viewHost;
    if (view?.ready) {
      void view.webview.postMessage({ type: 'moved', to: 'view' } satisfies ToWebview);
      void this.resync(view);
    }
    this.updateBadge();
  }

  /** The whole chat into a webview that (re)loaded: the conversation, its state, and the run in progress. */
  private async resync(host: Host): Promise<void> {
    this.sendInit();
    await this.chat.sync();
    if (this.chat.running) for (const m of this.watch.liveRun) void host.webview.postMessage(m);
    for (const m of this.queue.splice(0)) void host.webview.postMessage(m);
  }

  private async onMessage(host: Host, raw: unknown): Promise<void> {
    const msg = validateFromWebview(raw);
    if (!msg) {
      this.log.warn(`chat view: ignored invalid message ${JSON.stringify(raw)?.slice(0, 200)}`);
      return;
    }
    const reply = (error?: string) => void host.webview.postMessage({ type: 'reply', replyTo: msg.id, error } satisfies ToWebview);
    try {
      if (host !== this.active && msg.type !== 'ready' && msg.type !== 'setup') throw new Error('The chat is open in an editor tab: use it there, or move it back to the side bar.');
      await this.handle(host, msg);
      reply();
    } catch (e) {
      this.log.error(`chat view: ${msg.type} failed: ${(e as Error).stack ?? e}`);
      reply((e as Error).message);
    }
  }

  private async handle(host: Host, msg: FromWebview): Promise<void> {
    const c = this.chat;
    switch (msg.type) {
      case 'ready':
        host.ready = true;
        this.log.info(`chat ${host.kind}: ready`);
        if (host !== this.active) {
          this.sendInit();
          void host.webview.postMessage({ type: 'moved', to: 'editor' } satisfies ToWebview);
          return;
        }
        this.readyGate.open();
        await this.resync(host);
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
        return c.openImage(msg.index, msg.imageId, this.besideChat());
      case 'saveImage':
        return c.saveImage(msg.index, msg.imageId);
      case 'copyText':
        await vscode.env.clipboard.writeText(msg.text);
        this.post({ type: 'notice', level: 'info', text: 'Copied to the clipboard.' });
        return;
      case 'openCode': {
        const doc = await vscode.workspace.openTextDocument({ language: 'python', content: msg.code });
        await vscode.window.showTextDocument(doc, { preview: false, viewColumn: this.besideChat() });
        return;
      }
      case 'openLink': {
        const blocked = await openLink(msg.href);
        if (blocked) this.post({ type: 'notice', level: 'warning', text: blocked });
        return;
      }
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

  /** The editor column for things the chat opens (an image, code): beside the chat tab, else the active one. */
  besideChat(): vscode.ViewColumn {
    const col = this.panel?.viewColumn;
    if (col === undefined) return vscode.ViewColumn.Active;
    return col === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
  }

  private setup(action: SetupAction): Promise<void> {
    return runSetupAction(action, {
      connectModel: () => this.connectModel(),
      pickInterpreter: async () => {
        await pickInterpreter(this.kernels);
        this.kernels.invalidate();
      },
      dismissWalkthrough: async () => {
        await this.context.globalState.update(WALKTHROUGH_DISMISSED, true);
        this.sendInit();
      },
      openWalkthrough: () => this.openWalkthrough(),
      moveToSideBar: () => this.moveToSideBar(),
      showEditor: () => this.reveal(),
    });
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
      this.python = { state: 'missing', message: errorMessage(e) };
    }
    this.sendInit();
  }

  /** A served model came or went (the panel shows the endpoints in use). */
  servedModelsChanged = (): void => {
    this.watch.model = ''; // the last run's model may be the one that just went away
    this.sendInit();
  };

  /** The panel state to every ready webview; the menus' context keys and the status with it. */
  private sendInit(): void {
    const s = readSettings();
    const run = servedEndpointLine(s.endpoints, s.model);
    this.contextKeys.set('codedance.approval', s.approval);
    this.refreshStatus();
    void this.context.secrets.get(API_KEY_SECRET).then((key) => {
      const state: PanelState = {
        endpoint: run.endpoint,
        model: run.model,
        protocol: s.protocol,
        trusted: vscode.workspace.isTrusted,
        approval: s.approval,
        hasApiKey: !!key,
        python: this.python,
        walkthrough: !this.context.globalState.get<boolean>(WALKTHROUGH_DISMISSED, false),
      };
      for (const h of [this.viewHost, this.editorHost]) if (h?.ready) void h.webview.postMessage({ type: 'init', state } satisfies ToWebview);
    });
  }

  post(msg: ToWebview): void {
    this.observe(msg);
    const h = this.active;
    if (!h?.ready) {
      if (msg.type === 'attachments' || msg.type === 'focusInput' || msg.type === 'notice' || msg.type === 'toggleHistory') this.queue.push(msg);
      else if (msg.type === 'exchangeStart') this.log.warn(`chat: question ${msg.index + 1} started while the panel was ${h ? 'loading' : 'closed'}; it shows once the panel is ready`);
      return;
    }
    void h.webview.postMessage(msg);
  }

  /** What the workbench shows around the chat, from the messages to the panel: badge, status, context keys. */
  private observe(msg: ToWebview): void {
    const r = this.watch.observe(msg);
    if (r.answered) this.contextKeys.set('codedance.hasAnswer', true);
    if (r.pendingChanged) this.updateBadge();
    if (r.changed) this.refreshStatus();
  }

  private updateBadge(): void {
    const n = this.watch.pending.size;
    const tooltip = `${n} code cell(s) waiting for your approval`;
    // a 0 badge, not undefined: VS Code 1.100 keeps the activity bar's number when a webview view's badge is set to undefined
    if (this.view) this.view.badge = n ? { value: n, tooltip } : { value: 0, tooltip: '' };
    if (this.panel) this.panel.title = n ? `CodeDance Chat (${n} to approve)` : 'CodeDance Chat';
    this.contextKeys.set('codedance.approvalPending', n > 0);
  }

  refreshStatus(): void {
    const s = readSettings();
    const run = servedEndpointLine(s.endpoints, s.model); // a model served on a cluster from this window counts
    this.statusEmitter.fire({ endpoint: run.endpoint, model: run.model || this.watch.model, kernel: this.watch.kernel, approval: s.approval, pendingApprovals: this.watch.pending.size, running: this.watch.running });
  }

  /** Opens the walkthrough (VS Code checks off the steps done since its walkthrough service started). */
  async openWalkthrough(): Promise<void> {
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH_ID, false);
  }

  /** Connect a Model…; a connection completes the walkthrough's first step */
  async connectModel(): Promise<void> {
    if (await connectModel()) this.contextKeys.set('codedance.modelConnected', true);
  }

  dispose(): void {
    this.panel?.dispose();
    this.disposeView();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
