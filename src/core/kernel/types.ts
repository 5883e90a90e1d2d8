/**
 * Kernel layer contracts. A `KernelSession` is one question's persistent Python namespace
 * in a real Jupyter kernel (ipykernel over ZeroMQ), with its own working folder.
 * No `vscode` import anywhere under src/core.
 */

import type { RedactOptions } from './redact';
import type { SandboxMode } from './sandbox';

/** An image the executed code produced (plt.show(), Image.show(), display(), last expression). */
export interface OutputImage {
  mime: 'image/png' | 'image/jpeg';
  /** base64, no data: prefix */
  data: string;
  /** where it came from, in the seed's order: last expression first, then plt figures, then .show() */
  source: 'expression' | 'figure' | 'show' | 'display';
  width?: number;
  height?: number;
}

export type ExecutionStatus =
  | 'ok' // ran to the end (exit()/quit()/sys.exit() included: see `exited`)
  | 'error' // raised an exception
  | 'timeout' // interrupted after the per-cell timeout; the kernel and its state survive
  | 'died' // the kernel process died (os._exit, segfault, OOM kill); it was restarted, state lost
  | 'cancelled'; // the caller aborted (AbortSignal); the cell was interrupted

export interface ExecutionError {
  /** Python exception type name, e.g. "ZeroDivisionError"; "TimeoutError" on timeout; "KernelDied" */
  ename: string;
  evalue: string;
  /** line number for SyntaxError/IndentationError */
  lineno?: number;
  traceback: string[];
}

export interface ExecutionResult {
  status: ExecutionStatus;
  stdout: string;
  stderr: string;
  images: OutputImage[];
  error?: ExecutionError;
  /** exit()/quit()/sys.exit() was called (the seed's NOTE is already appended to stdout) */
  exited?: boolean;
  durationMs: number;
  /** execution count in the kernel, if any */
  executionCount?: number;
  /**
   * Bytes of stdout/stderr that were not kept because the cell printed more than
   * `maxOutputBytes` (a marker saying so ends the kept text). Absent when nothing was dropped.
   */
  truncated?: { stdout: number; stderr: number };
  /**
   * Images the cell captured but the seed would not return: its executor keeps images only
   * when a cell succeeds (an error, a timeout or exit() loses them). They are here for UIs;
   * `images` is what the model sees. Absent when none were dropped.
   */
  droppedImages?: OutputImage[];
  /**
   * Images the code made that could not be encoded or sent (an encoder error, too large): each
   * is also noted at the end of `stderr` ("[image of W×H could not be encoded: reason]") so that
   * every protocol's observation says so. Absent when there were none.
   */
  imageFailures?: ImageFailure[];
  /**
   * The kernel was restarted after this cell (it died, or did not stop within the grace period
   * after an interrupt): variables were lost; input images were bound again.
   */
  restarted?: boolean;
}

/** An output image that the cell made but that could not be encoded or sent. */
export interface ImageFailure {
  source: OutputImage['source'];
  /** pixels, when known */
  width?: number;
  height?: number;
  /** why, e.g. "encoder error -2 when writing image file" */
  reason: string;
}

