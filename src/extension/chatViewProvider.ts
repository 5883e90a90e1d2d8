/**
 * The chat in the workbench, put together: its two webviews (chat/chatHosts.ts), the requests
 * they send (chat/chatRequests.ts, validated by webviewRequests.ts against src/protocol/chat.ts),
 * the panel's setup state (chat/panelState.ts), and what the workbench shows around the chat,
 * read from the messages to the panel: the approvals badge, the menus' context keys, the status.
 */
import * as vscode from 'vscode';
import type { ServedEndpoints } from '../core/serve';
import { chatRequest, type ChatResponses, type FromWebview, type SetupAction, type ToWebview } from '../protocol/chat';
import { API_KEY_SECRET, ChatController } from './chat/ChatController';
import { ChatHosts, EDITOR_TITLE, type Host } from './chat/chatHosts';
import { chatHandlers } from './chat/chatRequests';
import { ContextKeys } from './chat/contextKeys';
import { KernelService, pickInterpreter } from './chat/kernelService';
import { PanelStateSource } from './chat/panelState';
import { ReadyGate } from './chat/readyGate';
import { RunWatch } from './chat/runWatch';
import { connectModel, runSetupAction } from './chat/setupActions';
import type { ChatStatus } from './chat/statusBar';
import { servedEndpointLine } from './serve/servedModels';
import { readSettings } from './settings';
import { routeRequests } from './webviewRequests';

