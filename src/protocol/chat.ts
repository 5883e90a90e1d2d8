/**
 * The chat webview's protocol (the side bar view and the editor tab run the same script).
 *
 * Keyed by ids, as Continue's messenger: every message from the webview is a request with a
 * fresh `id` (`chatRequest`, the schema its type comes from); the extension answers each with one
 * `reply` when it is handled (`ChatResponses`: each is an acknowledgement, `void`). A run (ask,
 * Retry, fork) streams under the id of the request that started it: `exchangeStart` and every
 * `event` carry it as `run`, and the webview answers the run's approval requests with it.
 * Approvals are events of the run's stream (after their cell's `tool_call`, never before it);
 * each output image crosses once (in its cell at `exec_end`); the kernel's state comes only as
 * `kernel` messages.
 */
import * as v from 'valibot';
import type { KernelState } from '../core/kernel/types';
import type { TrajectoryReward } from '../core/reward/reward';
import type { AgentEvent } from '../core/trajectory/events';
import type { CodeCell, Trajectory, Usage } from '../core/trajectory/types';
import { index, request, text, wordId, type Reply, type RequestData } from './messages';

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

/** Where the chat's Python cells run, for the header: a short label, the whole notice, and whether the sandbox contains them. */
export interface CellsStatus {
  label: string;
  notice: string;
  sandboxed: boolean;
}

export type PythonStatus =
  | { state: 'checking' }
  | { state: 'ok'; python: string; version: string; reason: string; cells?: CellsStatus }
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
  /** the seed's training reward of the run (computed in the extension: core/reward/reward.ts) */
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

// ---------------------------------------------------------------------------------------------
// webview → extension: the requests, as schemas (their types below are derived from them)
// ---------------------------------------------------------------------------------------------

export const SETUP_ACTIONS = [
  'setEndpoint',
  'setApiKey',
  'pickInterpreter',
  'trust',
  'openSettings',
  'dismissWalkthrough',
  'askAboutImage',
  'toggleApproval',
  'connectModel',
  'openWalkthrough',
  'moveToSideBar',
  'showEditor',
] as const;

const cellId = text(100);
const code = text(1_000_000);

/** The answer to an `approval_request`: run the cell, skip it, or run an edited version. */
export const approvalReply = v.variant('action', [
  v.object({ action: v.picklist(['run', 'skip']) }),
  v.object({ action: v.literal('edit'), code }),
]);

/** Every message the chat webview may send: shape, types and sizes. */
export const chatRequest = v.variant('type', [
  request('ready', {}),
  request('ask', { question: text(100_000) }),
  request('stop', {}),
  request('retry', {}),
  request('newChat', {}),
  request('attachPick', {}),
  /** a pasted or dropped file (from the OS), base64 without a data: prefix */
  request('attachData', { name: text(500), mime: text(100), data: text(80 * 1024 * 1024) }),
  /** dropped from the explorer / editor tabs (text/uri-list) */
  request('attachUris', { uris: v.pipe(v.array(text(4000)), v.maxLength(50)) }),
  request('removeAttachment', { attachmentId: text(100) }),
  /** the answer to an `approval_request` event of run `run` */
  request('approval', { run: wordId, cellId, reply: approvalReply }),
  /** the answer to a `restore_request` event of run `run`: re-run the earlier code or not */
  request('restore', { run: wordId, accept: v.boolean() }),
  request('fork', { index, cellId, code }),
  request('openImage', { index, imageId: text(200) }),
  request('saveImage', { index, imageId: text(200) }),
  request('copyText', { text: text(1_000_000) }),
  request('openCode', { code }),
  request('openLink', { href: text(4000) }),
  request('restartKernel', {}),
  request('history', { action: v.picklist(['open', 'rename', 'delete']), conversationId: wordId }),
  request('showHistory', {}),
  request('export', { format: v.picklist(['ipynb', 'markdown']) }),
  request('setup', { action: v.picklist(SETUP_ACTIONS) }),
]);

export type ApprovalReply = v.InferOutput<typeof approvalReply>;
/** A message the webview sends to the extension: a request and its message id. */
export type FromWebview = v.InferOutput<typeof chatRequest>;
/** What the webview asks (its messenger adds the `id`). */
export type WebviewRequest = RequestData<FromWebview>;
export type SetupAction = (typeof SETUP_ACTIONS)[number];

/**
 * What each request's reply carries: nothing but its success or its error. What a request
 * starts comes on its own: a run's messages under its id, the history list as `history`, …
 */
export type ChatResponses = { [K in FromWebview['type']]: void };

// ---------------------------------------------------------------------------------------------
// extension → webview
// ---------------------------------------------------------------------------------------------

/** Messages the extension sends to the webview. */
export type ToWebview =
  | { type: 'init'; state: PanelState }
  /** the request `replyTo` is handled; `error`: why it failed */
  | Reply<void>
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
