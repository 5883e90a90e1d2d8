/**
 * The agent's event stream: one typed union that the chat panel, the CLI and the eval runner
 * all consume. Events carry ids (turn index, cell id) so UIs can render incrementally.
 */
import type { ErrorInfo } from '../errors';
import type { ExecutionResult, KernelState } from '../kernel/types';
import type { ChatMessage } from '../protocol/types';
import type { CodeCell, Trajectory, Usage } from './types';

export type AgentEvent =
  | { type: 'start'; trajectoryId: string; question: string; protocol: string; model: string; maxTurns: number; where?: string }
  | { type: 'kernel'; state: KernelState }
  | { type: 'turn_start'; turn: number; endpoint?: string }
  /** a piece of the assistant's text as it streams */
  | { type: 'delta'; turn: number; text: string }
  /** the model request is retried: discard this turn's partial text */
  | { type: 'retry'; turn: number; attempt: number; reason: string }
  | { type: 'turn_end'; turn: number; content: string; latencyMs: number; usage?: Usage; discarded: boolean }
  /** code found in the turn (a tool call or a <code> block) */
  | { type: 'tool_call'; turn: number; cell: CodeCell }
  /** approval mode `always`: the cell waits for the user's decision (follows its `tool_call`) */
  | { type: 'approval_request'; turn: number; cellId: string; code: string }
  /** the approval callback was asked and answered */
  | { type: 'approval'; turn: number; cellId: string; decision: 'run' | 'skip' | 'edit' }
  /**
   * Earlier code is about to be run again to rebuild the kernel's state (a fresh kernel for a
   * follow-up, Retry, Edit & re-run, a reopened conversation). In approval mode `always` the
   * batch waits for one decision; `restore` says what happened.
   */
  | { type: 'restore_request'; code: string[] }
  /** `restored: false`: the user declined the batch, the kernel lacks the earlier state */
  | { type: 'restore'; restored: boolean; cells: number }
  | { type: 'exec_start'; turn: number; cellId: string }
  | { type: 'exec_output'; turn: number; cellId: string; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'exec_end'; turn: number; cellId: string; result: ExecutionResult; cell: CodeCell }
  | { type: 'malformed'; turn: number; message: string }
  | { type: 'observation'; turn: number; messages: ChatMessage[] }
  | { type: 'answer'; turn: number; text: string }
  /** the error whole, as plain JSON (kind, retryable, reason, fix): adapters word it */
  | { type: 'error'; error: ErrorInfo; fatal: boolean }
  | { type: 'done'; trajectory: Trajectory };
