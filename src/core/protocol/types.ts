/**
 * Model-format adapters. Each format (the seed's eval format, its training tool format,
 * generic OpenAI tools, later PyVision) is one file implementing `ProtocolAdapter`, registered
 * in `index.ts`. The agent loop only talks to this interface.
 */
import type { ExecutionResult, KernelSandbox, KernelTool, PrepareImageOptions } from '../kernel/types';

export type ContentPart =
  | { type: 'text'; text: string }
  // extra keys (the seed's `max_pixels`) are sent as they are
  | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' }; [extra: string]: unknown };

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export type ChatMessage =
  | { role: 'system'; content: string | ContentPart[] }
  | { role: 'user'; content: string | ContentPart[] }
  // a list of text parts where a format's repository sends one (PyVision)
  | { role: 'assistant'; content: string | ContentPart[] | null; tool_calls?: ToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string | ContentPart[] };

/** What the model said in one turn, as the loop hands it to the adapter. */
export interface AssistantTurn {
  content: string;
  toolCalls: ToolCall[];
  finishReason?: string | null;
}

/**
 * A call of a format's own tool that is not Python (DeepEyes' `image_zoom_in_tool`): the kernel
 * runs it as the format's repository does (kernel/types.ts `KernelTool`), never the model's text.
 */
export interface ToolRequest {
  /** the tool's name as the format knows it, e.g. `image_zoom_in_tool` */
  name: string;
  /** the call's arguments as the model wrote them, as plain JSON (for the trajectory and UIs) */
  arguments: Record<string, unknown>;
  /** what the kernel runs */
  kernel: KernelTool;
  /** the part of an input image the call crops, when it is a zoom (kept in the trajectory: UIs draw it) */
  region?: ToolRegion;
}

/**
 * The part of a question's input image a zoom call crops (DeepEyes' `image_zoom_in_tool`): UIs
 * draw the box on that image beside the crop it produced.
 */
export interface ToolRegion {
  /** the input image the box is in, 0-based (DeepEyes crops the first) */
  imageIndex: number;
  /** [left, top, right, bottom] in that image's pixels, as the crop uses them (no clamping: a box may reach past the image) */
  bbox: [number, number, number, number];
}

/** One piece of code to run, found in an assistant turn. */
export interface CodeRequest {
  /** the Python to run; for a `tool` request, the call as the model wrote it (shown, never run) */
  code: string;
  /** set for tool-call formats */
  toolCallId?: string;
  /** set when the call is a format's own non-Python tool: the kernel runs `tool.kernel`, not `code` */
  tool?: ToolRequest;
  /**
   * set when the code (the model's: approved and editable like any) runs through a format's own
   * sandbox in the kernel (Thyme's: kernel/types.ts KernelTool 'thyme') instead of as a plain cell
   */
  via?: KernelSandbox;
}

export interface ParsedTurn {
  /** code requests in order (the seed runs only the first; adapters decide) */
  code: CodeRequest[];
  /** the final answer text, if the turn contains a complete one */
  answer?: string;
  /** malformed tool calls (bad JSON, missing code): each becomes an error observation */
  malformed: { toolCallId?: string; message: string }[];
  /**
   * true when the turn has neither code nor answer. The eval format then re-sends the
   * identical request without appending the turn (the seed's behaviour).
   */
  empty: boolean;
  /**
   * The answer the run ends with when it ends on this turn without `answer`: at the turn limit,
   * or after a failed call that ends the run (DeepEyes: the whole reply, its `pred_ans`).
   * Absent: such a run has no answer.
   */
  fallbackAnswer?: string;
}

export interface ObservationInput {
  request: CodeRequest;
  result: ExecutionResult;
}

/** What `observation()` knows about the turn it answers. */
export interface ObservationContext {
  /** 0-based index of the model call that produced the code */
  turnIndex: number;
  /** the run's limit on model calls */
  maxTurns: number;
  /**
   * the per-cell timeout the kernel ran with, ms. Formats that quote it (the seed's
   * "Code execution timed out after 30 seconds") use it; absent = the format's fallback text.
   */
  timeoutMs?: number;
  /**
   * the limit on the observation's text (all its cells' output together), in estimated
   * tokens; longer output is cut with a marker. Absent = DEFAULT_OBSERVATION_TOKEN_LIMIT (results.ts).
   */
  maxObservationTokens?: number;
  /**
   * the run's messages so far, this turn's assistant message last; formats that number the images
   * they send back (PyVision's `<image_clue_i>`) count the earlier ones here
   */
  history?: readonly ChatMessage[];
}

