/**
 * A long-lived Python process that answers requests over JSON lines: the one protocol of
 * CodeDance's Python helpers (the math_verify check, eval/mathCheck.ts; the image hasher,
 * training-data/imageHash.ts).
 *
 *   stdin   {"id": 7, "params": …}                 one line per request (ASCII: \u escapes)
 *   stdout  {"ready": true, "info": {…}}           once, when the setup code has run
 *           {"ready": false, "error": "T: msg"}    instead, when it raised (the process ends)
 *           {"id": 7, "result": …}                 or {"id": 7, "error": "T: msg"}; matched by id
 *
 * The Python side is `helperProgram(setup)` (helperProgram.ts). The caller says how to start the
 * process (`launch`: command, args, env, cwd, extra descriptors), so it can run sandboxed.
 *
 * When things go wrong:
 *  - a request not answered within `timeoutMs` fails with 'timeout' (the time counts from when
 *    the process can start on it, not while it waits behind others); the process is stopped, and
 *    the requests behind it go to a new one;
 *  - a process that exits fails the request it was working on (the oldest unanswered) with
 *    'exited'; the ones behind it go to a new process;
 *  - after `maxFailures` timeouts, exits or failed starts in a row, with no answer between, it
 *    gives up: `failed` says why, and every request fails at once with that error.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { PythonHelperError, type PythonHelperFailure } from './PythonHelperError';

/** How to start the process. */
export interface SpawnPlan {
  command: string;
  args: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /**
   * descriptors 3, 4, …: 'drain' a pipe read and dropped (bwrap's `--info-fd`), bytes a pipe
   * written once and closed (bwrap's `--seccomp`), 'ignore' none
   */
  extraFds?: ReadonlyArray<'ignore' | 'drain' | Uint8Array>;
}

export interface PythonHelperOptions {
  /** the helper's name in messages: 'math_verify', 'the image hasher' */
  name: string;
  /** the interpreter, named in every error */
  python: string;
  /** said after the interpreter in messages, e.g. 'sandboxed' */
  note?: string;
  /** how to start the process; called at each start */
  launch: () => SpawnPlan | Promise<SpawnPlan>;
  /** per request, ms; default 60000 */
  timeoutMs?: number;
  /** until the ready line, ms; default 60000 */
  startTimeoutMs?: number;
  /** timeouts, exits or failed starts in a row before giving up; default 3 */
  maxFailures?: number;
  /** what to do when it cannot start or dies (e.g. "check that python3 runs and can import PIL") */
  fix?: string;
}

interface Pending<R> {
  id: number;
  line: string;
  resolve: (r: R) => void;
  reject: (e: Error) => void;
}

interface Proc {
  child: ChildProcess;
  stderr: string;
  ready: boolean;
  /** exited, or stopped by us: its exit is no news */
  gone: boolean;
  exited: Promise<void>;
}

interface Message {
  ready?: unknown;
  info?: unknown;
  id?: unknown;
  result?: unknown;
  error?: unknown;
}

