/**
 * `JupyterKernelSession`: one question's persistent Python namespace in a real ipykernel
 * process, with its own working folder. Cells run one at a time (calls queue up).
 *
 * The session holds the state across incarnations of its kernel process; the seams are
 *   launch.ts       how the process is started (command, args, env, connection file)
 *   incarnation.ts  launch -> kernel_info handshake -> prelude -> (input images bound again)
 *   request.ts      one execute_request (and a cell's timeout / abort -> SIGINT -> kill)
 *   classify.ts     the cell's messages and outcome -> ExecutionResult (pure)
 * If the process dies (os._exit, segfault, OOM kill, heartbeat silence) the running cell resolves
 * with status 'died' and a new incarnation starts at once; the next cell waits for it.
 * A timeout or an AbortSignal sends SIGINT; if the kernel is not idle within
 * `interruptGraceMs` it is killed and restarted (the result says `restarted: true`).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cancelledResult, classifyCell } from './classify';
import { CellCollector } from './collector';
import { KernelSessionError } from './errors';
import { preludeOp, startIncarnation } from './incarnation';
import { type KernelProcess, registerFolder, RUNTIME_PREFIX, sweepStaleFolders, unregisterFolder, writeOwner } from './process';
import { createRedactor, type Redactor } from './redact';
import { delay, type Incarnation, startCell } from './request';
import { automaticMemoryLimitMb, emptyFolder } from './sandbox';
import type { ExecuteOptions, ExecutionResult, KernelSession, KernelSessionOptions, KernelState, PreparedImage, PrepareImageOptions } from './types';

export const DEFAULT_TIMEOUT_MS = 30000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
/** an encoded output image over this is reported, not sent (no model takes one this large) */
export const DEFAULT_MAX_IMAGE_BYTES = 64 * 1024 * 1024;
const DEFAULT_START_TIMEOUT_MS = 60000;
const DEFAULT_INTERRUPT_GRACE_MS = 3000;
/** consecutive failed starts after which a dead session stops restarting on its own */
const MAX_AUTO_RESTART_FAILURES = 3;

