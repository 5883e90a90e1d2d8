/**
 * A conversation: questions asked one after another in the same kernel, each exchange one
 * trajectory (a follow-up's trajectory holds the earlier messages too). What the chat saves.
 */
import type { AgentEvent } from '../trajectory/events';
import type { AgentOptions } from '../agent/options';
import type { ChatModel } from '../agent/model';
import type { KernelSession, KernelState } from '../kernel/types';
import type { ProtocolAdapter } from '../protocol/types';
import type { Trajectory } from '../trajectory/types';

export interface Conversation {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  exchanges: Trajectory[];
}

/** What one run uses, read when it starts (settings may change between runs). */
export interface RunConfig {
  model: ChatModel;
  modelName: string;
  protocol: ProtocolAdapter;
  endpoints: string[];
  protocolTemplateHash?: string;
  maxTurns?: number;
  timeoutMs: number;
  /** AgentOptions.maxObservationTokens: absent = 4096 estimated tokens, 0 = no limit */
  maxObservationTokens?: number;
  sampling?: AgentOptions['sampling'];
  /** `always`: each cell, and each batch of earlier code re-run to rebuild the kernel, waits for the user */
  approval: 'always' | 'auto';
}

/** A conversation's kernel as its holder sees it; `none` = no kernel started for it yet. */
export type ConversationKernelState = KernelState | 'none';

/** Everything a session tells its UI, in order. */
export type SessionEvent =
  /** the conversation was replaced (fork, open, new) */
  | { type: 'conversation'; conversation: Conversation }
  /** a run starts at `index`; `replace`: it replaces the exchange there and drops those after (Retry) */
  | { type: 'exchangeStart'; runId: string; index: number; question: string; images: { mime: string; data: string }[]; replace: boolean }
  /** the run's agent events, as `runAgent` produced them */
  | { type: 'event'; runId: string; index: number; event: AgentEvent }
  | { type: 'running'; running: boolean }
  | { type: 'kernel'; state: ConversationKernelState };

/** What a session needs from its host (the chat panel, a test). */
export interface SessionHost {
  /** a started kernel for this conversation; the session owns it from then on (disposes it) */
  acquireKernel(): Promise<KernelSession>;
  /** the next run's model, format and limits; may fail (no endpoint, model name not resolvable) */
  runConfig(signal: AbortSignal): Promise<RunConfig>;
  emit(e: SessionEvent): void;
  /** persists the conversation (after each run, and the original before a fork) */
  save(c: Conversation): Promise<void>;
}