export interface ProtocolAdapter {
  readonly id: string;
  /**
   * The format's constant strings (system prompt, instruction, tool schema JSON, fixed
   * observation texts), by name. `templateHash()` in index.ts hashes them for run manifests,
   * so a run records exactly which prompt strings it used. Optional for ad-hoc test formats.
   */
  readonly constants?: Readonly<Record<string, string>>;
  /** default sampling the seed uses with this format (`stop`: the request's stop strings) */
  readonly defaultSampling: { temperature?: number; top_p?: number; max_tokens?: number; stop?: string[] };
  /** default max model calls (eval format: 7 calls) */
  readonly defaultMaxTurns: number;
  /** how the input image is prepared for the model and the kernel */
  readonly imagePreparation: PrepareImageOptions;
  /** tools parameter for the request, if this format uses function calling */
  tools(): unknown[] | undefined;
  /**
   * system + first user message. `imagesPng` are the prepared images, base64: PNG, or with
   * `imagePreparation.resize: 'original'` the image files' own bytes. `context.options`: the
   * question's answer options, when it comes with a list of them (a dataset's
   * `extra_info.options`); formats with an options template use them, the others ignore them.
   */
  initialMessages(question: string, imagesPng: string[], context?: QuestionContext): ChatMessage[];
  /** parse one assistant turn */
  parse(turn: AssistantTurn, run?: RunView): ParsedTurn;
  /** the assistant message to append to the history for this turn */
  assistantMessage(turn: AssistantTurn): ChatMessage;
  /** observation messages for the executed code (and malformed calls) of one turn */
  observation(executed: ObservationInput[], malformed: ParsedTurn['malformed'], ctx: ObservationContext): ChatMessage[];
  /**
   * whether the loop stops after this turn (answer present, per the format's rule). `executed`:
   * what this turn's calls gave, for formats whose run ends on a failed call (DeepEyes).
   */
  isFinal(parsed: ParsedTurn, executed?: readonly ObservationInput[], run?: RunView): boolean;
  /**
   * The next request, for a format whose request is not the history as it stands (Thyme: its
   * reply goes on in the same assistant message around the sandbox's output, a failed block is
   * dropped, a generation that gives no answer starts again at temperature 1.0, and after five a
   * plain prompt is asked). Absent or undefined: the history, with the run's sampling.
   */
  request?(run: RunView): RequestPlan | undefined;
}

/** What a format that plans its requests (`request`, `parse`, `isFinal`) knows of the run so far. */
export interface RunView {
  /** the trajectory's id (a format's sandbox keeps its state per run) */
  id: string;
  question: string;
  /** the kernel's working folder (where the code runs) */
  workdir?: string;
  /** the history: the first messages, then each kept reply and its observation */
  messages: readonly ChatMessage[];
  /** the model calls before the one at hand, in order (discarded ones included) */
  turns: readonly TurnView[];
}

/** A model call as `RunView` shows it (trajectory ModelTurn has these fields). */
export interface TurnView {
  content: string;
  finishReason?: string | null;
  discarded?: boolean;
  cells: readonly {
    status: string;
    stdout: string;
    images: readonly { mime: string; data: string }[];
  }[];
}

/** A request a format planned: its messages, and sampling over the run's. */
export interface RequestPlan {
  /** an assistant message may be made of parts (Thyme's reply, its sandbox's images inside) */
  messages: ChatMessage[];
  /** these fields replace the run's (`stop: undefined`: none sent) */
  sampling?: { temperature?: number; top_p?: number; max_tokens?: number; stop?: string[] };
  /** extra body fields, over the run's (vLLM's `continue_final_message`, …) */
  extra?: Record<string, unknown>;
}

/** What a question may come with besides its text. */
export interface QuestionContext {
  /** answer options, in order (V*'s `options`; the first is the correct one there) */
  options?: readonly string[];
  /**
   * each image's size as the model is sent it, in order (with `imagePreparation.resize:
   * 'original'`, the file's own: PIL's `Image.open(f).size`); formats that write it into the
   * prompt use it (PyVision)
   */
  imageSizes?: readonly { width: number; height: number }[];
  /** the kernel's working folder (Thyme's prompt names where the image file is, there) */
  workdir?: string;
}
