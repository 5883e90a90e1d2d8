/**
 * The chat's two webviews: the view in the CodeDance container and, on "Open Chat in Editor", a
 * webview panel with the same script and protocol. One of them is live at a time (the panel while
 * it is open; the view then says where the chat went). Each host owns the listeners registered
 * for it and disposes them when its webview goes. Also what the workbench shows on them: the
 * view's badge and the tab's title while approvals wait.
 */
import * as vscode from 'vscode';
import type { ToWebview } from '../../protocol/chat';
import { webviewHtml } from '../webviewHtml';
import type { ContextKeys } from './contextKeys';

export const EDITOR_TITLE = 'CodeDance Chat';

/** One webview showing the chat: the side bar view or the editor tab. */
export interface Host {
  kind: 'view' | 'editor';
  webview: vscode.Webview;
  ready: boolean;
  disposables: vscode.Disposable[];
}

export interface HostEvents {
  /** the listener of `host`'s messages (the provider's request router for that host) */
  listen(host: Host): (raw: unknown) => unknown;
  /** the editor tab closed: `view`, when it is loaded, is live again */
  editorClosed(view: Host | undefined): void;
  /** the live host changed (the badge goes where the chat is) */
  changed(): void;
}

export class ChatHosts implements vscode.Disposable {
  private view?: vscode.WebviewView;
  private viewHost?: Host;
  private panel?: vscode.WebviewPanel;
  private editorHost?: Host;
  /** messages for a webview that is not ready yet (a command ran before the panel opened) */
  private readonly queue: ToWebview[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly contextKeys: ContextKeys,
    private readonly events: HostEvents,
  ) {}

  /** the webview the chat is live in */
  get active(): Host | undefined {
    return this.editorHost ?? this.viewHost;
  }

  /** how many listeners the resolved view holds (0 once it is gone) */
  get viewListenerCount(): number {
    return this.viewHost?.disposables.length ?? 0;
  }

  get hasPanel(): boolean {
    return !!this.panel;
  }

  resolveView(view: vscode.WebviewView): void {
    this.log.info(`chat view: loading${this.viewHost ? ' again (its webview was recreated)' : ''}`);
    this.disposeView();
    this.view = view;
    const host = this.attach('view', view.webview);
    host.disposables.push(
      view.onDidDispose(() => {
        this.log.info('chat view: closed');
        this.disposeView();
      }),
    );
    this.viewHost = host;
    this.events.changed();
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
    this.events.changed();
  }

  /** Shows the chat tab; false when there is none. */
  revealPanel(preserveFocus?: boolean): boolean {
    this.panel?.reveal(undefined, preserveFocus);
    return !!this.panel;
  }

  /** Closes the chat tab (the view is live again). */
  closePanel(): void {
    this.panel?.dispose();
  }

  /** The editor column for things the chat opens (an image, code): beside the chat tab, else the active one. */
  besideChat(): vscode.ViewColumn {
    const col = this.panel?.viewColumn;
    if (col === undefined) return vscode.ViewColumn.Active;
    return col === vscode.ViewColumn.One ? vscode.ViewColumn.Two : vscode.ViewColumn.One;
  }

  /** To the live webview; kept for it until it is ready when it is something it must still see. */
  post(msg: ToWebview): void {
    const h = this.active;
    if (!h?.ready) {
      if (msg.type === 'attachments' || msg.type === 'focusInput' || msg.type === 'notice' || msg.type === 'toggleHistory')
        this.queue.push(msg);
      else if (msg.type === 'exchangeStart')
        this.log.warn(
          `chat: question ${msg.index + 1} started while the panel was ${h ? 'loading' : 'closed'}; it shows once the panel is ready`,
        );
      return;
    }
    void h.webview.postMessage(msg);
  }

  /** To one webview, ready or not (a reply, the messages a reloaded webview catches up with). */
  postTo(host: Host, msg: ToWebview): void {
    void host.webview.postMessage(msg);
  }

  /** To every ready webview (the panel state: the view shows it even while the chat is in the tab). */
  postToReady(msg: ToWebview): void {
    for (const h of [this.viewHost, this.editorHost]) if (h?.ready) void h.webview.postMessage(msg);
  }

  /** What was kept for a webview that was not ready, to `host` that now is. */
  flush(host: Host): void {
    for (const m of this.queue.splice(0)) void host.webview.postMessage(m);
  }

  /** `n` cells wait for approval: the view's badge, the tab's title. */
  showPending(n: number): void {
    const tooltip = `${n} code cell(s) waiting for your approval`;
    // a 0 badge, not undefined: VS Code 1.100 keeps the activity bar's number when a webview view's badge is set to undefined
    if (this.view) this.view.badge = n ? { value: n, tooltip } : { value: 0, tooltip: '' };
    if (this.panel) this.panel.title = n ? `${EDITOR_TITLE} (${n} to approve)` : EDITOR_TITLE;
  }

  private attach(kind: Host['kind'], webview: vscode.Webview): Host {
    const storage = this.context.storageUri ?? this.context.globalStorageUri;
    webview.options = {
      enableScripts: true,
      localResourceRoots: [
        vscode.Uri.joinPath(this.context.extensionUri, 'dist'),
        vscode.Uri.joinPath(this.context.extensionUri, 'media'),
        storage,
      ],
    };
    webview.html = webviewHtml(webview, this.context.extensionUri, {
      script: 'webview.js',
      styles: ['chat.css'],
      title: EDITOR_TITLE,
      bodyClass: kind === 'editor' ? 'in-editor' : undefined,
    });
    const host: Host = { kind, webview, ready: false, disposables: [] };
    const listener = this.events.listen(host);
    host.disposables.push(webview.onDidReceiveMessage((m: unknown) => void listener(m)));
    return host;
  }

  private disposeView(): void {
    for (const d of this.viewHost?.disposables.splice(0) ?? []) d.dispose();
    this.viewHost = undefined;
    this.view = undefined;
  }

  private onEditorClosed(): void {
    for (const d of this.editorHost?.disposables.splice(0) ?? []) d.dispose();
    this.editorHost = undefined;
    this.panel = undefined;
    this.contextKeys.set('codedance.chatInEditor', false);
    const view = this.viewHost;
    if (view?.ready) void view.webview.postMessage({ type: 'moved', to: 'view' } satisfies ToWebview);
    this.events.editorClosed(view?.ready ? view : undefined);
    this.events.changed();
  }

  dispose(): void {
    this.panel?.dispose();
    this.disposeView();
  }
}
