/**
 * An eval's kernels spread over several hosts (`codedance eval --kernel-hosts local,cluster:NAME`):
 * this machine's kernel pool and the Jupyter Servers of a kernel-hosts job, each taking at most its
 * `capacity` kernels at once. `SpreadKernels` is the eval's KernelSource: a sample's kernel goes to
 * the host with the most free room (by share of its capacity, then the list's order); when every
 * host is full the sample waits in line (first come, first served).
 *
 * A host that dies (its server or node gone: a cell or start that fails, then the host does not
 * answer; or the watch finds it silent twice) is out for the rest of the run. Every kernel it held
 * fails at once with KernelHostLostError, whatever it was doing: the sample's attempt ends there,
 * and runSample runs the sample again from its start on another host without counting it as a
 * retry. Its result is written once, when it finishes there, so the results file holds each index
 * exactly once. When no host is left, samples get the error (recorded as errors: `--retry-errors`
 * runs them again).
 */
import { KernelError, KernelSessionError } from '../kernel/errors';
import type { CellHost } from '../kernel/sandboxNotice';
import type { ExecuteOptions, ExecutionResult, KernelSession, KernelState, PreparedImage, PrepareImageOptions } from '../kernel/types';
import type { KernelSource } from './options';

/** One place kernels run: this machine's pool, or one Jupyter Server of a kernel-hosts job. */
export interface KernelHost {
  /** e.g. `local`, `hpc/0 (node017:41207)` */
  readonly name: string;
  /** kernels at once */
  readonly capacity: number;
  /** where its cells run (manifest, notices) */
  readonly cell: CellHost;
  /** a started kernel of its own for one sample */
  start(signal?: AbortSignal): Promise<KernelSession>;
  /** a finished sample's kernel, shut down */
  release(kernel: KernelSession): Promise<void>;
  /** whether it still answers; never throws (a local host always does) */
  answers(): Promise<boolean>;
  dispose(): Promise<void>;
}

/** A sample's kernel was on a host that died: the sample runs again elsewhere. */
export class KernelHostLostError extends KernelError {
  override readonly name = 'KernelHostLostError';
  constructor(host: string, why: string) {
    super({
      reason: `the kernel host ${host} is gone (${why})`,
      fix: 'nothing to do: the sample runs again on another kernel host',
      retryable: true,
    });
  }
}

/** whether a trajectory's error is a lost kernel host (runSample runs the sample again without counting it) */
export function isHostLost(error: { name?: string } | undefined): boolean {
  return error?.name === 'KernelHostLostError';
}

/** a host and what it holds now */
interface Slot {
  host: KernelHost;
  index: number;
  inFlight: number;
  started: number;
  /** out of the run: why */
  out?: string;
  /** starts that failed in a row while it answered */
  startFailures: number;
  /** watch: checks failed in a row */
  silent: number;
  sessions: Set<HostedSession>;
}

interface Waiter {
  resolve: (s: Slot) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

export interface SpreadKernelsOptions {
  log?: (line: string) => void;
  /** how often hosts holding kernels are asked whether they answer, ms (0: never; cells and starts that fail still ask); default 5000 */
  watchMs?: number;
  /** start failures in a row on a host that answers before it is left out; default 3 */
  maxStartFailures?: number;
}

export class SpreadKernels implements KernelSource {
  private readonly slots: Slot[];
  private readonly line: Waiter[] = [];
  private readonly log: (line: string) => void;
  private timer?: NodeJS.Timeout;
  private disposed = false;

  constructor(
    hosts: KernelHost[],
    private readonly o: SpreadKernelsOptions = {},
  ) {
    if (!hosts.length)
      throw new KernelSessionError({ reason: 'no kernel host was given', fix: 'name at least one: local or cluster:NAME' });
    this.slots = hosts.map((host, index) => ({ host, index, inFlight: 0, started: 0, startFailures: 0, silent: 0, sessions: new Set() }));
    this.log = o.log ?? (() => undefined);
    const every = o.watchMs ?? 5000;
    if (every > 0) {
      this.timer = setInterval(() => void this.watch(), every);
      this.timer.unref();
    }
  }

