/**
 * What the local (session.ts) and the remote (remote/session.ts) kernel sessions share: the
 * state and its listeners, the queue that runs calls one at a time, the disposed check, the wait
 * for a ready kernel, and the start and end of a cell (limits, early cancel, collector, result
 * classification with redaction). Each session keeps its own kernel life (start, death, inputs).
 */
import { cancelledResult, type CellOutcome, classifyCell } from './classify';
import { CellCollector } from './collector';
import { KernelSessionError } from './errors';
import { redactingListener, redactResult, sessionSecrets } from './redactOutput';
import type { SecretSet } from '../secrets';
import type { ExecuteOptions, ExecutionResult, KernelSandbox, KernelState, KernelTool, KernelTuning } from './types';

export const DEFAULT_TIMEOUT_MS = 30000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/** an encoded output image over this is reported, not sent (no model takes one this large) */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;
/** images one cell returns at most (the prelude's DEFAULT_MAX_IMAGES is the same) */
export const DEFAULT_MAX_IMAGES_PER_CELL = 16;
export const DEFAULT_START_TIMEOUT_MS = 60000;
export const DEFAULT_INTERRUPT_GRACE_MS = 3000;

export const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** how a cell ended (request.ts / remote/connection.ts) */
export interface CellRun {
  outcome: CellOutcome;
  interruptReason?: 'timeout' | 'cancelled';
  durationMs: number;
}

type SessionTuning = Pick<KernelTuning, 'redact' | 'maxOutputBytes' | 'interruptGraceMs' | 'keepImagesOnFailure' | 'maxImagesPerCell'>;

/** a cell about to run: its limits and the collector of its messages */
export interface OpenCell {
  timeoutMs: number;
  maxOutputBytes: number;
  /** images the cell may return (0: no limit) */
  maxImages: number;
  graceMs: number;
  col: CellCollector;
  /** run this tool instead of the code (ExecuteOptions.tool) */
  tool?: KernelTool | KernelSandbox;
}

/** The code of an execute_request that runs `code` as a cell of the prelude, with the cell's limits. */
export function cellRequest(code: string, cell: Pick<OpenCell, 'maxOutputBytes' | 'maxImages' | 'tool'>): string {
  return `_codedance_run("${b64(JSON.stringify({ code, maxOutputBytes: cell.maxOutputBytes, maxImages: cell.maxImages, ...(cell.tool ? { tool: cell.tool } : {}) }))}")`;
}

export abstract class KernelSessionBase {
  abstract readonly id: string;
  protected _state: KernelState = 'starting';
  private readonly listeners = new Set<(s: KernelState) => void>();
  protected queue: Promise<unknown> = Promise.resolve();
  protected running: { interrupt: (reason: 'timeout' | 'cancelled') => void } | undefined;
  protected starting: Promise<void> | undefined;
  protected lastStartError: Error | undefined;
  protected disposed = false;
  /** the secrets replaced in every text a cell produces (undefined: redaction turned off) */
  protected readonly secrets: SecretSet | undefined;

  constructor(
    private readonly tuning: SessionTuning,
    /** what to do with a disposed session (the error's fix) */
    private readonly disposedFix: string,
  ) {
    this.secrets = sessionSecrets(tuning.redact);
  }

  get state(): KernelState {
    return this._state;
  }