/** Streaming output while a cell runs (for live UIs). */
export type ExecutionOutputEvent =
  | { kind: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { kind: 'image'; image: OutputImage };

export interface ExecuteOptions {
  /** per-cell timeout, ms; default 30000 like the seed's eval */
  timeoutMs?: number;
  /** per-cell cap on each of stdout and stderr, bytes; default: the session's (1 MiB) */
  maxOutputBytes?: number;
  signal?: AbortSignal;
  onOutput?: (ev: ExecutionOutputEvent) => void;
}

/** How the question's image is prepared for the model and saved for the code. */
export interface PrepareImageOptions {
  /** 'qwen-smart' = the seed's smart resize (multiples of 28, pixels in [min,max]); 'none' = RGB only */
  resize: 'qwen-smart' | 'none';
  minPixels?: number; // default 4*28*28
  maxPixels?: number; // default 16384*28*28
}

export interface PreparedImage {
  /** PNG bytes, base64, of the image exactly as the model sees it (the seed labels it image/jpeg) */
  pngBase64: string;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
}

export interface KernelSession {
  readonly id: string;
  /** per-session working folder (cwd of the code); holds input_image.jpg */
  readonly workdir: string;
  /** interpreter that runs this kernel */
  readonly python: string;
  /** where the code runs when it is not a kernel started here (a notebook's kernel, a Jupyter server), for the conversation */
  readonly where?: string;
  /**
   * Converts/resizes the question's image as the protocol requires, saves it as
   * `input_image.jpg` in the workdir and binds `input_image` (PIL) in the namespace.
   * Additional images become input_image_2.jpg, ... and `input_images` (list).
   */
  setInputImages(images: Uint8Array[], opts: PrepareImageOptions): Promise<PreparedImage[]>;
  execute(code: string, opts?: ExecuteOptions): Promise<ExecutionResult>;
  /** 'starting' | 'idle' | 'busy' | 'dead' | 'disposed' */
  readonly state: KernelState;
  onStateChange(listener: (s: KernelState) => void): () => void;
  /** interrupt the running cell, if any */
  interrupt(): Promise<void>;
  /** shut the kernel down and delete the workdir */
  dispose(): Promise<void>;
}

export type KernelState = 'starting' | 'idle' | 'busy' | 'dead' | 'disposed';

/** Knobs shared by sessions and pools; every one is optional. */
export interface KernelTuning {
  /** address-space limit of the kernel process (RLIMIT_AS, set before it starts so the code
   * cannot raise it), MiB; default min(8192, half the RAM), none with an NVIDIA GPU (CUDA
   * reserves huge address space); 0: none. A cell that allocates past
   * it gets MemoryError and the kernel lives on. */
  memoryLimitMb?: number;
  /** where cells run: 'auto' (default) a bubblewrap sandbox where one works, else unsandboxed;
   * 'on' refuse to start without it; 'off' never (see sandbox.ts) */
  sandbox?: SandboxMode;
  /** let sandboxed code reach the network; default false */
  network?: boolean;
  /** CPU seconds over the kernel process's life (RLIMIT_CPU); default none */
  cpuTimeLimitS?: number;
  /** processes and threads inside the sandbox (RLIMIT_NPROC); default 1024; 0: none */
  maxProcesses?: number;
  /** names of host variables the kernel may see beyond the allow-list (e.g. 'HF_TOKEN') */
  passEnv?: string[];
  /** secret values replaced with *** in every text output of a cell; default: the secret-looking
   * variables of process.env; false: nothing is redacted */
  redact?: RedactOptions | false;
  /** per-cell cap on each of stdout and stderr, bytes; default 1 MiB */
  maxOutputBytes?: number;
  /** an output image whose encoded bytes exceed this is not returned but reported in
   * `imageFailures`, bytes; default 64 MiB */
  maxImageBytes?: number;
  /** how the last expression's image is encoded: 'jpeg' as eval.py (default) or 'png' as the training tool */
  expressionImageFormat?: 'jpeg' | 'png';
  /** also return images of failed/exited cells in `images` (the seed drops them); default false */
  keepImagesOnFailure?: boolean;
  /** time for a kernel to start and load the prelude, ms; default 60000 */
  startTimeoutMs?: number;
  /** after an interrupt (timeout/cancel), how long to wait for the kernel to be idle before
   * killing and restarting it, ms; default 3000 */
  interruptGraceMs?: number;
  /** heartbeat period, ms; default 1000; 0 disables heartbeat checks */
  heartbeatIntervalMs?: number;
  /** heartbeat silence after which the kernel is declared hung, killed and restarted, ms; default 10000 */
  heartbeatTimeoutMs?: number;
}

export interface KernelSessionOptions extends KernelTuning {
  python: string;
  /** root under which the session's working folder is made; default os.tmpdir() */
  workRoot?: string;
  /** extra environment for the kernel process (on top of the allow-listed host variables) */
  env?: Record<string, string>;
}

export interface KernelPoolOptions extends KernelTuning {
  python: string;
  /** kernels kept started and waiting; default 1 */
  size?: number;
  /**
   * release() resets a finished session in place (new namespace and working folder, same
   * process) instead of shutting it down, so the next acquire() costs milliseconds, not a
   * kernel start. Variables, files and figures never carry over; imported modules do (and any
   * module-level state the code changed). Default false (every question a new process).
   */
  recycle?: boolean;
  /** a recycle not finished after this many ms is given up and the session shut down (default 5000) */
  recycleGiveUpMs?: number;
  /** with recycle: how many sessions may wait at most (recycled first, then fresh); default and minimum: size */
  maxIdle?: number;
  /** root under which per-session working folders are made; default os.tmpdir() */
  workRoot?: string;
  env?: Record<string, string>;
}
