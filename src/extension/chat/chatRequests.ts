/**
 * What the extension does for each request of the chat webview (src/protocol/chat.ts): one
 * handler per request type, over the ChatController and VS Code's UI. The messages are validated
 * before they get here (webviewRequests.ts).
 */
import * as vscode from 'vscode';
import type { ChatResponses, FromWebview, SetupAction, ToWebview } from '../../protocol/chat';
import type { Handlers } from '../../protocol/messages';
import type { ChatController } from './ChatController';
import type { Host } from './chatHosts';
import { openLink } from './setupActions';

/** What the handlers need of the chat panel. */
export interface ChatRequestContext {
  chat: ChatController;
  /** to the live webview */
  post(msg: ToWebview): void;
  besideChat(): vscode.ViewColumn;
  /** `host`'s webview has loaded: bring it up to date */
  ready(host: Host): Promise<void>;
  setup(action: SetupAction): Promise<void>;
}

const IMAGE_FILTERS = { Images: ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp'] };

/** The chat's requests from `host`'s webview. */
export function chatHandlers(p: ChatRequestContext, host: Host): Handlers<FromWebview, ChatResponses> {
  const c = p.chat;
  return {
    ready: () => p.ready(host),
    ask: (m) => c.ask(m.question, m.id),
    stop: () => c.stop(),
    retry: (m) => c.retry(m.id),
    newChat: () => c.newChat(),
    attachPick: async () => {
      const picked = await vscode.window.showOpenDialog({
        canSelectMany: true,
        openLabel: 'Attach',
        defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
        filters: IMAGE_FILTERS,
      });
      if (picked?.length) await c.attachFiles(picked, true);
    },
    attachData: (m) => c.attachData(m.name, new Uint8Array(Buffer.from(m.data, 'base64'))),
    attachUris: (m) => c.attachFiles(m.uris.flatMap(parseUri), true),
    removeAttachment: (m) => c.removeAttachment(m.attachmentId),
    approval: (m) => c.answerApproval(m.run, m.cellId, m.reply),
    restore: (m) => c.answerRestore(m.run, m.accept),
    fork: (m) => c.fork(m.index, m.cellId, m.code, m.id),
    openImage: (m) => c.openImage(m.index, m.imageId, p.besideChat()),
    saveImage: (m) => c.saveImage(m.index, m.imageId),
    copyText: async (m) => {
      await vscode.env.clipboard.writeText(m.text);
      p.post({ type: 'notice', level: 'info', text: 'Copied to the clipboard.' });
    },
    openCode: async (m) => {
      const doc = await vscode.workspace.openTextDocument({ language: 'python', content: m.code });
      await vscode.window.showTextDocument(doc, { preview: false, viewColumn: p.besideChat() });
    },
    openLink: async (m) => {
      const blocked = await openLink(m.href);
      if (blocked) p.post({ type: 'notice', level: 'warning', text: blocked });
    },
    restartKernel: () => c.restartKernel(),
    history: (m) =>
      m.action === 'open' ? c.open(m.conversationId) : m.action === 'rename' ? c.rename(m.conversationId) : c.delete(m.conversationId),
    showHistory: () => c.history(),
    export: (m) => c.export(m.format),
    setup: (m) => p.setup(m.action),
  };
}

/** A dropped URI, or nothing for one VS Code cannot parse. */
function parseUri(u: string): vscode.Uri[] {
  try {
    return [vscode.Uri.parse(u, true)];
  } catch {
    return [];
  }
}
