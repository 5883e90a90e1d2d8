/**
 * The one typed message protocol between the chat webview and the extension.
 * Types only: both sides import it; nothing else crosses the boundary. The extension validates
 * every incoming message once (`chat/validate.ts`) before acting on it.
 */
import type { AgentEvent } from '../core/agent/events';
import type { KernelState } from '../core/kernel/types';
import type { Trajectory } from '../core/trajectory/types';

/** An image attached in the compose box (bytes stay in the extension; the webview gets a thumbnail). */
export interface Attachment {
  id: string;
  name: string;
  mime: string;
  /** file size, bytes */
  bytes: number;
  width?: number;
  height?: number;
  /** data: URL of the image for the thumbnail */
  thumb: string;
}

export interface ConversationSummary {
  id: string;
  title: string;
  updatedAt: string;
  exchanges: number;
}

export type PythonStatus =
  | { state: 'checking' }
  | { state: 'ok'; python: string; version: string; reason: string }
  | { state: 'missing'; message: string };

export interface PanelState {
  /** endpoint + model line for the status bar of the panel */
  endpoint: string;
  model: string;
  protocol: string;
  trusted: boolean;
  approval: 'always' | 'auto';
  hasApiKey: boolean;
  python: PythonStatus;
  /** show the first-run walkthrough (no conversation yet, walkthrough not dismissed) */
  walkthrough: boolean;
}

/** A kernel's state as the panel shows it; `none` = no kernel started for this conversation yet. */
export type PanelKernelState = KernelState | 'none';

/**
 * One exchange (a question and its run) of a conversation, as the panel renders it: a trajectory
 * without the model messages (they stay in the extension), images inline as base64.
 */
export type ExchangeView = Omit<Trajectory, 'messages'> & { messages?: never };

/** Messages the extension sends to the webview. */
export type ToWebview =
  | { type: 'init'; state: PanelState }
  | { type: 'notice'; level: 'info' | 'warning' | 'error'; text: string }
  /** replaces the whole conversation view (open, new chat, reload) */
  | { type: 'conversation'; id: string; title: string; exchanges: ExchangeView[] }
  /** a new exchange starts at `index`; events for it follow. `replace`: it replaces the exchange at index (Retry / fork) */
  | { type: 'exchangeStart'; index: number; question: string; images: { mime: string; data: string }[]; replace?: boolean }
  | { type: 'event'; index: number; event: AgentEvent }
  | { type: 'running'; running: boolean }
  | { type: 'kernel'; state: PanelKernelState }
  | { type: 'attachments'; items: Attachment[]; focus?: boolean }
  | { type: 'approval'; requestId: string; index: number; cellId: string; code: string }
  | { type: 'approvalDone'; requestId: string }
  | { type: 'history'; items: ConversationSummary[]; activeId?: string }
  | { type: 'focusInput' };

export type ApprovalReply = { action: 'run' } | { action: 'skip' } | { action: 'edit'; code: string };

/** Messages the webview sends to the extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'ask'; question: string }
  | { type: 'stop' }
  | { type: 'retry' }
  | { type: 'newChat' }
  | { type: 'attachPick' }
  /** a pasted or dropped file (from the OS), base64 without a data: prefix */
  | { type: 'attachData'; name: string; mime: string; data: string }
  /** dropped from the explorer / editor tabs (text/uri-list) */
  | { type: 'attachUris'; uris: string[] }
  | { type: 'removeAttachment'; id: string }
  | { type: 'approval'; requestId: string; reply: ApprovalReply }
  | { type: 'fork'; index: number; cellId: string; code: string }
  | { type: 'openImage'; index: number; imageId: string }
  | { type: 'saveImage'; index: number; imageId: string }
  | { type: 'copyText'; text: string }
  | { type: 'openCode'; code: string }
  | { type: 'openLink'; href: string }
  | { type: 'restartKernel' }
  | { type: 'history'; action: 'open' | 'rename' | 'delete'; id: string }
  | { type: 'showHistory' }
  | { type: 'export'; format: 'ipynb' | 'markdown' }
  | { type: 'setup'; action: 'setEndpoint' | 'setApiKey' | 'pickInterpreter' | 'trust' | 'openSettings' | 'dismissWalkthrough' | 'askAboutImage' | 'toggleApproval' };
