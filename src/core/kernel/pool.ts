/**
 * `KernelPool`: keeps `size` sessions started and waiting (prelude loaded, each with its own
 * fresh working folder), so that a question's first cell does not wait for a kernel start.
 * `acquire()` hands over a waiting session at once (or waits for the next one to be ready) and
 * starts a replacement in the background. A session belongs to the caller after acquire: the
 * caller disposes it (or gives it back with `release()`). `dispose()` shuts down the sessions
 * that are waiting, never one that was handed out: its holder may be running a cell in it (an
 * interpreter change retires the pool, not the conversations' kernels).
 */
import { KernelSessionError } from './errors';
import { JupyterKernelSession } from './session';
import type { KernelPoolOptions } from './types';

/**
 * A recycle takes milliseconds; one that has not finished by then is given up (the session is
 * shut down) so that an acquire waiting for it starts a session of its own instead of waiting
 * for good (seen once in the chat e2e: a New Chat's question waited on a recycle that never ended).
 */
const RECYCLE_GIVE_UP_MS = 5000;

function recycleWithin(session: JupyterKernelSession, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the recycle did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([session.recycle(), late]).finally(() => clearTimeout(timer));
}

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
  readonly stats = { started: 0, acquired: 0, acquiredWarm: 0, startFailures: 0, recycled: 0, recycleFailures: 0 };
  /** sessions given back with release() that are being recycled right now */
  private recycling = 0;
  /** with recycle: sessions handed out (they come back through release()), and acquires in progress */
  private readonly out = new Set<JupyterKernelSession>();
  private acquiring = 0;
  /** acquires waiting for a session being recycled (undefined: its recycle failed, start one) */
  private readonly awaitingRecycled: Array<(s: JupyterKernelSession | undefined) => void> = [];

  constructor(private readonly opts: KernelPoolOptions) {
    this.size = Math.max(0, Math.floor(opts.size ?? 1));
    this.fill();
  }

  private get maxIdle(): number {
    return Math.max(1, this.size, Math.floor(this.opts.maxIdle ?? 0));
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
    // with recycle, handed-out sessions come back: keep `size` sessions in all, not `size` waiting
    const target = this.opts.recycle ? Math.max(0, this.size - this.out.size - this.acquiring) : this.size;
    while (this.waiting.length < target) {
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
    await Promise.all(this.waiting.map((s) => s.ready.catch(() => undefined)));
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
    let slot: Slot;
    if (idx >= 0) slot = this.waiting.splice(idx, 1)[0];
    else if (this.opts.recycle && this.recycling > this.awaitingRecycled.length) {
      // a session given back is being reset right now (milliseconds): take it when it is ready
      // rather than start a process (a second of CPU; eval workers asked at once for 8 of them)
      const next = new Promise<JupyterKernelSession | undefined>((r) => this.awaitingRecycled.push(r));
      slot = {
        ready: next.then((r) => {
          if (r) return r;
          if (this.disposed) throw new KernelSessionError({ reason: 'the kernel pool was disposed', fix: 'create a new KernelPool' });
          return this.startOne().ready;
        }),
      };
    } else slot = this.startOne();
    this.acquiring++;
    this.fill();
    let s: JupyterKernelSession;
    try {
      s = await slot.ready;
    } catch (e) {
      // the background start failed: one more try in the foreground, for a clear error
      if (this.disposed) {
        this.acquiring--;
        throw e;
      }
      const fresh = this.startOne();
      try {
        s = await fresh.ready;
      } catch (e2) {
        this.acquiring--;
        throw e2;
      }
    }
    this.acquiring--;
    if (this.opts.recycle) {
      this.out.add(s);
      const off = s.onStateChange((st) => {
        if (st === 'disposed') {
          off();
          this.out.delete(s);
        }
      });
    }
    return s;
  }

  /**
   * Gives a session back when its question is done. With `recycle` (the pool option, default
   * false) an alive, idle session is reset in place (KernelSession.recycle: empty namespace, new
   * working folder, no new process: milliseconds instead of a kernel start) and waits for the
   * next acquire(), first in line; at most `maxIdle` sessions wait (fresh ones beyond are shut down).
   * Never throws: a session that cannot be recycled is disposed.
   */
  async release(session: JupyterKernelSession): Promise<void> {
    this.out.delete(session);
    // a recycled session is worth more than a fresh one (its imports are warm, its start is paid):
    // it is kept, and the waiting line is trimmed from its back (fresh ones) to maxIdle
    const keep = this.opts.recycle && !this.disposed && session.state === 'idle' && this.recycling < this.maxIdle;
    if (!keep) {
      await session.dispose();
      return;
    }
    this.recycling++;
    try {
      await recycleWithin(session, this.opts.recycleGiveUpMs ?? RECYCLE_GIVE_UP_MS);
    } catch {
      this.stats.recycleFailures++;
      this.recycling--;
      this.failAwaiting();
      await session.dispose();
      return;
    }
    this.recycling--;
    if (this.disposed || session.state !== 'idle') {
      this.failAwaiting();
      await session.dispose();
      return;
    }
    this.stats.recycled++;
    const waiter = this.awaitingRecycled.shift();
    if (waiter) {
      waiter(session);
      return;
    }
    // a recycled session goes first in line; a background start beyond size is not needed
    this.waiting.unshift({ ready: Promise.resolve(session), session });
    while (this.waiting.length > this.maxIdle) {
      const extra = this.waiting.pop()!;
      void extra.ready.then((x) => x.dispose(), () => undefined);
    }
  }

  /** an acquire that counted on a recycle now in vain starts its own session (one per recycle fewer) */
  private failAwaiting(): void {
    while (this.awaitingRecycled.length > this.recycling) this.awaitingRecycled.shift()!(undefined);
  }

  /**
   * Shuts down the sessions waiting (and those starting, as they become ready); a session given
   * back later with release() is disposed. Handed-out sessions are their holders' to dispose.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const w of this.awaitingRecycled.splice(0)) w(undefined);
    const slots = this.waiting.splice(0);
    await Promise.all(slots.map((s) => s.ready.then((x) => x.dispose(), () => undefined)));
  }

  /** the error of the last failed background start, if any */
  get lastStartError(): Error | undefined {
    return this.lastError;
  }
}