  /** where the cells run: every host as it is */
  get host(): CellHost {
    const cells = this.slots.map((s) => s.host.cell);
    return cells.length === 1 ? cells[0] : { kind: 'hosts', hosts: cells };
  }

  /** per host: kernels started, held now, and why it is out (diagnostics, tests, the summary) */
  get stats(): { name: string; capacity: number; started: number; inFlight: number; out?: string }[] {
    return this.slots.map((s) => ({ name: s.host.name, capacity: s.host.capacity, started: s.started, inFlight: s.inFlight, out: s.out }));
  }

  async acquire(signal?: AbortSignal): Promise<KernelSession> {
    for (;;) {
      const slot = await this.reserve(signal);
      try {
        const inner = await slot.host.start(signal);
        if (slot.out) {
          void slot.host.release(inner).catch((e: Error) => this.log(`kernel host ${slot.host.name}: ${e.message}`));
          throw new KernelHostLostError(slot.host.name, slot.out);
        }
        slot.startFailures = 0;
        slot.started++;
        const s = new HostedSession(inner, slot, this);
        slot.sessions.add(s);
        return s;
      } catch (e) {
        this.free(slot);
        if (signal?.aborted) throw e;
        if (slot.out || !(await this.stillAnswers(slot, (e as Error).message))) continue; // another host takes it
        if (++slot.startFailures >= (this.o.maxStartFailures ?? 3))
          this.leaveOut(slot, `${slot.startFailures} kernel starts failed in a row: ${(e as Error).message}`);
        throw e;
      }
    }
  }

  async release(session: KernelSession): Promise<void> {
    if (!(session instanceof HostedSession)) return session.dispose();
    await session.dispose();
  }

  /** called by a HostedSession when it is disposed */
  finished(s: HostedSession, slot: Slot): void {
    if (!slot.sessions.delete(s)) return;
    this.free(slot);
  }

  /** the host answers? If not, it is out (its kernels fail with KernelHostLostError). */
  async stillAnswers(slot: Slot, why: string): Promise<boolean> {
    if (slot.out) return false;
    if (await slot.host.answers()) return true;
    this.leaveOut(slot, `it does not answer after: ${why.split('\n')[0]}`);
    return false;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.timer);
    for (const w of this.line.splice(0))
      this.settle(w).reject(new KernelSessionError({ reason: 'the kernel hosts were closed', fix: 'nothing to do' }));
    await Promise.all(this.slots.map((s) => s.host.dispose().catch((e: Error) => this.log(`kernel host ${s.host.name}: ${e.message}`))));
  }

  // -------------------------------------------------------------------------------------------

  private leaveOut(slot: Slot, why: string): void {
    if (slot.out) return;
    slot.out = why;
    const held = [...slot.sessions];
    this.log(
      `kernel host ${slot.host.name} is out: ${why}${held.length ? `; its ${held.length} sample(s) run again on another host` : ''}`,
    );
    for (const s of held) s.lose(why);
    this.pump();
  }

  /** the host with the most free room, by share of its capacity */
  private pick(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (s.out || s.inFlight >= s.host.capacity) continue;
      if (!best || s.inFlight / s.host.capacity < best.inFlight / best.host.capacity) best = s;
    }
    return best;
  }

  private noHostLeft(): Error {
    return new KernelSessionError({
      reason: `every kernel host is out: ${this.slots.map((s) => `${s.host.name}: ${s.out}`).join('; ')}`,
      fix: 'start kernel hosts again (codedance kernels start), then rerun with --retry-errors to run the failed samples again',
    });
  }

  private reserve(signal?: AbortSignal): Promise<Slot> {
    if (this.disposed) return Promise.reject(new KernelSessionError({ reason: 'the kernel hosts were closed', fix: 'nothing to do' }));
    if (this.slots.every((s) => s.out)) return Promise.reject(this.noHostLeft());
    const slot = !this.line.length ? this.pick() : undefined;
    if (slot) {
      slot.inFlight++;
      return Promise.resolve(slot);
    }
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          const i = this.line.indexOf(w);
          if (i >= 0) this.line.splice(i, 1);
          reject(new KernelSessionError({ reason: 'the kernel was no longer wanted', fix: 'nothing to do' }));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.line.push(w);
      this.pump();
    });
  }

  private free(slot: Slot): void {
    slot.inFlight = Math.max(0, slot.inFlight - 1);
    this.pump();
  }

  /** hands free room to the line, in order; with no host left, the line gets the error */
  private pump(): void {
    if (this.slots.every((s) => s.out)) {
      for (const w of this.line.splice(0)) this.settle(w).reject(this.noHostLeft());
      return;
    }
    while (this.line.length) {
      const slot = this.pick();
      if (!slot) return;
      slot.inFlight++;
      this.settle(this.line.shift()!).resolve(slot);
    }
  }

  private settle(w: Waiter): Waiter {
    if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
    return w;
  }

  /** hosts holding kernels are asked whether they answer; twice silent in a row: out */
  private async watch(): Promise<void> {
    await Promise.all(
      this.slots
        .filter((s) => !s.out && s.inFlight > 0)
        .map(async (s) => {
          if (await s.host.answers()) s.silent = 0;
          else if (++s.silent >= 2) this.leaveOut(s, 'it did not answer twice in a row');
        }),
    );
  }
}

