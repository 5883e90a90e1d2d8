/**
 * `KernelPool`: keeps `size` sessions started and waiting (prelude loaded, each with its own
 * fresh working folder), so that a question's first cell does not wait for a kernel start.
 * `acquire()` hands over a waiting session at once, or joins the line of callers waiting for the
 * next one (first come, first served); either way a replacement is started. A session belongs
 * to the caller after acquire: the caller disposes it (`release()` does the same). No session is
 * ever given to a second caller. `dispose()` shuts down the sessions that are waiting, never one
 * that was handed out: its holder may be running a cell in it (an interpreter change retires the
 * pool, not the conversations' kernels).
 *
 * Starts are paced (startGate.ts): at most one per core runs at once, the others wait their turn
 * in the gate's line. The pool starts only as many kernels as are wanted (callers waiting plus
 * `size`); a caller whose AbortSignal fires leaves the line, and a start that no one wants any
 * more is dropped before it begins.
 */
import { KernelSessionError } from './errors';
import { JupyterKernelSession } from './session';
import { startGateFor, type StartGate } from './startGate';
import type { KernelPoolOptions, KernelSessionOptions } from './types';

/** a caller waiting for a session */
interface Waiter {
  resolve: (s: JupyterKernelSession) => void;
  reject: (e: Error) => void;
  /** starts that failed while this caller was first in line: at two, it gets the error */
  failures: number;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** one kernel start: waiting at the gate until `begun` */
interface Start {
  ctrl: AbortController;
  begun: boolean;
  done: Promise<void>;
}

/** how a session is started (tests and the bench give their own) */
export type StartSession = (opts: KernelSessionOptions) => Promise<JupyterKernelSession>;

const disposedError = () => new KernelSessionError({ reason: 'the kernel pool was disposed', fix: 'create a new KernelPool' });

export class KernelPool {
  private readonly size: number;
  private readonly ready: JupyterKernelSession[] = [];
  private readonly waiters: Waiter[] = [];
  /** in the order they were made */
  private readonly starts = new Set<Start>();
  private readonly gate: StartGate | undefined;
  private disposed = false;
  /** the last background start failure, reported by the next acquire that has to wait */
  private lastError: Error | undefined;
  /** counters for diagnostics and tests; `started`: starts that began (past the gate) */
  readonly stats = { started: 0, acquired: 0, acquiredWarm: 0, startFailures: 0, startsDropped: 0 };

  constructor(
    private readonly opts: KernelPoolOptions,
    private readonly startSession: StartSession = (o) => JupyterKernelSession.start(o),
  ) {
    this.size = Math.max(0, Math.floor(opts.size ?? 1));
    this.gate = startGateFor(opts.maxConcurrentStarts);
    this.pump();
  }

  /** Number of sessions started and waiting right now. */
  get warmCount(): number {
    return this.ready.filter((s) => s.state === 'idle').length;
  }

  /** Starts in progress or waiting at the gate, and callers waiting for a session (diagnostics, tests). */
  get pending(): { starts: number; waiters: number } {
    return { starts: this.starts.size, waiters: this.waiters.length };
  }

  /** Resolves when every start made so far has finished (successfully or not). */
  async warm(): Promise<void> {
    await Promise.all([...this.starts].map((s) => s.done));
  }

