/**
 * `NotebookKernelSession`: a `KernelSession` whose code runs in the kernel of a notebook the
 * user has open, through the Jupyter extension's public API (`Kernel.executeCode`, api.ts). The
 * model's cells run in the notebook's own namespace, next to the user's variables (the prelude's
 * notebook mode: no Agg switch, no memory limit, IPython's usual execute path); the same prelude,
 * result classification and redaction as the other kernels.
 *
 * The kernel is the user's: this session never starts, restarts or shuts it down. Its working
 * folder is made by the kernel on its own machine (the notebook's cwd is left as it is), input
 * images travel as bytes, output images come back as display data. A restart of the kernel (by
 * the user, or after a death) loses the prelude and the inputs: they are loaded again before the
 * next cell, whose result says `restarted`. A cell that does not stop after the interrupt is
 * given up on (the kernel may still be running it; only the user restarts it).
 */
import { randomUUID } from 'node:crypto';
import { cancelError, timeoutError } from '../classify';
import { KernelSessionError } from '../errors';
import type { RequestOutcome } from '../request';
import {
  cellRequest,
  DEFAULT_MAX_IMAGE_BYTES,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_START_TIMEOUT_MS,
  KernelSessionBase,
} from '../sessionBase';
import type { ExecuteOptions, ExecutionResult, KernelSession, KernelTuning, PreparedImage, PrepareImageOptions } from '../types';
import { bindRemoteInputs, loadRemotePrelude, removeRemoteFolders, type SetupContext, setUpRemoteFolders } from '../remote/setup';
import type { CancellationSourceLike, NotebookKernelLike } from './api';
import { LOST_STATUSES, notebookExecute } from './execute';

export interface NotebookKernelSessionOptions<T> extends Pick<
  KernelTuning,
  'redact' | 'maxOutputBytes' | 'maxImageBytes' | 'expressionImageFormat' | 'keepImagesOnFailure' | 'startTimeoutMs' | 'interruptGraceMs'
> {
  kernel: NotebookKernelLike<T>;
  /** the notebook in words (its file name), for the conversation and errors */
  notebook: string;
  /** how a user picks another kernel, said after each fix (the adapter words it: a command, a flag) */
  otherwise?: string;
  /** a new cancellation source (the editor's CancellationTokenSource) */
  cancellation: () => CancellationSourceLike<T>;
}

export class NotebookKernelSession<T> extends KernelSessionBase implements KernelSession {
  readonly id = randomUUID();
  private folders: { workdir: string; runtimeDir: string } | undefined;
  private inputs: { images: Uint8Array[]; opts: PrepareImageOptions } | undefined;
  /** the prelude is loaded in the kernel's current life */
  private ready = false;
  /** the kernel restarted since the last cell: the next result says so */
  private restartedSince = false;
  private readonly unwatch: () => void;

  constructor(private readonly opts: NotebookKernelSessionOptions<T>) {
    super(opts, 'start a new conversation');
    const sub = opts.kernel.onDidChangeStatus((s) => {
      if (!LOST_STATUSES.includes(s) || !this.ready) return;
      this.ready = false;
      this.restartedSince = true;
      this.setState('dead');
    });
    this.unwatch = () => sub.dispose();
  }

  /** Creates a session and waits until the notebook's kernel has the prelude. */
  static async start<T>(opts: NotebookKernelSessionOptions<T>): Promise<NotebookKernelSession<T>> {
    return KernelSessionBase.whenReady(new NotebookKernelSession(opts));
  }

  get workdir(): string {
    return this.folders?.workdir ?? '';
  }

  /** what runs the code, as the conversation says it */
  get python(): string {
    return `the kernel of ${this.opts.notebook}`;
  }

  get where(): string {
    return this.python;
  }

  private get startTimeoutMs(): number {
    return this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  }

  private get otherwise(): string {
    return this.opts.otherwise ?? 'choose another kernel';
  }

  private context(): SetupContext {
    return {
      exec: (code, onMessage, timeoutMs) =>
        notebookExecute(this.opts.kernel, code, {
          onMessage,
          timeoutMs,
          cancellation: this.opts.cancellation,
          notebook: this.opts.notebook,
          otherwise: this.otherwise,
        }),
      where: `the kernel of ${this.opts.notebook}`,
      label: `kernel of ${this.opts.notebook}`,
      otherwise: this.otherwise,
      startTimeoutMs: this.startTimeoutMs,
      chdir: false,
    };
  }

  async ensureReady(): Promise<void> {
    this.assertUsable();
    await this.waitForKernel();
  }

  protected hasKernel(): boolean {
    return this.ready;
  }

  protected beginStart(): void {
    this.trackStart(this.setUp().then(() => void (this.ready = true)));
  }

  /** working folder, package check, prelude in notebook mode, and the inputs again after a restart */
  private async setUp(): Promise<void> {
    const status = this.opts.kernel.status;
    if (status === 'dead' || status === 'terminating') {
      throw new KernelSessionError({
        reason: `the kernel of ${this.opts.notebook} is ${status}`,
        fix: `restart it from the notebook (its variables are lost), or ${this.otherwise}`,
        retryable: true,
      });
    }
    const ctx = this.context();
    const made = await setUpRemoteFolders(ctx, this.folders);
    this.folders = { workdir: made.workdir, runtimeDir: made.runtimeDir };
    this.assertUsable();
    await loadRemotePrelude(ctx, {
      workdir: this.folders.workdir,
      memoryLimitMb: null,
      maxOutputBytes: this.opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      expressionImageFormat: this.opts.expressionImageFormat ?? 'jpeg',
      orphanCleanup: [],
      maxImageBytes: this.opts.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
      hookExecute: false,
      notebook: true,
      binaryImages: false,
    });
    if (this.inputs) await bindRemoteInputs(ctx, this.folders.runtimeDir, this.inputs.images, this.inputs.opts);
    this.assertUsable();
  }

