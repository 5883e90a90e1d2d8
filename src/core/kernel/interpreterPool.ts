/**
 * `InterpreterPool`: kernels for an editor, on the interpreter the editor chooses: resolves it once
 * (cached until `invalidate()`), keeps a `KernelPool` on it with a kernel started ahead, and
 * swaps the pool when the interpreter changes. A swap retires only the waiting kernels: a kernel
 * already handed out belongs to its holder, which may be running a cell in it; the holder retires
 * it when its run is over (ConversationSession.retireKernel) and its next acquire() gets a
 * kernel of the new interpreter.
 */
import { KernelSessionError } from './errors';
import { KernelPool } from './pool';
import type { ResolvedPython } from './python';
import type { JupyterKernelSession } from './session';
import type { KernelPoolOptions } from './types';

export interface InterpreterPoolOptions extends Omit<KernelPoolOptions, 'python'> {
  /** which interpreter to use now (called again after invalidate()) */
  resolve: () => Promise<ResolvedPython>;
  /** settings read when a pool is made (sandbox, network, memory limit…); after a change, invalidate() */
  tuning?: () => Omit<KernelPoolOptions, 'python'>;
}

export class InterpreterPool {
  private resolved?: Promise<ResolvedPython>;
  private pool?: KernelPool;
  private poolPython?: string;
  private disposed = false;

  constructor(private readonly opts: InterpreterPoolOptions) {}

  /** The interpreter, resolved once (until invalidate()); a failure is not cached. */
  python(): Promise<ResolvedPython> {
    if (!this.resolved) {
      const r = this.opts.resolve();
      this.resolved = r;
      r.catch(() => {
        if (this.resolved === r) this.resolved = undefined;
      });
    }
    return this.resolved;
  }

  /** The interpreter may have changed: resolve it again, and retire the pool's waiting kernels. */
  invalidate(): void {
    this.resolved = undefined;
    void this.pool?.dispose();
    this.pool = undefined;
    this.poolPython = undefined;
  }

  /** A started kernel on the current interpreter; the caller owns (disposes) it. */
  async acquire(): Promise<{ session: JupyterKernelSession; pool: KernelPool }> {
    const pool = await this.ensurePool();
    return { session: await pool.acquire(), pool };
  }

  /** Starts the pool (and its kernel ahead) on the current interpreter. */
  async ensurePool(): Promise<KernelPool> {
    if (this.disposed) throw new KernelSessionError({ reason: 'the interpreter pool was disposed', fix: 'create a new InterpreterPool' });
    const py = await this.python();
    if (this.pool && this.poolPython === py.python) return this.pool;
    void this.pool?.dispose();
    const { resolve: _resolve, tuning: current, ...tuning } = this.opts;
    this.poolPython = py.python;
    this.pool = new KernelPool({ ...tuning, ...current?.(), python: py.python });
    return this.pool;
  }

  /** Shuts down the waiting kernels; handed-out ones stay their holders'. */
  async dispose(): Promise<void> {
    this.disposed = true;
    const pool = this.pool;
    this.pool = undefined;
    await pool?.dispose();
  }
}
