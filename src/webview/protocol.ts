/**
 * The one typed message protocol between the chat webview and the extension.
 * Types only: both sides import it; nothing else crosses the boundary. The extension validates
 * every incoming message once (`chat/validate.ts`) before acting on it.
 *
 * Keyed by ids, as Continue's messenger: every message from the webview carries a fresh `id`; the
 * extension answers each with one `reply` (`replyTo` = that id) when it is handled. A run (ask,
 * Retry, fork) streams under the id of the request that started it: `exchangeStart` and every
 * `event` carry it as `run`, and the webview answers the run's approval requests with it.
 * Approvals are events of the run's stream (after their cell's `tool_call`, never before it);
 * each output image crosses once (in its cell at `exec_end`); the kernel's state comes only as
 * `kernel` messages.
 */
import type { AgentEvent } from '../core/agent/events';
import type { KernelState } from '../core/kernel/types';
import type { TrajectoryReward } from '../core/training-data/reward';
import type { CodeCell, Trajectory, Usage } from '../core/trajectory/types';

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
export type ExchangeView = Omit<Trajectory, 'messages'> & { messages?: never; reward?: TrajectoryReward };

/** How a run ended, for the exchange's footer and the status line. */
export interface RunSummary {
  status: Trajectory['status'];
  turns: number;
  maxTurns: number;
  usage: Usage;
  durationMs: number;
  /** the seed's training reward of the run (computed in the extension: core/training-data/reward.ts) */
  reward?: TrajectoryReward;
}

/**
 * An agent event as the panel gets it: `exec_end` without its result (the cell carries the
 * outputs and images), `done` as a summary; the model's messages (`observation`) and the kernel's
 * state (`kernel`, sent on its own) stay in the extension.
 */
export type PanelEvent =
  | Exclude<AgentEvent, { type: 'exec_end' | 'done' | 'observation' | 'kernel' }>
  | { type: 'exec_end'; turn: number; cellId: string; cell: CodeCell }
  | { type: 'done'; summary: RunSummary };

/** Messages the extension sends to the webview. */
export type ToWebview =
  | { type: 'init'; state: PanelState }
  /** the request `replyTo` is handled; `error`: why it failed */
  | { type: 'reply'; replyTo: string; error?: string }
  | { type: 'notice'; level: 'info' | 'warning' | 'error'; text: string }
  /** replaces the whole conversation view (open, new chat, fork, reload) */
  | { type: 'conversation'; id: string; title: string; exchanges: ExchangeView[] }
  /** run `run` starts exchange `index`; its events follow. `replace`: it replaces the exchange at index (Retry) */
  | { type: 'exchangeStart'; run: string; index: number; question: string; images: { mime: string; data: string }[]; replace?: boolean }
  | { type: 'event'; run: string; index: number; event: PanelEvent }
  | { type: 'running'; running: boolean }
  | { type: 'kernel'; state: PanelKernelState }
  | { type: 'attachments'; items: Attachment[]; focus?: boolean }
  | { type: 'history'; items: ConversationSummary[]; activeId?: string }
  | { type: 'focusInput' }
  /** the History list shown or hidden (the view's title action) */
  | { type: 'toggleHistory' }
  /** the chat went live in an editor tab (this webview shows where it went) or came back here */
  | { type: 'moved'; to: 'editor' | 'view' };

export type ApprovalReply = { action: 'run' } | { action: 'skip' } | { action: 'edit'; code: string };

/** What the webview asks (every message also carries `id`, see `FromWebview`). */
export type WebviewRequest =
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
  | { type: 'removeAttachment'; attachmentId: string }
  /** the answer to an `approval_request` event of run `run` */
  | { type: 'approval'; run: string; cellId: string; reply: ApprovalReply }
  /** the answer to a `restore_request` event of run `run`: re-run the earlier code or not */
  | { type: 'restore'; run: string; accept: boolean }
  | { type: 'fork'; index: number; cellId: string; code: string }
  | { type: 'openImage'; index: number; imageId: string }
  | { type: 'saveImage'; index: number; imageId: string }
  | { type: 'copyText'; text: string }
  | { type: 'openCode'; code: string }
  | { type: 'openLink'; href: string }
  | { type: 'restartKernel' }
  | { type: 'history'; action: 'open' | 'rename' | 'delete'; conversationId: string }
  | { type: 'showHistory' }
  | { type: 'export'; format: 'ipynb' | 'markdown' }
  | { type: 'setup'; action: 'setEndpoint' | 'setApiKey' | 'pickInterpreter' | 'trust' | 'openSettings' | 'dismissWalkthrough' | 'askAboutImage' | 'toggleApproval' | 'connectModel' | 'openWalkthrough' | 'moveToSideBar' | 'showEditor' };

/** Messages the webview sends to the extension: a request and its message id. */
export type FromWebview = WebviewRequest & { id: string };
