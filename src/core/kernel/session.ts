/**
 * `JupyterKernelSession`: one question's persistent Python namespace in a real ipykernel
 * process, with its own working folder. Cells run one at a time (calls queue up).
 *
 * The session holds the state across incarnations of its kernel process; the seams are
 *   launch.ts       how the process is started (command, args, env, connection file)
 *   incarnation.ts  launch -> kernel_info handshake -> prelude -> (input images bound again)
 *   request.ts      one execute_request (and a cell's timeout / abort -> SIGINT -> kill)
 *   classify.ts     the cell's messages and outcome -> ExecutionResult (pure)
 *   sessionBase.ts  what it shares with the remote session: state, queue, a cell's start and end
 * If the process dies (os._exit, segfault, OOM kill, heartbeat silence) the running cell resolves
 * with status 'died' and a new incarnation starts at once; the next cell waits for it.
 * A timeout or an AbortSignal sends SIGINT; if the kernel is not idle within
 * `interruptGraceMs` it is killed and restarted (the result says `restarted: true`).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelSessionError } from './errors';
import { preludeOp, startIncarnation } from './incarnation';
import { type KernelProcess, registerFolder, RUNTIME_PREFIX, sweepStaleFolders, unregisterFolder, writeOwner } from './process';
import { delay, type Incarnation, startCell } from './request';
import { automaticMemoryLimitMb, emptyFolder } from './sandbox';
import { b64, DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_START_TIMEOUT_MS, KernelSessionBase } from './sessionBase';
import type { ExecuteOptions, ExecutionResult, KernelSession, KernelSessionOptions, PreparedImage, PrepareImageOptions } from './types';

export { DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_TIMEOUT_MS } from './sessionBase';
/** consecutive failed starts after which a dead session stops restarting on its own */
const MAX_AUTO_RESTART_FAILURES = 3;

export class JupyterKernelSession extends KernelSessionBase implements KernelSession {
  readonly id: string;
  private _workdir: string;
  readonly python: string;
  /** private folder: connection files, staged input bytes (never visible to the code) */
  private readonly runtimeDir: string;
  private inc: Incarnation | undefined;
  private launchingProc: KernelProcess | undefined;
  private inputs: { files: string[]; opts: PrepareImageOptions } | undefined;
  private incarnations = 0;
  private startFailures = 0;
  /** how many times the kernel was restarted after a death or a kill */
  restarts = 0;

  constructor(private readonly opts: KernelSessionOptions) {
    super(opts, 'acquire a new session from the pool');
    this.id = randomUUID();
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
    return KernelSessionBase.whenReady(new JupyterKernelSession(opts));
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

  // -------------------------------------------------------------------------------------------
  // starting and restarting
  // -------------------------------------------------------------------------------------------

  /** Resolves when a live kernel with the prelude (and inputs) is there; starts one if needed. */
  async ensureReady(): Promise<void> {
    this.assertUsable();
    await this.waitForKernel();
  }

  protected hasKernel(): boolean {
    return this.inc !== undefined;
  }

  protected beginStart(): void {
    const started = startIncarnation({
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
        quietBusy: true,
      },
      onSpawn: (proc) => (this.launchingProc = proc),
      prepare: async (inc) => {
        if (this.inputs) await this.bindInputs(inc, this.inputs.files, this.inputs.opts);
      },
      assertUsable: () => {
        if (this.disposed) throw new KernelSessionError({ reason: 'the session was disposed while its kernel started', fix: 'acquire a new session' });
      },
    });
    const placed = started.then((inc) => {
      void inc.proc.exited.then(() => this.onExit(inc));
      this.inc = inc;
      this.startFailures = 0;
    });
    this.trackStart(placed, () => this.startFailures++);
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
    if (this.startFailures < MAX_AUTO_RESTART_FAILURES) this.beginStart();
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

  protected async runCell(code: string, opts: ExecuteOptions): Promise<ExecutionResult> {
    const open = await this.openCell(opts);
    if (!('col' in open)) return open;
    const { timeoutMs, maxOutputBytes, graceMs, col } = open;
    const inc = this.inc!;
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
    return this.closeCell(open, run);
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
    await this.settleDisposed(() => {
      for (const d of [this.workdir, this.runtimeDir]) {
        try {
          rmSync(d, { recursive: true, force: true });
        } catch {
          /* best effort */
        }
        unregisterFolder(d);
      }
    });
  }
}

/** Starts a session and waits for its kernel (prelude loaded). */
export function startKernelSession(opts: KernelSessionOptions): Promise<JupyterKernelSession> {
  return JupyterKernelSession.start(opts);
}
