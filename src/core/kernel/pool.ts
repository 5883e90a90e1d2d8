/**
 * `KernelPool`: keeps `size` sessions started and waiting (prelude loaded, each with its own
 * fresh working folder), so that a question's first cell does not wait for a kernel start.
 * `acquire()` hands over a waiting session at once (or waits for the next one to be ready) and
 * starts a replacement in the background. A session belongs to the caller after acquire: the
 * caller disposes it (`release()` does the same). No session is ever given to a second caller. `dispose()` shuts down the sessions
 * that are waiting, never one that was handed out: its holder may be running a cell in it (an
 * interpreter change retires the pool, not the conversations' kernels).
 */
import { KernelSessionError } from './errors';
import { JupyterKernelSession } from './session';
import type { KernelPoolOptions } from './types';

interface Slot {
  ready: Promise<JupyterKernelSession>;
  /** set once ready resolved */
  session?: JupyterKernelSession;
}

export class KernelPool {
  private readonly size: number;
  private readonly waiting: Slot[] = [];
  private disposed = false;
  /** the last background start failure, reported by the next acquire that has to wait */
  private lastError: Error | undefined;
  /** counters for diagnostics and tests */
  readonly stats = { started: 0, acquired: 0, acquiredWarm: 0, startFailures: 0 };

  constructor(private readonly opts: KernelPoolOptions) {
    this.size = Math.max(0, Math.floor(opts.size ?? 1));
    this.fill();
  }

  private startOne(): Slot {
    this.stats.started++;
    const slot: Slot = {
      ready: JupyterKernelSession.start({ ...this.opts }).then(
        async (s) => {
          if (this.disposed) {
            await s.dispose();
            throw new KernelSessionError({ reason: 'the kernel pool was disposed', fix: 'create a new KernelPool' });
          }
          slot.session = s;
          return s;
        },
        (e: Error) => {
          this.stats.startFailures++;
          this.lastError = e;
          throw e;
        },
      ),
    };
    slot.ready.catch(() => undefined); // failures surface through acquire()
    return slot;
  }

  private fill(): void {
    if (this.disposed) return;
    while (this.waiting.length < this.size) {
      const slot = this.startOne();
      this.waiting.push(slot);
      // a failed background start leaves the pool: the next acquire starts afresh
      slot.ready.catch(() => {
        const i = this.waiting.indexOf(slot);
        if (i >= 0) this.waiting.splice(i, 1);
      });
    }
  }

  /** Number of sessions started and waiting right now. */
  get warmCount(): number {
    return this.waiting.filter((s) => s.session && s.session.state === 'idle').length;
  }

  /** Resolves when every waiting slot has finished starting (successfully or not). */
  async warm(): Promise<void> {
    await Promise.all(this.waiting.map((s) => s.ready.catch(() => undefined))); // failures surface through acquire() and stats
  }

  /**
   * A started session, for the caller to own. Instant when one is waiting; otherwise waits for
   * the earliest one starting (or starts one). A replacement starts in the background.
   */
  async acquire(): Promise<JupyterKernelSession> {
    if (this.disposed) throw new KernelSessionError({ reason: 'the kernel pool was disposed', fix: 'create a new KernelPool' });
    this.stats.acquired++;
    // prefer one that is ready and alive
    let idx = this.waiting.findIndex((s) => s.session && s.session.state === 'idle');
    if (idx >= 0) this.stats.acquiredWarm++;
    if (idx < 0) idx = this.waiting.findIndex((s) => !s.session || s.session.state !== 'disposed');
    const slot = idx >= 0 ? this.waiting.splice(idx, 1)[0] : this.startOne();
    this.fill();
    let s: JupyterKernelSession;
    try {
      s = await slot.ready;
    } catch (e) {
      // the background start failed: one more try in the foreground, for a clear error
      if (this.disposed) throw e;
      s = await this.startOne().ready;
    }
    return s;
  }

  /**
   * Gives a session back when its question is done: it is shut down and its folders deleted.
   * A kernel is never handed to a second question: whatever the first one's code changed in the
   * process (a patched module, a thread, a file in its home) must not reach the next one, and no
   * reset in place can promise that (issue #21: a patched `Image.crop` reached later samples).
   * Never throws.
   */
  async release(session: JupyterKernelSession): Promise<void> {
    // the question's result was taken before; a kernel that fails to stop is still killed when this process exits
    await session.dispose().catch(() => undefined);
  }

  /**
   * Shuts down the sessions waiting (and those starting, as they become ready); a session given
   * back later with release() is disposed. Handed-out sessions are their holders' to dispose.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const slots = this.waiting.splice(0);
    await Promise.all(
      slots.map((s) =>
        s.ready.then(
          (x) => x.dispose(),
          () => undefined,
        ),
      ),
    );
  }

  /** the error of the last failed background start, if any */
  get lastStartError(): Error | undefined {
    return this.lastError;
  }
}