const how = (code: number | null, signal: NodeJS.Signals | null) => (code !== null ? `code ${code}` : `${signal}`);
const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))} s`;
const ascii = (s: string) => s.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export class PythonHelper<P = unknown, R = unknown> {
  private proc?: Proc;
  private starting?: Promise<Proc>;
  private readonly queue = new Map<number, Pending<R>>();
  private nextId = 0;
  private watch?: { id: number; timer: NodeJS.Timeout };
  private failures = 0;
  private gaveUp?: PythonHelperError;
  private disposed = false;
  private readyInfo: Record<string, unknown> = {};
  private startCount = 0;

  constructor(private readonly o: PythonHelperOptions) {}

  /** the running process's id (of `launch`'s command: bwrap when sandboxed) */
  get pid(): number | undefined {
    return this.proc?.child.pid;
  }

  /** processes started so far */
  get starts(): number {
    return this.startCount;
  }

  /** set once it has given up: the last failure, and every request fails with it */
  get failed(): PythonHelperError | undefined {
    return this.gaveUp;
  }

  /** Starts the process if none runs; resolves with its ready line's info (`READY`). */
  async start(): Promise<Record<string, unknown>> {
    await this.running();
    return this.readyInfo;
  }

  /** Sends one request; resolves with `handle(params)`'s result, or rejects with a `PythonHelperError`. */
  request(params: P): Promise<R> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return new Promise<R>((resolve, reject) => {
      const id = this.nextId++;
      const pending: Pending<R> = { id, line: `${ascii(JSON.stringify({ id, params }))}\n`, resolve, reject };
      this.queue.set(id, pending);
      if (this.proc) {
        this.proc.child.stdin!.write(pending.line);
        this.watchOldest();
      } else void this.running().catch(() => undefined); // a failed start rejects what is queued
    });
  }

  /**
   * Stops the process and waits for it: idle, by closing its stdin (SIGKILL after 2 s); busy, at
   * once (its answers are not wanted). Waiting requests fail with 'disposed'.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.unwatch();
    const busy = this.queue.size > 0;
    const err = this.error('disposed', `${this.o.name} was stopped`, 'stopped');
    for (const p of this.queue.values()) p.reject(err);
    this.queue.clear();
    await this.starting?.catch(() => undefined); // a failed start rejected what was queued (launch)
    const proc = this.proc;
    this.proc = undefined;
    if (proc) await this.stop(proc, busy);
  }

  // -------------------------------------------------------------------------------------------

  private get where(): string {
    return `${this.o.python}${this.o.note ? `, ${this.o.note}` : ''}`;
  }

  private error(code: PythonHelperFailure, reason: string, detail: string, pythonError?: string): PythonHelperError {
    const fix = code === 'start' || code === 'exited' ? this.o.fix : undefined;
    return new PythonHelperError(code, reason, { python: this.o.python, detail, pythonError, fix });
  }

  private startError(detail: string, pythonError?: string): PythonHelperError {
    return this.error('start', `${this.o.name} (${this.where}) could not start: ${detail}`, detail, pythonError);
  }

  private refusal(): PythonHelperError | undefined {
    if (this.disposed) return this.error('disposed', `${this.o.name} was stopped`, 'stopped');
    return this.gaveUp;
  }

  /** The ready process, started if none runs (one start at a time). */
  private running(): Promise<Proc> {
    if (this.proc) return Promise.resolve(this.proc);
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    this.starting ??= this.launch().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async launch(): Promise<Proc> {
    let proc: Proc;
    try {
      proc = await this.spawnReady();
    } catch (e) {
      const err = e instanceof PythonHelperError ? e : this.startError((e as Error).message);
      this.failure(err);
      this.rejectQueued(this.gaveUp ?? err);
      throw err;
    }
    if (this.disposed) {
      void this.stop(proc, false);
      throw this.refusal();
    }
    this.proc = proc;
    for (const p of this.queue.values()) proc.child.stdin!.write(p.line);
    this.watchOldest();
    return proc;
  }

  private async spawnReady(): Promise<Proc> {
    this.startCount++;
    const plan = await this.o.launch();
    const python = this.o.python;
    const extra = plan.extraFds ?? [];
    return new Promise<Proc>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(plan.command, [...plan.args], {
          cwd: plan.cwd,
          env: plan.env as NodeJS.ProcessEnv,
          stdio: ['pipe', 'pipe', 'pipe', ...extra.map((f) => (f === 'ignore' ? 'ignore' : 'pipe'))],
        });
      } catch (e) {
        return reject(this.startError(`${python} could not be started (${(e as Error).message})`));
      }
      const proc: Proc = {
        child,
        stderr: '',
        ready: false,
        gone: false,
        exited: new Promise((r) => (child.once('exit', () => r()), child.once('error', () => r()))),
      };
      extra.forEach((f, i) => {
        const s = child.stdio[3 + i];
        if (f === 'drain') (s as Readable | null)?.resume();
        else if (f !== 'ignore') (s as Writable | null)?.on('error', () => undefined).end(Buffer.from(f));
      });
      child.stdin!.on('error', () => undefined);
      child.stderr!.on('data', (d: Buffer) => (proc.stderr = (proc.stderr + d.toString()).slice(-4000)));
      let settled = false;
      const settle = (e?: PythonHelperError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e) {
          void this.stop(proc, true);
          reject(e);
        } else resolve(proc);
      };
      const startMs = this.o.startTimeoutMs ?? 60_000;
      const timer = setTimeout(() => settle(this.startError(`${python} took more than ${seconds(startMs)} to start`)), startMs);
      child.once('error', (e) => settle(this.startError(`${python} could not be started (${e.message})`)));
      // 'close', not 'exit': by then stdout and stderr are read to their end (a last reply, the error's words)
      child.once('close', (code, signal) => {
        const news = !proc.gone;
        proc.gone = true;
        if (!proc.ready)
          settle(this.startError(`${python} exited (${how(code, signal)}) before it was ready${this.stderrTail(proc, 'last')}`));
        else if (news) this.exited(proc, code, signal);
      });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const msg = parse(line);
        if (!msg) return; // not the protocol's (a sitecustomize print before stdout was taken over)
        if (proc.ready) {
          if (proc === this.proc) this.answered(msg);
        } else if (msg.ready === true) {
          proc.ready = true;
          this.readyInfo = msg.info && typeof msg.info === 'object' ? (msg.info as Record<string, unknown>) : {};
          settle();
        } else if (msg.ready === false)
          settle(this.startError(String(msg.error ?? 'its setup failed'), typeof msg.error === 'string' ? msg.error : undefined));
      });
    });
  }

  private answered(msg: Message): void {
    const pending = typeof msg.id === 'number' ? this.queue.get(msg.id) : undefined;
    if (!pending) return;
    this.queue.delete(pending.id);
    this.failures = 0;
    if (typeof msg.error === 'string') pending.reject(this.error('raised', `${this.o.name} raised ${msg.error}`, msg.error, msg.error));
    else pending.resolve(msg.result as R);
    this.watchOldest();
  }

  /** Arms the timer for the oldest unanswered request (the one the process works on). */
  private watchOldest(): void {
    const oldest = this.queue.values().next().value;
    if (!oldest || !this.proc) return this.unwatch();
    if (this.watch?.id === oldest.id) return;
    this.unwatch();
    const ms = this.o.timeoutMs ?? 60_000;
    this.watch = { id: oldest.id, timer: setTimeout(() => this.timedOut(oldest.id, ms), ms) };
  }

  private unwatch(): void {
    if (this.watch) clearTimeout(this.watch.timer);
    this.watch = undefined;
  }

  private timedOut(id: number, ms: number): void {
    this.watch = undefined;
    const proc = this.proc;
    const pending = this.queue.get(id);
    if (!proc || !pending) return;
    this.proc = undefined;
    void this.stop(proc, true);
    this.queue.delete(id);
    const err = this.error(
      'timeout',
      `${this.o.name} took more than ${seconds(ms)} on one request (${this.where}); its process was stopped`,
      `took more than ${seconds(ms)}`,
    );
    this.failure(err);
    pending.reject(err);
    this.carryOn();
  }

  private exited(proc: Proc, code: number | null, signal: NodeJS.Signals | null): void {
    if (proc !== this.proc) return;
    this.proc = undefined;
    this.unwatch();
    const culprit = this.queue.values().next().value;
    if (!culprit) return; // idle: the next request starts a new process
    this.queue.delete(culprit.id);
    const detail = `exited (${how(code, signal)}) while working on a request${this.stderrTail(proc, 'all')}`;
    const err = this.error('exited', `${this.o.name} (${this.where}) ${detail}`, detail);
    this.failure(err);
    culprit.reject(err);
    this.carryOn();
  }

  /** Counts a failure; the `maxFailures`th in a row makes it give up. */
  private failure(err: PythonHelperError): void {
    this.failures++;
    const max = this.o.maxFailures ?? 3;
    if (this.failures >= max && !this.gaveUp) {
      this.gaveUp = this.error(err.code, `${err.reason} (${max} failures in a row: not started again)`, err.detail, err.pythonError);
    }
  }

  /** After a timeout or an exit: what waited goes to a new process, unless it gave up. */
  private carryOn(): void {
    if (this.gaveUp) this.rejectQueued(this.gaveUp);
    else if (this.queue.size && !this.disposed) void this.running().catch(() => undefined); // a failed start rejects what is queued
  }

  private rejectQueued(err: PythonHelperError): void {
    for (const p of this.queue.values()) p.reject(err);
    this.queue.clear();
    this.unwatch();
  }

  private stderrTail(proc: Proc, which: 'last' | 'all'): string {
    const text = proc.stderr.trim();
    if (!text) return '';
    return `: ${which === 'last' ? text.split('\n').pop()!.trim() : text.replace(/\s+/g, ' ').slice(-500)}`;
  }

  /**
   * Ends a process: now (SIGTERM, which a Python busy in C code still dies of, and which a
   * kernel supervisor or bwrap passes on; SIGKILL 1 s later) or by closing its stdin (SIGKILL
   * after 2 s). Resolves when it has exited.
   */
  private async stop(proc: Proc, now: boolean): Promise<void> {
    proc.gone = true;
    const alive = () => proc.child.exitCode === null && proc.child.signalCode === null;
    if (!alive()) return proc.exited;
    if (now) proc.child.kill('SIGTERM');
    else proc.child.stdin?.end();
    const t = setTimeout(() => alive() && proc.child.kill('SIGKILL'), now ? 1000 : 2000);
    await proc.exited;
    clearTimeout(t);
  }
}

function parse(line: string): Message | undefined {
  try {
    const m = JSON.parse(line) as unknown;
    return m && typeof m === 'object' && !Array.isArray(m) ? (m as Message) : undefined;
  } catch {
    return undefined;
  }
}
