/** What the loop is given: the model, the format, the kernel, limits, approvals, and how to resume. */
import type { ChatMessage, ProtocolAdapter } from '../protocol/types';
import type { KernelSession } from '../kernel/types';
import type { CodeCell, Trajectory, TrajectoryReference } from '../trajectory/types';
import type { ChatModel } from './model';

export type ApprovalDecision = { action: 'run' } | { action: 'skip' } | { action: 'edit'; code: string };

export interface AgentOptions {
  model: ChatModel;
  /** the model name sent with each request */
  modelName: string;
  protocol: ProtocolAdapter;
  /** the session's kernel; the caller owns it (acquires and disposes) */
  kernel: KernelSession;
  /** max model calls; default: the protocol's (the seed's eval: 7) */
  maxTurns?: number;
  sampling?: { temperature?: number; top_p?: number; max_tokens?: number; stop?: string[]; extra?: Record<string, unknown> };
  /** the question's answer options (a dataset's `extra_info.options`), for formats with an options template */
  choices?: readonly string[];
  /** per-cell timeout, ms (default 30 000 like the seed's eval) */
  timeoutMs?: number;
  /**
   * the limit on one observation's text (all its cells' output together), in estimated tokens;
   * longer output reaches the model cut, with a marker. Absent = 4096
   * (DEFAULT_OBSERVATION_TOKEN_LIMIT, core/protocol/results.ts); 0 = no limit.
   */
  maxObservationTokens?: number;
  /**
   * images one model request carries at most: the question's and the newest; each older one is
   * replaced by a note in the request (the history keeps it). Absent = 32
   * (DEFAULT_MAX_REQUEST_IMAGES, core/protocol/imageBudget.ts); 0 = no limit.
   */
  maxRequestImages?: number;
  /** images one cell returns at most; absent = the kernel session's (16); 0 = no limit */
  maxImagesPerCell?: number;
  signal?: AbortSignal;
  /** asked before each cell runs (after its `approval_request` event); absent = run everything (approval mode `auto`) */
  approve?: (req: { turn: number; cell: CodeCell }) => Promise<ApprovalDecision>;
  /** asked once before earlier code is re-run to rebuild the kernel (after `restore_request`); false = not restored; absent = restore */
  approveRestore?: (req: { code: string[] }) => Promise<boolean>;
  /** for the trajectory record */
  endpoints?: string[];
  protocolTemplateHash?: string;
  /**
   * Earlier messages of the same conversation (the previous run's `trajectory.messages`): the
   * question is then asked as a follow-up (the protocol's system messages are not repeated) and
   * the kernel is expected to hold the earlier state (same session, or `replay`).
   */
  history?: ChatMessage[];
  /** earlier code run quietly in the kernel before the loop, to rebuild state in a fresh kernel */
  replay?: ReplayStep[];
  /** continue an earlier run from inside it: Retry (a new model call) or Edit & re-run (fork) */
  resume?: ResumeOptions;
  /** the question's known correct answer (a dataset row's, an eval sample's), kept on the trajectory */
  reference?: TrajectoryReference;
}

export interface ResumeOptions {
  /** the earlier run; its question, images and messages are used (the `question`/`images` arguments are ignored) */
  from: Trajectory;
  /** index into `from.turns` of the turn to redo; turns before it are kept as they are */
  turn: number;
  /**
   * Edit & re-run: keep the model's reply of `turn` and run its cells again, with these code
   * replacements (cell id → code), then let the model continue. Absent = Retry: a new model call.
   */
  edits?: Record<string, string>;
  /** re-run the kept turns' code in the kernel first (a fresh kernel); default true */
  replayKernel?: boolean;
}

/** One step of a kernel rebuild: bind these input images (when given), then run this code. */
export interface ReplayStep {
  inputImages?: Uint8Array[];
  code: string[];
}

/** AgentOptions.maxObservationTokens as the formats take it: 0 (no limit) = an unreachable limit. */
export function observationLimit(maxTokens: number | undefined): number | undefined {
  return maxTokens === 0 ? Number.POSITIVE_INFINITY : maxTokens;
}
