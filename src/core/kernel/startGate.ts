/**
 * `StartGate`: how many kernel starts run at once. A cold start is about 1.3 s of CPU (Python,
 * ipykernel, numpy, PIL, matplotlib): 32 of them at once on 2 cores all finish late, each one
 * slowed by the 31 others, and the first sample waits as long as the last. Through the gate at
 * most `limit` starts run; the rest wait in line, first come first served, and a start whose
 * caller no longer wants it (its AbortSignal fired) leaves the line without having started.
 *
 * Every pool of this process shares one gate sized to the machine (`machineStartGate`, one start
 * per core) unless it is given a limit of its own (KernelPoolOptions.maxConcurrentStarts).
 */
import os from 'node:os';
import { KernelSessionError } from './errors';

interface Entry {
  resolve: (release: () => void) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** the error of an entry that left the line because its signal fired */
export function startNotWanted(): KernelSessionError {
  return new KernelSessionError({
    reason: 'the kernel start was no longer wanted (its question or sample was cancelled before a kernel was free)',
    fix: 'nothing to do: no kernel was started for it',
  });
}

export class StartGate {
  private running = 0;
  private readonly line: Entry[] = [];
  /** for diagnostics, tests and the bench: starts let through, the most ever at once, entries that left the line */
  readonly stats = { entered: 0, maxRunning: 0, cancelled: 0 };

  /** `limit`: starts at once (at least 1) */
  constructor(readonly limit: number) {
    this.limit = Math.max(1, Math.floor(limit));
  }

  /** starts running now */
  get inFlight(): number {
    return this.running;
  }

  /** starts waiting in line */
  get waiting(): number {
    return this.line.length;
  }

  /**
   * Resolves, in arrival order, when a start may run, with the function that ends it (call it
   * once the start has finished, well or not; calling it again does nothing). Rejects, leaving
   * the line, when `signal` fires first.
   */
  enter(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) {
      this.stats.cancelled++;
      return Promise.reject(startNotWanted());
    }
    if (this.running < this.limit) return Promise.resolve(this.admit());
    return new Promise((resolve, reject) => {
      const entry: Entry = { resolve, reject, signal };
      if (signal) {
        entry.onAbort = () => {
          const i = this.line.indexOf(entry);
          if (i < 0) return;
          this.line.splice(i, 1);
          this.stats.cancelled++;
          reject(startNotWanted());
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.line.push(entry);
    });
  }

  private admit(): () => void {
    this.running++;
    this.stats.entered++;
    this.stats.maxRunning = Math.max(this.stats.maxRunning, this.running);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      this.next();
    };
  }

  private next(): void {
    while (this.running < this.limit && this.line.length) {
      const e = this.line.shift()!;
      if (e.onAbort) e.signal!.removeEventListener('abort', e.onAbort);
      e.resolve(this.admit());
    }
  }
}

/** one start per core: a kernel start keeps a core busy for about a second */
export function defaultStartConcurrency(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/** Process-wide (module state on purpose): the machine's cores are shared by every pool of this process. */
let machineGate: StartGate | undefined;

/** the gate every pool uses unless given a limit of its own */
export function machineStartGate(): StartGate {
  return (machineGate ??= new StartGate(defaultStartConcurrency()));
}

/**
 * The gate for a pool: undefined → the machine's; n > 0 → a gate of its own with that limit;
 * 0 → none (every start at once, as before pacing: for the bench's side-by-side).
 */
export function startGateFor(maxConcurrentStarts: number | undefined): StartGate | undefined {
  if (maxConcurrentStarts === undefined) return machineStartGate();
  if (maxConcurrentStarts <= 0) return undefined;
  return new StartGate(maxConcurrentStarts);
}
