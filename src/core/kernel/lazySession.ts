/**
 * `LazyKernelSession`: a question's kernel session that takes its kernel only when the first
 * cell is about to run. A question answered without code (the model answers at once, or a
 * DeepEyes reply without a crop) never takes one, and a kernel is not held idle while the model
 * thinks about its first reply.
 *
 * The model's first request needs the question's images as prepared for it (resized, as PNG):
 * `prepareImages` makes them without a kernel (eval/imagePreparer.ts: the prelude's own code in
 * a sandboxed Pillow process that never runs the model's code). The images are bound in the
 * kernel when it is taken, before its first cell; the kernel prepares them again there with the
 * same code, so `input_image` and `input_image.jpg` are what they were before (without encoding
 * the model's PNG a second time: `modelImage: false`).
 *
 * The kernel is the caller's (`acquire`, e.g. a KernelPool's, one kernel per question, never
 * reused); `dispose()` gives it back (`release`). Cells still run one at a time in that kernel.
 */
import { randomUUID } from 'node:crypto';
import { KernelSessionError } from './errors';
import type { ExecuteOptions, ExecutionResult, KernelSession, KernelState, PreparedImage, PrepareImageOptions } from './types';

export interface LazyKernelOptions {
  /** the interpreter its kernel will run (for the trajectory, before there is a kernel) */
  python: string;
  /** where the code runs, when not a local kernel */
  where?: string;
  /** a started kernel of the question's own; `signal`: the question was cancelled meanwhile */
  acquire: (signal?: AbortSignal) => Promise<KernelSession>;
  /** gives the kernel back when the question is done (shuts it down) */
  release: (kernel: KernelSession) => Promise<void>;
  /**
   * the question's images as the model is sent them, without a kernel; undefined: not possible
   * here (setInputImages then takes the kernel and prepares them there, as does a session without it)
   */
  prepareImages?: (images: Uint8Array[], opts: PrepareImageOptions) => Promise<PreparedImage[] | undefined>;
}

export class LazyKernelSession implements KernelSession {
  readonly id = randomUUID();
  readonly python: string;
  readonly where?: string;
  private kernel: KernelSession | undefined;
  private taking: Promise<KernelSession> | undefined;
  /** images set before there was a kernel: bound in it when it is taken (`prepared`: the model's PNGs were made without it) */
  private inputs: { images: Uint8Array[]; opts: PrepareImageOptions; prepared?: boolean } | undefined;
  private current: KernelState = 'idle';
  private readonly listeners = new Set<(s: KernelState) => void>();
  private unsubscribe: (() => void) | undefined;
  private disposed = false;
  /** ms the question waited for its kernel (taken, images bound); 0 when it never took one */
  waitMs = 0;

  constructor(private readonly o: LazyKernelOptions) {
    this.python = o.python;
    if (o.where) this.where = o.where;
  }

  /** whether a kernel was taken */
  get acquired(): boolean {
    return this.kernel !== undefined;
  }

  /** the kernel's working folder; empty until a kernel is taken */
  get workdir(): string {
    return this.kernel?.workdir ?? '';
  }

  get state(): KernelState {
    return this.current;
  }

  onStateChange(listener: (s: KernelState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async setInputImages(images: Uint8Array[], opts: PrepareImageOptions): Promise<PreparedImage[]> {
    this.assertUsable();
    const prepared = this.kernel ? undefined : await this.o.prepareImages?.(images, opts);
    this.inputs = { images, opts, prepared: !!prepared };
    if (prepared) return prepared;
    const k = await this.take();
    return k.setInputImages(images, opts);
  }

  async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    const k = await this.take(opts.signal, true);
    return k.execute(code, opts);
  }

  async interrupt(): Promise<void> {
    await this.kernel?.interrupt();
  }

  /** gives the kernel back (if one was taken, or once the one being taken is there) */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.taking?.catch(() => undefined); // a kernel that came meanwhile was given back there
    this.unsubscribe?.();
    const k = this.kernel;
    this.kernel = undefined;
    this.setState('disposed');
    if (k) await this.o.release(k);
  }

  // -------------------------------------------------------------------------------------------

  private assertUsable(): void {
    if (this.disposed) throw new KernelSessionError({ reason: 'the session was disposed', fix: 'start a new question' });
  }

  private setState(s: KernelState): void {
    if (s === this.current) return;
    this.current = s;
    for (const l of [...this.listeners]) l(s);
  }

  /** the question's kernel, taken now if there is none (with the images set so far bound in it) */
  private take(signal?: AbortSignal, bind = false): Promise<KernelSession> {
    this.assertUsable();
    if (this.kernel) return Promise.resolve(this.kernel);
    this.taking ??= this.acquireAndBind(signal, bind).finally(() => (this.taking = undefined));
    return this.taking;
  }

  private async acquireAndBind(signal: AbortSignal | undefined, bind: boolean): Promise<KernelSession> {
    const t0 = performance.now();
    this.setState('starting');
    let k: KernelSession | undefined;
    try {
      k = await this.o.acquire(signal);
      // the model has its images already (prepareImages): the kernel binds them for the code only
      if (bind && this.inputs && !this.disposed)
        await k.setInputImages(this.inputs.images, this.inputs.prepared ? { ...this.inputs.opts, modelImage: false } : this.inputs.opts);
    } catch (e) {
      if (k) await this.o.release(k);
      if (!this.disposed) this.setState('idle');
      throw e;
    } finally {
      this.waitMs += performance.now() - t0;
    }
    if (this.disposed) {
      await this.o.release(k);
      throw new KernelSessionError({ reason: 'the session was disposed while its kernel started', fix: 'start a new question' });
    }
    this.kernel = k;
    this.unsubscribe = k.onStateChange((s) => this.setState(s));
    this.setState(k.state);
    return k;
  }
}