export const WALKTHROUGH_ID = 'codedance.codedance-vscode#gettingStarted';

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'codedance.chat';
  static readonly editorType = 'codedance.chatEditor';
  private readonly disposables: vscode.Disposable[] = [];
  readonly kernels: KernelService;
  readonly chat: ChatController;
  private readonly hosts: ChatHosts;
  private readonly panelState: PanelStateSource;
  /** approvals waiting, kernel state, the live run: from the messages to the panel */
  private readonly watch = new RunWatch();
  private readonly contextKeys = new ContextKeys();
  private readonly readyGate = new ReadyGate();
  private readonly statusEmitter = new vscode.EventEmitter<ChatStatus>();
  readonly onDidChangeStatus = this.statusEmitter.event;

  constructor(
    context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    /** the models served from this window (created in activate()): they join the chat's endpoints */
    private readonly served: ServedEndpoints,
  ) {
    this.kernels = new KernelService(log);
    this.chat = new ChatController(context, this.kernels, log, (m) => this.post(m), served);
    this.panelState = new PanelStateSource(context, this.kernels, served, () => this.sendInit());
    this.hosts = new ChatHosts(context, log, this.contextKeys, {
      listen: (host) => this.requestsOf(host),
      editorClosed: (view) => view && void this.resync(view),
      changed: () => this.updateBadge(),
    });
    this.disposables.push(
      this.hosts,
      this.kernels,
      this.chat,
      this.statusEmitter,
      this.kernels.onDidChangePython(() => {
        // a new interpreter: the conversation's kernel goes after the run in progress
        this.chat.session.retireKernel();
        void this.panelState.checkPython();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.sendInit();
        void this.panelState.checkPython().then(() => this.kernels.prewarm());
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
    this.hosts.resolveView(view);
  }

  /** how many listeners the resolved view holds (0 once it is gone) */
  get viewListenerCount(): number {
    return this.hosts.viewListenerCount;
  }

  /** Resolves true once the live webview has loaded (said `ready`), false after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<boolean> {
    return this.hosts.active?.ready ? Promise.resolve(true) : this.readyGate.wait(timeoutMs);
  }

  /** Shows the chat where it is live (resolving the view if needed). */
  async reveal(): Promise<void> {
    if (!this.hosts.revealPanel(false)) await vscode.commands.executeCommand(`${ChatViewProvider.viewType}.focus`);
  }

  /** "Open Chat in Editor": the chat moves to an editor tab beside the active editor (e.g. the image). */
  openInEditor(): void {
    if (this.hosts.revealPanel()) return;
    this.adoptPanel(
      vscode.window.createWebviewPanel(ChatViewProvider.editorType, EDITOR_TITLE, vscode.ViewColumn.Beside, {
        retainContextWhenHidden: true,
        enableFindWidget: true,
      }),
    );
  }

  /** The chat tab VS Code restores after a window reload, with the conversation it showed (when it still exists). */
  async restorePanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    this.adoptPanel(panel);
    const id = (state as { conversationId?: unknown } | undefined)?.conversationId;
    if (typeof id === 'string') await this.chat.open(id).catch(() => undefined); // one deleted since: a new chat
  }

  /** The chat tab: a new one, or the one VS Code restores after a window reload (its serializer). */
  adoptPanel(panel: vscode.WebviewPanel): void {
    this.hosts.adoptPanel(panel);
  }

  /** "Move Chat to Side Bar": closes the editor tab; the view is live again. */
  async moveToSideBar(): Promise<void> {
    this.hosts.closePanel();
    await this.reveal();
  }

  /** The editor column for things the chat opens (an image, code): beside the chat tab, else the active one. */
  besideChat(): vscode.ViewColumn {
    return this.hosts.besideChat();
  }

  /** `host`'s message listener: validated requests to their handlers; one reply each. */
  private requestsOf(host: Host): (raw: unknown) => Promise<void> {
    return routeRequests<FromWebview, ChatResponses>(
      {
        what: `chat ${host.kind}`,
        schema: chatRequest,
        log: this.log,
        reply: (m) => this.hosts.postTo(host, m),
        guard: (m) => {
          if (host !== this.hosts.active && m.type !== 'ready' && m.type !== 'setup')
            throw new Error('The chat is open in an editor tab: use it there, or move it back to the side bar.');
        },
      },
      chatHandlers(
        {
          chat: this.chat,
          post: (m) => this.post(m),
          besideChat: () => this.besideChat(),
          ready: (h) => this.onReady(h),
          setup: (a) => this.setup(a),
        },
        host,
      ),
    );
  }

  private async onReady(host: Host): Promise<void> {
    host.ready = true;
    this.log.info(`chat ${host.kind}: ready`);
    if (host !== this.hosts.active) {
      this.sendInit();
      this.hosts.postTo(host, { type: 'moved', to: 'editor' });
      return;
    }
    this.readyGate.open();
    await this.resync(host);
    void this.panelState.checkPython();
    void this.kernels.prewarm();
  }

  /** The whole chat into a webview that (re)loaded: the conversation, its state, and the run in progress. */
  private async resync(host: Host): Promise<void> {
    this.sendInit();
    await this.chat.sync();
    if (this.chat.running) for (const m of this.watch.liveRun) this.hosts.postTo(host, m);
    this.hosts.flush(host);
  }

  private setup(action: SetupAction): Promise<void> {
    return runSetupAction(action, {
      connectModel: () => this.connectModel(),
      pickInterpreter: async () => {
        await pickInterpreter(this.kernels);
        this.kernels.invalidate();
      },
      dismissWalkthrough: () => this.panelState.dismissWalkthrough(),
      openWalkthrough: () => this.openWalkthrough(),
      moveToSideBar: () => this.moveToSideBar(),
      showEditor: () => this.reveal(),
    });
  }

  /** A served model came or went (the panel shows the endpoints in use). */
  servedModelsChanged = (): void => {
    this.watch.model = ''; // the last run's model may be the one that just went away
    this.sendInit();
  };

  /** The panel state to every ready webview; the menus' context keys and the status with it. */
  private sendInit(): void {
    this.contextKeys.set('codedance.approval', readSettings().approval);
    this.refreshStatus();
    void this.panelState.current().then((state) => this.hosts.postToReady({ type: 'init', state }));
  }

  post(msg: ToWebview): void {
    this.observe(msg);
    this.hosts.post(msg);
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
    this.hosts.showPending(n);
    this.contextKeys.set('codedance.approvalPending', n > 0);
  }

  refreshStatus(): void {
    const s = readSettings();
    const run = servedEndpointLine(s.endpoints, s.model, this.served); // a model served on a cluster from this window counts
    this.statusEmitter.fire({
      endpoint: run.endpoint,
      model: run.model || this.watch.model,
      kernel: this.watch.kernel,
      approval: s.approval,
      pendingApprovals: this.watch.pending.size,
      running: this.watch.running,
    });
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
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
