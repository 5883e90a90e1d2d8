/**
 * What `runEval` is given (runner.ts) and what it reports while it runs: the options, the kernel
 * source each sample takes its session from, the progress. Apart from runner.ts so that
 * runSample.ts can name them without importing the runner that imports it.
 */
import type { ChatModel } from '../agent/model';
import type { CellHost } from '../kernel/sandboxNotice';
import type { KernelSession, KernelTuning, PreparedImage, PrepareImageOptions } from '../kernel/types';
import type { JudgeStyle } from '../reward/deepeyesJudge';
import type { Judge } from '../reward/types';
import type { MathChecker } from './mathCheck';
import type { ResultRecord } from './record';

export interface KernelSource {
  /** a started kernel for one sample; `signal`: the sample was cancelled while it waited (it leaves the line) */
  acquire(signal?: AbortSignal): Promise<KernelSession>;
  /** where its sessions run (recorded in the manifest); absent: not recorded */
  host?: CellHost;
  /** gives a finished sample's session back (KernelPool.release); absent = the session is disposed */
  release?(session: KernelSession): Promise<void>;
  dispose(): Promise<void>;
  /**
   * The question's images as the model is sent them, made without a kernel (imagePreparer.ts):
   * with it, a sample takes its kernel only when its first cell runs (kernel/lazySession.ts), and
   * one that answers without code takes none. Undefined: not possible now (the sample's kernel
   * prepares them, taken at once). Absent: every sample takes its kernel before its first model call.
   */
  prepareImages?(images: Uint8Array[], opts: PrepareImageOptions): Promise<PreparedImage[] | undefined>;
  /** the interpreter of its kernels (the trajectory names it before a kernel is taken); with prepareImages */
  python?: string;
}

export interface EvalOptions {
  dataPath: string;
  /** results go under `{saveDir}/{modelName}/` like the seed */
  saveDir: string;
  /** names the output files (the seed's --model_name) */
  modelName: string;
  /** the model sent with each request (the seed's --eval_model_name); resolved by the caller */
  evalModelName: string;
  /** the chat model (a ModelClient over the endpoints) */
  model: ChatModel;
  endpoints: string[];
  numWorkers: number;
  /** fallback data_source (the row's own value wins) */
  dataSource?: string;
  limit?: number;
  protocol?: string;
  maxTurns?: number;
  sampling?: { temperature?: number; top_p?: number; max_tokens?: number };
  /** per-cell timeout, ms (30000 like the seed) */
  cellTimeoutMs?: number;
  /** AgentOptions.maxObservationTokens: absent = 4096 estimated tokens, 0 = no limit */
  maxObservationTokens?: number;
  /** per-sample time limit, ms (default 600000) */
  sampleTimeoutMs?: number;
  /** whole-sample retries after an error (model endpoint down, kernel failed to start); default 1 */
  retries?: number;
  retryBaseDelayMs?: number;
  /** kernel sessions: a KernelPool over `python` unless given */
  python?: string;
  /** kernels started ahead (default: numWorkers, at most one per CPU: a kernel start is CPU-bound) */
  kernelPoolSize?: number;
  /** kernel starts at once (KernelPoolOptions.maxConcurrentStarts): absent one per CPU, shared by the process's pools; 0 no pacing */
  maxConcurrentKernelStarts?: number;
  /** where the pool's kernels run and their memory limit (see core/kernel/sandbox.ts) */
  kernelSandbox?: Pick<KernelTuning, 'sandbox' | 'network' | 'memoryLimitMb' | 'passEnv' | 'forkedStarts'>;
  kernels?: KernelSource;
  /** absent = no judge (normalized match) */
  judge?: Judge;
  /**
   * which judge scores the samples: the seed's (`compute_score` per data_source) or DeepEyes'
   * judge_result.py (reward/deepeyesJudge.ts); absent = the protocol's (`defaultJudgeStyle`:
   * DeepEyes' for the `deepeyes` protocol, else the seed's)
   */
  judgeStyle?: JudgeStyle;
  /** on resume, run again the samples that ended in an error (model endpoint down, timeout…) */
  retryErrors?: boolean;
  strictVerdict?: boolean;
  /** the math rows' symbolic check; default: the seed's math_verify in `python` when it imports there, else approximate */
  math?: MathChecker;
  signal?: AbortSignal;
  extensionVersion?: string;
  /** fsync each line (default true) */
  fsync?: boolean;
  onProgress?: (p: EvalProgress) => void;
  onSample?: (r: ResultRecord) => void;
  log?: (line: string) => void;
}

export interface EvalProgress {
  total: number;
  done: number;
  /** finished in earlier runs (resume) */
  resumed: number;
  correct: number;
  scored: number;
  errors: number;
  /** rows recorded as skipped (unreadable row, no answer, image does not load) */
  skipped: number;
  inFlight: number;
  /** samples per second over this run */
  rate: number;
  etaSeconds: number | undefined;
  elapsedSeconds: number;
}
