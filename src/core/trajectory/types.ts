/**
 * The one data model of a CodeDance run: what was asked, every model call, every code cell
 * with its real outputs and images, timings, errors. Chat panel, CLI, eval runner, eval report
 * and the notebook exporter all read this; chat history and eval result records persist it
 * whole (images as files beside them: imageFiles.ts). Made by `createTrajectory` (create.ts);
 * what older releases wrote is read through `migrateTrajectory` (migrate.ts).
 *
 * Schema versions: 1 (until the eval records embedded the trajectory: eval kept its own
 * per-turn copy without the messages), 2 (`migrated` added; eval records carry the whole
 * trajectory).
 */
import type { ErrorInfo } from '../errors';
import type { ImageMime } from '../images/sniffImageMime';
import type { ExecutionError, ExecutionStatus, OutputImage } from '../kernel/types';
import type { ChatMessage, ToolCall, ToolRegion } from '../protocol/types';

export const TRAJECTORY_VERSION = 2;

export interface TrajectoryImage {
  /** stable id inside the trajectory, e.g. "input-0", "t1-c0-i0" */
  id: string;
  /** input images: what their bytes are (sniffImageMime); outputs: PNG or JPEG, as the kernel sent them */
  mime: ImageMime;
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
  /**
   * Set when the cell is a call of a format's own tool (DeepEyes' `image_zoom_in_tool`): `code`
   * is then the call as the model wrote it, and the kernel ran the tool (its image is the crop).
   * `region`: the box the crop was cut from and the input image it is in (absent in trajectories
   * written before it was recorded: protocol/toolRegion.ts reads it from `arguments.bbox_2d`).
   */
  tool?: { name: string; arguments: Record<string, unknown>; region?: ToolRegion };
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
  /** images of the history this turn's request did not carry (over AgentOptions.maxRequestImages): each was replaced by a note */
  imagesOmitted?: number;
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
  /** where the code ran when it was not a kernel started here (a notebook's kernel, a Jupyter server) */
  where?: string;
  /** the full conversation as sent to the model (system, user, assistant, observations) */
  messages: ChatMessage[];
  turns: ModelTurn[];
  answer?: string;
  status: TrajectoryStatus;
  /** the error that ended the run, whole (kind, retryable, reason, fix); old files hold only name and message */
  error?: ErrorInfo;
  usage: Usage;
  durationMs: number;
  /** set when this trajectory was read from an older schema: what it came from and what could not be restored exactly */
  migrated?: TrajectoryMigration;
  /** the question's known correct answer, when it came with one (an eval sample opened in the chat) */
  reference?: TrajectoryReference;
}

/** What an eval sample knows about its question: its dataset's answer and source, and the eval's verdict on the answer it judged. */
export interface TrajectoryReference {
  groundTruth: string;
  dataSource: string;
  /** "result_x.jsonl sample 3" */
  origin?: string;
  /** the eval's acc for this answer (judge or math check): reused while the answer is the same */
  judged?: { answer: string; acc: number };
}

export interface TrajectoryMigration {
  fromVersion: number;
  /** `history`: a chat conversation (lossless); `eval-record`: an eval result line (messages rebuilt) */
  source: 'history' | 'eval-record';
  /** what is reconstructed rather than stored, e.g. "messages rebuilt from the turns with the codedance protocol" */
  rebuilt: string[];
}