/**
 * A sample's kernel on a host: the host's own session, except that when the host is out every
 * call fails at once with KernelHostLostError, and a cell that fails or finds its kernel dead asks
 * the host first (a host that does not answer is out: the sample runs again elsewhere, the model
 * never sees a kernel that died with its host).
 */
class HostedSession implements KernelSession {
  readonly id: string;
  private lost?: KernelHostLostError;
  private readonly onLost = new Set<(e: KernelHostLostError) => void>();
  private done = false;

  constructor(
    private readonly inner: KernelSession,
    private readonly slot: Slot,
    private readonly spread: SpreadKernels,
  ) {
    this.id = inner.id;
  }

  get python(): string {
    return this.inner.python;
  }
  get workdir(): string {
    return this.inner.workdir;
  }
  get state(): KernelState {
    return this.lost ? 'dead' : this.inner.state;
  }
  get where(): string {
    return `${this.inner.where ?? 'a local kernel'} (kernel host ${this.slot.host.name})`;
  }

  onStateChange(listener: (s: KernelState) => void): () => void {
    return this.inner.onStateChange(listener);
  }

  lose(why: string): void {
    if (this.lost) return;
    this.lost = new KernelHostLostError(this.slot.host.name, why);
    for (const f of this.onLost) f(this.lost);
  }

  /** runs `call`, failing at once when the host is lost; a failure on a host that no longer answers is a lost host */
  private async guard<T>(call: () => Promise<T>, failed: (r: T) => boolean = () => false): Promise<T> {
    if (this.lost) throw this.lost;
    let off: (() => void) | undefined;
    const lostNow = new Promise<never>((_, reject) => {
      const f = (e: KernelHostLostError) => reject(e);
      this.onLost.add(f);
      off = () => this.onLost.delete(f);
    });
    try {
      const r = await Promise.race([
        call().then(
          async (v) => (failed(v) && !(await this.spread.stillAnswers(this.slot, 'a cell found its kernel dead')) ? this.fail() : v),
          async (e: Error) => (!(await this.spread.stillAnswers(this.slot, e.message)) ? this.fail() : Promise.reject(e)),
        ),
        lostNow,
      ]);
      return r;
    } finally {
      off?.();
    }
  }

  private fail(): never {
    this.lose(this.slot.out ?? 'it does not answer');
    throw this.lost!;
  }

  setInputImages(images: Uint8Array[], opts: PrepareImageOptions): Promise<PreparedImage[]> {
    return this.guard(() => this.inner.setInputImages(images, opts));
  }

  execute(code: string, opts?: ExecuteOptions): Promise<ExecutionResult> {
    return this.guard(
      () => this.inner.execute(code, opts),
      (r) => r.status === 'died',
    );
  }

  async interrupt(): Promise<void> {
    if (!this.lost) await this.inner.interrupt();
  }

  async dispose(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.spread.finished(this, this.slot);
    // a kernel on a host that is gone is given up on: its shutdown would wait for nothing
    const release = this.slot.host.release(this.inner);
    if (!this.lost) await release;
    else void release.catch(() => undefined); // the host is gone: nothing there to shut down
  }
}