  onStateChange(listener: (s: KernelState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected setState(s: KernelState): void {
    if (this._state === s || this._state === 'disposed') return;
    this._state = s;
    for (const l of [...this.listeners]) {
      try {
        l(s);
      } catch {
        // isolation: the state is already set; one listener's failure must not keep it from the others
      }
    }
  }

  protected enqueue<T>(op: () => Promise<T>): Promise<T> {
    const p = this.queue.then(op, op);
    this.queue = p.catch(() => undefined); // the caller gets the failure through `p`; the queue goes on
    return p;
  }

  protected assertUsable(): void {
    if (this.disposed) throw new KernelSessionError({ reason: `kernel session ${this.id} was disposed`, fix: this.disposedFix });
  }

  /** a live kernel is there (set by the subclass when a start succeeds) */
  protected abstract hasKernel(): boolean;
  /** starts a kernel: sets `starting`, and `lastStartError` when it fails */
  protected abstract beginStart(): void;
  protected abstract runCell(code: string, opts: ExecuteOptions): Promise<ExecutionResult>;

  /**
   * Follows a start with the session's state: `starting`, then idle/busy when `work` (which puts
   * the kernel in place) resolves, or `dead` with `lastStartError` when it rejects.
   */
  protected trackStart(work: Promise<void>, onFailure?: () => void): void {
    this.setState('starting');
    this.starting = work
      .then(() => {
        this.lastStartError = undefined;
        this.setState(this.running ? 'busy' : 'idle');
      })
      .catch((e: Error) => {
        onFailure?.();
        this.lastStartError = e;
        this.setState(this.disposed ? 'disposed' : 'dead');
      })
      .finally(() => {
        this.starting = undefined;
      });
  }

  /** Waits for a started kernel, starting one if none is starting; throws the start's error. */
  protected async waitForKernel(): Promise<void> {
    while (!this.hasKernel()) {
      if (!this.starting) this.beginStart();
      await this.starting;
      this.assertUsable();
      if (!this.hasKernel() && this.lastStartError) throw this.lastStartError;
    }
  }

  abstract ensureReady(): Promise<void>;
  abstract dispose(): Promise<void>;

  /** Waits until a new session's kernel is ready (prelude loaded); disposes it when that fails. */
  protected static async whenReady<S extends KernelSessionBase>(s: S): Promise<S> {
    try {
      await s.ensureReady();
    } catch (e) {
      await s.dispose();
      throw e;
    }
    return s;
  }

  execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    return this.enqueue(() => this.runCell(code, opts));
  }

  async interrupt(): Promise<void> {
    this.running?.interrupt('cancelled');
  }

  /** The start of a cell: its limits, a cancel before it starts, a ready kernel, then 'busy'. */
  protected async openCell(opts: ExecuteOptions): Promise<OpenCell | ExecutionResult> {
    this.assertUsable();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxOutputBytes = opts.maxOutputBytes ?? this.tuning.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    const maxImages = opts.maxImages ?? this.tuning.maxImagesPerCell ?? DEFAULT_MAX_IMAGES_PER_CELL;
    if (opts.signal?.aborted) return cancelledResult(0, 'the cell was cancelled before it started');
    await this.ensureReady();
    if (opts.signal?.aborted) return cancelledResult(0, 'the cell was cancelled before it started');
    const graceMs = this.tuning.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS;
    return {
      timeoutMs,
      maxOutputBytes,
      maxImages,
      graceMs,
      col: new CellCollector(maxOutputBytes, redactingListener(opts.onOutput, this.secrets), maxImages),
      ...(opts.tool ? { tool: opts.tool } : {}),
    };
  }

  /** The end of a cell: its result, with secrets redacted (they never leave the kernel layer). */
  protected closeCell(cell: OpenCell, run: CellRun): ExecutionResult {
    const result = classifyCell(cell.col, run.outcome, {
      timeoutMs: cell.timeoutMs,
      graceMs: cell.graceMs,
      interruptReason: run.interruptReason,
      durationMs: run.durationMs,
      keepImagesOnFailure: this.tuning.keepImagesOnFailure,
    });
    return redactResult(result, this.secrets);
  }

  /** The end of dispose: waits for a start and the queue, cleans up, then says 'disposed' once. */
  protected async settleDisposed(cleanUp?: () => void | Promise<void>): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined); // a failed start was reported to its caller
    await this.queue.catch(() => undefined); // so was a failed cell: dispose only waits for them
    await cleanUp?.();
    this._state = 'disposed';
    for (const l of [...this.listeners]) {
      try {
        l('disposed');
      } catch {
        // isolation: every listener hears 'disposed', whatever one of them does with it
      }
    }
    this.listeners.clear();
  }
}
