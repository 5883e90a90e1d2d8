/**
 * Kernel layer contracts. A `KernelSession` is one question's persistent Python namespace
 * in a real Jupyter kernel (ipykernel over ZeroMQ), with its own working folder.
 * No `vscode` import anywhere under src/core.
 */

import type { ImageMime } from '../images/sniffImageMime';
import type { FastPathReport } from './fastPaths';
import type { SandboxMode } from './sandbox';

/** An image the executed code produced (plt.show(), Image.show(), display(), last expression). */
export interface OutputImage {
  /** PNG or JPEG from the kernel; a replayed record's image (a dataset row's) may be any ImageMime */
  mime: ImageMime;
  /** base64, no data: prefix */
  data: string;
  /** where it came from, in the seed's order: last expression first, then plt figures, then .show(); `tool`: a format's own tool (a DeepEyes crop) */
  source: 'expression' | 'figure' | 'show' | 'display' | 'tool';
  width?: number;
  height?: number;
  /**
   * The size the code made it, when it was over the model's pixel budget and the kernel made it
   * smaller (Qwen's smart resize, as the seed prepares input images; figures are rendered at a
   * lower dpi). The model is not told, as the seed does not tell it about its input images.
   */
  resizedFrom?: { width: number; height: number };
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
   * Images the code made past the per-cell limit (`maxImagesPerCell`): the kernel neither encoded
   * nor sent them, and a note at the end of `stdout` says how many ("[N more images …]").
   * Absent when there were none.
   */
  omittedImages?: number;
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
export type ExecutionOutputEvent = { kind: 'stream'; name: 'stdout' | 'stderr'; text: string } | { kind: 'image'; image: OutputImage };

export interface ExecuteOptions {
  /** per-cell timeout, ms; default 30000 like the seed's eval */
  timeoutMs?: number;
  /** per-cell cap on each of stdout and stderr, bytes; default: the session's (1 MiB) */
  maxOutputBytes?: number;
  /** images this cell may return; default: the session's `maxImagesPerCell` (16) */
  maxImages?: number;
  signal?: AbortSignal;
  onOutput?: (ev: ExecutionOutputEvent) => void;
  /**
   * Run this tool of a format instead of `code` (which is then only a label): the same cell, with
   * its limits, output, errors and images, as the format's repository runs the tool.
   */
  tool?: KernelTool | KernelSandbox;
}

/**
 * A format's own tool, run in the kernel by the prelude (inputs.py), never as model text:
 * - `deepeyes-zoom`: DeepEyes' eval/eval_vstar.py crop of the ORIGINAL first input image (as its
 *   file's bytes were given) to `bbox`, smart-resized (bicubic), returned as one PNG image
 *   (source `tool`). `bbox` is the literal the model wrote for `bbox_2d` (already checked to be a
 *   Python literal); the prelude reads it with `ast.literal_eval`, so it gets the same value
 *   eval() gave the repository, and a bad box fails the way it did there.
 */
export type KernelTool = { kind: 'deepeyes-zoom'; bbox: string };

/**
 * A format's own sandbox for the cell's code (the model's, approved like any), in the kernel:
 * - `thyme`: yfzhang114/Thyme's (prelude thyme.py): the code rewritten as that sandbox rewrites
 *   it, run with its builtins in the context of the run's `generation`; its images (else what it
 *   printed) are the cell's output, and a run that gives neither fails the cell. `imagePath`:
 *   where the question's first image file is put for the code ('' without one).
 */
export type KernelSandbox = { kind: 'thyme'; run: string; generation: number; imagePath: string };

/** How the question's image is prepared for the model and saved for the code. */
export interface PrepareImageOptions {
  /**
   * 'qwen-smart' = the seed's smart resize (multiples of 28, pixels in [min,max]); 'none' = RGB only;
   * 'original' = as 'none' in the kernel, and the model is sent the image file's own bytes (the
   * agent loop does that; DeepEyes' eval sends the file as it is)
   */
  resize: 'qwen-smart' | 'none' | 'original';
  minPixels?: number; // default 4*28*28
  maxPixels?: number; // default 16384*28*28
  /** a format's own names in the code's namespace, bound with the images (and again after a restart) */
  namespace?: FormatNamespace;
  /**
   * false: bind the images for the code only, the model's PNG being made elsewhere (a lazy
   * session's, eval/imagePreparer.ts): no PNG is encoded (seconds for an 8K photo) and each
   * PreparedImage's `pngBase64` is empty. Default true.
   */
  modelImage?: boolean;
}

/**
 * Names a format's repository gives its code besides ours (PyVision's ImageRuntime): `modules`
 * (name → module, imported), then each input image, as a plain RGB copy of `input_images[i]`
 * (`convert('RGB')`), as `imageName` with `{i}` its 0-based index, e.g. `image_clue_{i}`.
 * Plain data, never code.
 */
export interface FormatNamespace {
  modules?: Readonly<Record<string, string>>;
  imageName?: string;
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
/** Which secrets a session redacts from every text a cell produces (redactOutput.ts). */
export interface RedactOptions {
  /** further secret values (an API key from a settings store, a judge key, a token) */
  values?: string[];
  /** also the secret values of this environment (default process.env; false: none) */
  env?: Record<string, string | undefined> | false;
}

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
  /** sandboxed kernels start as forks of a template process that has imported the prelude's
   * libraries (kernel/forkTemplate.ts): ~0.15 s and ~20 MB each instead of ~1 s and ~80 MB; the
   * same sandbox, limits and environment. Default true (CODEDANCE_KERNEL_FORKED_STARTS=0: false) */
  forkedStarts?: boolean;
  /** secret values replaced with *** in every text output of a cell; default: the secrets of
   * process.env and of the process (core/secrets), URL credentials; false: nothing is redacted */
  redact?: RedactOptions | false;
  /** per-cell cap on each of stdout and stderr, bytes; default 1 MiB */
  maxOutputBytes?: number;
  /** an output image whose encoded bytes exceed this is not returned but reported in
   * `imageFailures`, bytes; default 64 MiB */
  maxImageBytes?: number;
  /** images one cell may return (figures, show(), display(), the last expression, failed ones
   * included); the kernel drops the rest before encoding them, and the cell's stdout says how
   * many; default 16 (DEFAULT_MAX_IMAGES_PER_CELL); 0: no limit. Output images are also kept
   * within the model's pixel budget: the min/max pixels of the input images' preparation
   * (`PrepareImageOptions`), else the seed's [4·28·28, 16384·28·28] */
  maxImagesPerCell?: number;
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
  /** use the kernel's fast paths (fastPaths.ts: each only with the package versions it was
   * tested with, after a self-check); default true; false, or CODEDANCE_KERNEL_FAST_PATHS=0:
   * the plain path everywhere */
  fastPaths?: boolean;
  /** told, each time a kernel's prelude is loaded, which fast paths are on and why the others
   * are off (for the kernel log: `describeFastPaths`) */
  onFastPaths?: (report: FastPathReport) => void;
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
   * kernel starts that may run at once (startGate.ts); absent: the machine's one line of starts,
   * one per core, shared by every pool of this process; n: a line of this pool's own; 0: no
   * pacing (every start at once)
   */
  maxConcurrentStarts?: number;
  /** root under which per-session working folders are made; default os.tmpdir() */
  workRoot?: string;
  env?: Record<string, string>;
}