interface Running {
  interrupt: (reason: 'timeout' | 'cancelled') => void;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export class JupyterKernelSession implements KernelSession {
  readonly id: string;
  private _workdir: string;
  readonly python: string;
  /** private folder: connection files, staged input bytes (never visible to the code) */
  private readonly runtimeDir: string;
  private _state: KernelState = 'starting';
  private readonly listeners = new Set<(s: KernelState) => void>();
  private inc: Incarnation | undefined;
  private starting: Promise<void> | undefined;
  private launchingProc: KernelProcess | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private running: Running | undefined;
  private inputs: { files: string[]; opts: PrepareImageOptions } | undefined;
  private disposed = false;
  private incarnations = 0;
  private startFailures = 0;
  private lastStartError: Error | undefined;
  /** how many times the kernel was restarted after a death or a kill */
  restarts = 0;

  /** replaces secret values in every text a cell produces */
  private readonly redactor: Redactor;
  constructor(private readonly opts: KernelSessionOptions) {
    this.id = randomUUID();
    this.redactor = createRedactor(opts.redact);
    this.python = opts.python;
    const root = opts.workRoot ?? os.tmpdir();
    mkdirSync(root, { recursive: true });
    sweepStaleFolders();
    this._workdir = mkdtempSync(path.join(root, 'codedance-'));
    this.runtimeDir = mkdtempSync(path.join(os.tmpdir(), RUNTIME_PREFIX));
    registerFolder(this.workdir);
    registerFolder(this.runtimeDir);
    writeOwner(this.runtimeDir, this.workdir);
  }

  /** Creates a session and waits until its kernel is ready (prelude loaded). */
  static async start(opts: KernelSessionOptions): Promise<JupyterKernelSession> {
    const s = new JupyterKernelSession(opts);
    try {
      await s.ensureReady();
    } catch (e) {
      await s.dispose();
      throw e;
    }
    return s;
  }

  get state(): KernelState {
    return this._state;
  }

  /** the session's working folder (the code's cwd; input_image.jpg lives here) */
  get workdir(): string {
    return this._workdir;
  }

  /** how many times recycle() gave this kernel to a new question */
  recycled = 0;

  /** pid of the current kernel process (diagnostics, tests) */
  get pid(): number | undefined {
    return this.inc?.proc.pid;
  }

  /** the kernel runs in the bubblewrap sandbox (sandbox.ts) */
  get sandboxed(): boolean {
    return this.inc?.proc.sandboxed ?? false;
  }

  onStateChange(listener: (s: KernelState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setState(s: KernelState): void {
    if (this._state === s || this._state === 'disposed') return;
    this._state = s;
    for (const l of [...this.listeners]) {
      try {
        l(s);
      } catch {
        /* a listener's bug is not ours */
      }
    }
  }

  private enqueue<T>(op: () => Promise<T>): Promise<T> {
    const p = this.queue.then(op, op);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private assertUsable(): void {
    if (this.disposed) {
      throw new KernelSessionError({ reason: `kernel session ${this.id} was disposed`, fix: 'acquire a new session from the pool' });
    }
  }

  // -------------------------------------------------------------------------------------------
  // starting and restarting
  // -------------------------------------------------------------------------------------------

  /** Resolves when a live kernel with the prelude (and inputs) is there; starts one if needed. */
  async ensureReady(): Promise<void> {
    this.assertUsable();
    while (!this.inc) {
      if (!this.starting) this.beginIncarnation();
      await this.starting;
      this.assertUsable();
      if (!this.inc && this.lastStartError) throw this.lastStartError;
    }
  }

  private beginIncarnation(): void {
    this.setState('starting');
    this.starting = startIncarnation({
      python: this.python,
      workdir: this.workdir,
      runtimeDir: this.runtimeDir,
      env: this.opts.env,
      sandbox: this.opts, // its sandbox, network, limits and passEnv (the launch sets the hard memory limit)
      nextNumber: () => ++this.incarnations,
      startTimeoutMs: this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
      heartbeatTimeoutMs: this.opts.heartbeatTimeoutMs,
      prelude: {
        workdir: this.workdir,
        memoryLimitMb: (this.opts.memoryLimitMb ?? automaticMemoryLimitMb()) || null,
        maxOutputBytes: this.opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
        expressionImageFormat: this.opts.expressionImageFormat ?? 'jpeg',
        // if Node dies without cleaning up, the kernel removes these as it exits
        orphanCleanup: [this.workdir, this.runtimeDir],
        maxImageBytes: this.opts.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
      },
      onSpawn: (proc) => (this.launchingProc = proc),
      prepare: async (inc) => {
        if (this.inputs) await this.bindInputs(inc, this.inputs.files, this.inputs.opts);
      },
      assertUsable: () => {
        if (this.disposed) throw new KernelSessionError({ reason: 'the session was disposed while its kernel started', fix: 'acquire a new session' });
      },
    })
      .then((inc) => {
        void inc.proc.exited.then(() => this.onExit(inc));
        this.inc = inc;
        this.startFailures = 0;
        this.lastStartError = undefined;
        this.setState(this.running ? 'busy' : 'idle');
      })
      .catch((e: Error) => {
        this.startFailures++;
        this.lastStartError = e;
        this.setState(this.disposed ? 'disposed' : 'dead');
      })
      .finally(() => {
        this.starting = undefined;
      });
  }

  // -------------------------------------------------------------------------------------------
  // death
  // -------------------------------------------------------------------------------------------

  private onExit(inc: Incarnation): void {
    inc.client.close();
    if (this.inc !== inc) return; // an incarnation already replaced or disposed
    this.inc = undefined;
    if (this.disposed) return;
    this.setState('dead');
    this.restarts++;
    // the session goes on: a new kernel starts now; the next cell waits for it
    if (this.startFailures < MAX_AUTO_RESTART_FAILURES) this.beginIncarnation();
  }

  // -------------------------------------------------------------------------------------------
  // input images
  // -------------------------------------------------------------------------------------------

  setInputImages(images: Uint8Array[], opts: PrepareImageOptions): Promise<PreparedImage[]> {
    return this.enqueue(async () => {
      this.assertUsable();
      await this.ensureReady();
      const files = images.map((img, i) => {
        const f = path.join(this.runtimeDir, `input-${i + 1}.bin`);
        writeFileSync(f, img);
        return f;
      });
      const inc = this.inc!;
      this.setState('busy');
      try {
        const prepared = await this.bindInputs(inc, files, opts);
        this.inputs = { files, opts };
        return prepared;
      } finally {
        if (this.inc === inc) this.setState('idle');
      }
    });
  }

  private async bindInputs(inc: Incarnation, files: string[], opts: PrepareImageOptions): Promise<PreparedImage[]> {
    const payload = b64(JSON.stringify({ files, options: { resize: opts.resize, minPixels: opts.minPixels ?? 4 * 28 * 28, maxPixels: opts.maxPixels ?? 16384 * 28 * 28 } }));
    const { outcome, result: res } = await preludeOp(inc, `_codedance_set_inputs("${payload}")`, Math.max(60000, this.opts.startTimeoutMs ?? 0));
    if (outcome.kind === 'exited') {
      throw new KernelSessionError({ reason: `the Python kernel ${outcome.info.description} while preparing the input image(s)`, fix: 'the image may be too large for the memory limit: use a smaller image or raise memoryLimitMb' });
    }
    if (outcome.kind === 'timeout') {
      throw new KernelSessionError({ reason: 'preparing the input image(s) in the kernel took more than 60 s', fix: 'use a smaller image' });
    }
    if (!res || res.status !== 'ok' || !res.prepared) {
      const why = res?.error ? `${res.error.ename}: ${res.error.evalue}` : `the kernel answered ${String((outcome.reply?.content as any)?.status ?? 'nothing')} without a result`;
      throw new KernelSessionError({ reason: `the input image could not be prepared: ${why}`, fix: 'pass a PNG, JPEG, GIF, BMP or WebP file that Pillow can open' });
    }
    return res.prepared.map((p) => ({ pngBase64: p.pngBase64, width: p.width, height: p.height, originalWidth: p.originalWidth, originalHeight: p.originalHeight }));
  }

  // -------------------------------------------------------------------------------------------
  // execution
  // -------------------------------------------------------------------------------------------

  execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    return this.enqueue(() => this.runCell(code, opts));
  }

  private async runCell(code: string, opts: ExecuteOptions): Promise<ExecutionResult> {
    this.assertUsable();
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const maxOutputBytes = opts.maxOutputBytes ?? this.opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (opts.signal?.aborted) return cancelledResult(0, 'the cell was cancelled before it started');
    await this.ensureReady();
    if (opts.signal?.aborted) return cancelledResult(0, 'the cell was cancelled before it started');
    const inc = this.inc!;
    const graceMs = this.opts.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS;
    const col = new CellCollector(maxOutputBytes, this.redactor.wrapListener(opts.onOutput));
    this.setState('busy');
    const payload = b64(JSON.stringify({ code, maxOutputBytes }));
    const cell = startCell(inc, `_codedance_run("${payload}")`, { onMessage: (m) => col.handle(m), timeoutMs, graceMs, signal: opts.signal });
    this.running = { interrupt: cell.interrupt };
    let run;
    try {
      run = await cell.done;
    } finally {
      this.running = undefined;
      if (this.inc === inc && inc.proc.alive) this.setState('idle');
    }
    // secrets never leave the kernel layer (redact.ts)
    return this.redactor.redactResult(classifyCell(col, run.outcome, { timeoutMs, graceMs, interruptReason: run.interruptReason, durationMs: run.durationMs, keepImagesOnFailure: this.opts.keepImagesOnFailure }));
  }

  async interrupt(): Promise<void> {
    this.running?.interrupt('cancelled');
  }

  // -------------------------------------------------------------------------------------------
  // recycle
  // -------------------------------------------------------------------------------------------

  /**
   * Makes this session a fresh one for the next question without a new process: the code's
   * namespace emptied, figures closed, matplotlib rc defaults, the cell count at 0, input images
   * unbound, and a NEW working folder (the old one and its files are deleted). What stays is
   * what lives in the process: imported modules (and any module-level state the code changed).
   * Throws when the kernel is not alive and idle; the caller then disposes it.
   */
  recycle(): Promise<void> {
    return this.enqueue(async () => {
      this.assertUsable();
      const inc = this.inc;
      if (!inc || this._state !== 'idle') {
        throw new KernelSessionError({ reason: `kernel session ${this.id} cannot be recycled while ${this._state}`, fix: 'dispose it and start a new one' });
      }
      // a sandboxed kernel sees only the folder bound at its launch: that one is emptied instead
      const inPlace = inc.proc.sandboxed;
      const fresh = inPlace ? emptyFolder(this._workdir) : mkdtempSync(path.join(path.dirname(this._workdir), 'codedance-'));
      if (!inPlace) registerFolder(fresh);
      const payload = b64(JSON.stringify({ workdir: fresh, orphanCleanup: [fresh, this.runtimeDir] }));
      this.setState('busy');
      let ok = false;
      try {
        const { outcome, result: res } = await preludeOp(inc, `_codedance_reset("${payload}")`, 10_000);
        if (!res || res.status !== 'ok') {
          const why = outcome.kind === 'exited' ? `the kernel ${outcome.info.description}` : outcome.kind === 'timeout' ? 'the kernel did not answer within 10 s' : res?.error ? `${res.error.ename}: ${res.error.evalue}` : 'no result';
          throw new KernelSessionError({ reason: `recycling kernel session ${this.id} failed: ${why}`, fix: 'dispose it and start a new one' });
        }
        ok = true;
      } finally {
        const old = ok ? this._workdir : fresh;
        if (!inPlace) {
          try {
            rmSync(old, { recursive: true, force: true });
          } catch {
            /* best effort */
          }
          unregisterFolder(old);
        }
        if (ok) {
          this._workdir = fresh;
          this.inputs = undefined;
          this.recycled++;
          writeOwner(this.runtimeDir, fresh);
          for (const f of readdirSync(this.runtimeDir).filter((n) => n.startsWith('input-'))) rmSync(path.join(this.runtimeDir, f), { force: true });
        }
        if (this.inc === inc) this.setState('idle');
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // dispose
  // -------------------------------------------------------------------------------------------

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const inc = this.inc;
    this.inc = undefined;
    void this.launchingProc?.kill();
    if (inc) {
      inc.killReason = 'dispose';
      if (inc.proc.alive) {
        // ask nicely on the control channel, then make sure
        const { reply } = inc.client.request('control', 'shutdown_request', { restart: false });
        const d = delay(500);
        await Promise.race([reply, d.promise, inc.proc.exited]).catch(() => undefined);
        d.cancel();
        if (!(await inc.proc.waitExit(500))) await inc.proc.kill();
      }
      inc.client.close();
    }
    if (this.starting) await this.starting.catch(() => undefined);
    await this.queue.catch(() => undefined);
    for (const d of [this.workdir, this.runtimeDir]) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
      unregisterFolder(d);
    }
    this._state = 'disposed';
    for (const l of [...this.listeners]) {
      try {
        l('disposed');
      } catch {
        /* ignore */
      }
    }
    this.listeners.clear();
  }
}

/** Starts a session and waits for its kernel (prelude loaded). */
export function startKernelSession(opts: KernelSessionOptions): Promise<JupyterKernelSession> {
  return JupyterKernelSession.start(opts);
}