  /**
   * A started session, for the caller to own. Instant when one is waiting; otherwise the caller
   * waits in line for the next one. `signal`: the caller no longer wants one (it leaves the line,
   * rejected; a start made only for it is dropped if it has not begun).
   */
  async acquire(signal?: AbortSignal): Promise<JupyterKernelSession> {
    if (this.disposed) throw disposedError();
    if (signal?.aborted) throw notWanted();
    this.stats.acquired++;
    const warm = this.takeReady();
    if (warm) {
      this.pump();
      return warm;
    }
    return new Promise<JupyterKernelSession>((resolve, reject) => {
      const w: Waiter = { resolve, reject, failures: 0, signal };
      if (signal) {
        w.onAbort = () => {
          if (!this.leave(w)) return;
          reject(notWanted());
          this.trim();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
      this.pump();
    });
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
   * Shuts down the sessions waiting (and those starting, as they become ready); callers still
   * waiting are rejected. Handed-out sessions are their holders' to dispose.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const w of this.waiters.splice(0)) this.settle(w).reject(disposedError());
    const starts = [...this.starts];
    for (const s of starts) if (!s.begun) s.ctrl.abort();
    const ready = this.ready.splice(0);
    await Promise.all([...ready.map((s) => s.dispose()), ...starts.map((s) => s.done)]);
  }

  /** the error of the last failed background start, if any */
  get lastStartError(): Error | undefined {
    return this.lastError;
  }

  // -------------------------------------------------------------------------------------------

  /** a waiting session: an idle one first, else one still (re)starting; disposed ones are dropped */
  private takeReady(): JupyterKernelSession | undefined {
    for (let i = this.ready.length - 1; i >= 0; i--) if (this.ready[i].state === 'disposed') this.ready.splice(i, 1);
    let i = this.ready.findIndex((s) => s.state === 'idle');
    if (i >= 0) this.stats.acquiredWarm++;
    else i = this.ready.length ? 0 : -1;
    return i >= 0 ? this.ready.splice(i, 1)[0] : undefined;
  }

  /** starts as many kernels as are wanted and not yet coming: the callers in line, plus `size` waiting */
  private pump(): void {
    while (!this.disposed && this.starts.size + this.ready.length < this.waiters.length + this.size) this.startOne();
  }

  /** drops the newest starts that have not begun, while more are coming than are wanted */
  private trim(): void {
    const wanted = this.waiters.length + this.size;
    for (const s of [...this.starts].reverse()) {
      if (this.starts.size + this.ready.length <= wanted) return;
      if (s.begun) continue;
      this.starts.delete(s);
      s.ctrl.abort();
    }
  }

  private startOne(): void {
    const s: Start = { ctrl: new AbortController(), begun: false, done: Promise.resolve() };
    this.starts.add(s);
    const run = async (): Promise<JupyterKernelSession> => {
      const end = this.gate ? await this.gate.enter(s.ctrl.signal) : () => undefined;
      s.begun = true;
      this.stats.started++;
      try {
        return await this.startSession({ ...this.opts });
      } finally {
        end();
      }
    };
    s.done = run().then(
      (session) => {
        this.starts.delete(s);
        this.deliver(session);
      },
      (e: Error) => {
        this.starts.delete(s);
        this.failed(s, e);
      },
    );
  }

  /** a started session goes to the first caller in line, else it waits for the next acquire */
  private deliver(session: JupyterKernelSession): void {
    if (this.disposed) {
      void session.dispose();
      return;
    }
    const w = this.waiters.shift();
    if (w) this.settle(w).resolve(session);
    else this.ready.push(session);
  }

  /**
   * A start that failed: the first caller in line gets the error at its second failed start (one
   * more try, as a start can fail by chance); without callers the pool waits for the next
   * acquire rather than starting again (a broken interpreter would fail forever).
   */
  private failed(s: Start, e: Error): void {
    if (!s.begun) {
      this.stats.startsDropped++;
      return;
    }
    this.stats.startFailures++;
    this.lastError = e;
    if (this.disposed || !this.waiters.length) return;
    const w = this.waiters[0];
    if (++w.failures >= 2) {
      this.waiters.shift();
      this.settle(w).reject(e);
    }
    this.pump();
  }

  /** takes the caller out of the line; false if it was not in it */
  private leave(w: Waiter): boolean {
    const i = this.waiters.indexOf(w);
    if (i < 0) return false;
    this.waiters.splice(i, 1);
    return true;
  }

  /** the caller's listener taken off its signal; returns the caller */
  private settle(w: Waiter): Waiter {
    if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
    return w;
  }
}

function notWanted(): KernelSessionError {
  return new KernelSessionError({
    reason: 'the kernel was no longer wanted (its question or sample was cancelled while it waited for one)',
    fix: 'nothing to do: no kernel was handed out for it',
  });
}
