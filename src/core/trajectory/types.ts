/**
 * The one data model of a CodeDance run: what was asked, every model call, every code cell
 * with its real outputs and images, timings, errors. Chat panel, CLI, eval runner and the
 * notebook exporter all read this; it serializes to JSON as is.
 */
import type { ExecutionError, ExecutionStatus, OutputImage } from '../kernel/types';
import type { ChatMessage, ToolCall } from '../protocol/types';

export const TRAJECTORY_VERSION = 1;

export interface TrajectoryImage {
  /** stable id inside the trajectory, e.g. "input-0", "t1-c0-i0" */
  id: string;
  mime: 'image/png' | 'image/jpeg';
  /** base64 without a data: prefix */
  data: string;
  width?: number;
  height?: number;
  source: OutputImage['source'] | 'input';
}

export type CellStatus = 'pending' | 'running' | 'skipped' | ExecutionStatus;

export interface CodeCell {
  id: string;
  turn: number;
  /** the code that ran (after an approval edit, the edited code) */
  code: string;
  /** the code as the model wrote it, when it was edited before running */
  originalCode?: string;
  toolCallId?: string;
  status: CellStatus;
  stdout: string;
  stderr: string;
  images: TrajectoryImage[];
  error?: ExecutionError;
  exited?: boolean;
  startedAt?: string;
  durationMs?: number;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface ModelTurn {
  index: number;
  endpoint: string;
  startedAt: string;
  /** ms until the first token arrived */
  firstTokenMs?: number;
  latencyMs: number;
  /** the assistant's text, as returned */
  content: string;
  toolCalls: ToolCall[];
  finishReason?: string | null;
  usage?: Usage;
  /** request retries (HTTP 429/5xx, dropped streams) before this turn succeeded */
  retries: number;
  /** the reply had neither code nor answer and was not appended (the seed re-sends the request) */
  discarded?: boolean;
  answer?: string;
  cells: CodeCell[];
  /** malformed tool calls turned into error observations */
  malformed: { toolCallId?: string; message: string }[];
}

export type TrajectoryStatus = 'running' | 'answered' | 'max_turns' | 'cancelled' | 'error';

export interface Trajectory {
  version: typeof TRAJECTORY_VERSION;
  id: string;
  createdAt: string;
  question: string;
  inputImages: TrajectoryImage[];
  model: string;
  endpoints: string[];
  protocol: string;
  protocolTemplateHash?: string;
  sampling: Record<string, unknown>;
  maxTurns: number;
  python?: string;
  /** the full conversation as sent to the model (system, user, assistant, observations) */
  messages: ChatMessage[];
  turns: ModelTurn[];
  answer?: string;
  status: TrajectoryStatus;
  error?: { name: string; message: string };
  usage: Usage;
  durationMs: number;
}