  setInputImages(images: Uint8Array[], opts: PrepareImageOptions): Promise<PreparedImage[]> {
    return this.enqueue(async () => {
      await this.ensureReady();
      this.setState('busy');
      try {
        const prepared = await bindRemoteInputs(this.context(), this.folders!.runtimeDir, images, opts);
        this.inputs = { images: images.map((i) => Uint8Array.from(i)), opts };
        return prepared;
      } finally {
        if (this.ready) this.setState('idle');
      }
    });
  }

  protected async runCell(code: string, opts: ExecuteOptions): Promise<ExecutionResult> {
    const restarted = this.restartedSince;
    const first = await this.runOnce(code, opts);
    // the prelude is gone although no restart was seen (e.g. %reset in the notebook): load it again, once
    const lostPrelude = first.status === 'error' && first.error?.ename === 'NameError' && /_codedance_run/.test(first.error.evalue);
    if (!lostPrelude) return this.mark(first, restarted);
    this.ready = false;
    return this.mark(await this.runOnce(code, opts), true);
  }

  private mark(r: ExecutionResult, restarted: boolean): ExecutionResult {
    this.restartedSince = false;
    return restarted && !r.restarted ? { ...r, restarted: true } : r;
  }

  private async runOnce(code: string, opts: ExecuteOptions): Promise<ExecutionResult> {
    const open = await this.openCell(opts);
    if (!('col' in open)) return open;
    const { timeoutMs, graceMs, col } = open;
    this.setState('busy');
    const t0 = performance.now();
    let interruptReason: 'timeout' | 'cancelled' | undefined;
    let cancel: () => void = () => undefined;
    let giveUp!: (o: 'gave-up') => void;
    const gaveUp = new Promise<'gave-up'>((r) => (giveUp = r));
    let graceTimer: NodeJS.Timeout | undefined;
    const interrupt = (reason: 'timeout' | 'cancelled') => {
      if (interruptReason) return;
      interruptReason = reason;
      cancel(); // the Jupyter extension interrupts the kernel
      graceTimer = setTimeout(() => giveUp('gave-up'), graceMs);
    };
    const timer = setTimeout(() => interrupt('timeout'), timeoutMs);
    const onAbort = () => interrupt('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    this.running = { interrupt };
    let outcome: RequestOutcome | 'gave-up';
    try {
      const payload = cellRequest(code, open);
      const run = notebookExecute(this.opts.kernel, payload, {
        onMessage: (m) => col.handle(m),
        cancellation: this.opts.cancellation,
        notebook: this.opts.notebook,
        otherwise: this.otherwise,
        onStart: (c) => (cancel = c),
      });
      run.catch(() => undefined); // its failure still arrives through the race below unless the cell was already given up
      outcome = await Promise.race([run, gaveUp]);
    } finally {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      this.running = undefined;
      if (this.ready) this.setState('idle');
    }
    const durationMs = performance.now() - t0;
    if (outcome === 'gave-up') {
      col.finish();
      const err = interruptReason === 'timeout' ? timeoutError(timeoutMs) : cancelError('the cell was cancelled');
      err.traceback = [
        `the kernel of ${this.opts.notebook} did not stop within ${graceMs / 1000} s of the interrupt; CodeDance does not restart a notebook's kernel, so it may still be running this cell (interrupt or restart it from the notebook)`,
      ];
      return { status: interruptReason ?? 'timeout', stdout: col.stdout, stderr: col.stderr, images: [], error: err, durationMs };
    }
    if (outcome.kind === 'timeout')
      throw new KernelSessionError({ reason: 'unreachable: a cell has no request timeout', fix: 'report this as a bug' });
    if (outcome.kind === 'exited') {
      this.ready = false;
      this.restartedSince = false;
      col.finish();
      const error = {
        ename: 'KernelDied',
        evalue: `${outcome.info.description} while the cell ran: every variable, import and figure from earlier cells is gone (the notebook's too)`,
        traceback: [],
      };
      return {
        status: 'died',
        stdout: col.stdout,
        stderr: col.stderr,
        images: [],
        ...(col.orderedImages().length ? { droppedImages: col.orderedImages() } : {}),
        error,
        durationMs,
        restarted: true,
      };
    }
    return this.closeCell(open, { outcome, interruptReason, durationMs });
  }

  /** Removes the working folder on the kernel's machine; the kernel and its variables stay the notebook's. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.running?.interrupt('cancelled');
    await this.settleDisposed(() => this.unwatch());
    // a working folder left on the kernel's machine holds only scratch files of finished cells
    if (this.ready && this.folders) await removeRemoteFolders(this.context(), this.folders).catch(() => undefined);
    this.ready = false;
  }
}

/** Starts a session in a notebook's kernel and waits until the prelude is loaded there. */
export function startNotebookKernelSession<T>(opts: NotebookKernelSessionOptions<T>): Promise<NotebookKernelSession<T>> {
  return NotebookKernelSession.start(opts);
}
