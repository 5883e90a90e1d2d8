/**
 * `JupyterKernelSession`: one question's persistent Python namespace in a real ipykernel
 * process, with its own working folder. Cells run one at a time (calls queue up). A session
 * serves one question and is never reset for another (see KernelPool.release).
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
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sweepStaleCgroupsSometimes } from './cgroup';
import { preparedImages } from './collector';
import { KernelSessionError } from './errors';
import { inputsDir, makeRuntimeDir, sweepStaleFolders, WORKDIR_PREFIX, writeExclusive } from './hostFolders';
import { type FastPathReport, fastPathsWanted } from './fastPaths';
import { preludeOp, startIncarnation } from './incarnation';
import { type KernelProcess, registerFolder, unregisterFolder } from './process';
import { delay, type Incarnation, startCell } from './request';
import { automaticMemoryLimitMb } from './sandbox';
import {
  b64,
  cellRequest,
  DEFAULT_MAX_IMAGE_BYTES,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_START_TIMEOUT_MS,
  KernelSessionBase,
} from './sessionBase';
import type { ExecuteOptions, ExecutionResult, KernelSession, KernelSessionOptions, PreparedImage, PrepareImageOptions } from './types';

/** consecutive failed starts after which a dead session stops restarting on its own */
const MAX_AUTO_RESTART_FAILURES = 3;

export class JupyterKernelSession extends KernelSessionBase implements KernelSession {
  readonly id: string;
  private readonly _workdir: string;
  readonly python: string;
  /** private folder (hostFolders.ts): ownership record, staged inputs, one folder per launch */
  private readonly runtimeDir: string;
  /** names each batch of staged input files anew (they are created exclusively) */
  private inputBatches = 0;
  private inc: Incarnation | undefined;
  private launchingProc: KernelProcess | undefined;
  private inputs: { files: string[]; opts: PrepareImageOptions } | undefined;
  private incarnations = 0;
  private startFailures = 0;
  /** how many times the kernel was restarted after a death or a kill */
  restarts = 0;
  /** which fast paths the current kernel uses, and why the others are off (fastPaths.ts) */
  fastPaths: FastPathReport | undefined;

  constructor(private readonly opts: KernelSessionOptions) {
    super(opts, 'acquire a new session from the pool');
    this.id = randomUUID();
    this.python = opts.python;
    const root = opts.workRoot ?? os.tmpdir();
    mkdirSync(root, { recursive: true });
    sweepStaleCgroupsSometimes();
    sweepStaleFolders();
    this._workdir = mkdtempSync(path.join(root, WORKDIR_PREFIX));
    registerFolder(this._workdir);
    this.runtimeDir = makeRuntimeDir(this._workdir);
    registerFolder(this.runtimeDir);
  }

  /** Creates a session and waits until its kernel is ready (prelude loaded). */
  static async start(opts: KernelSessionOptions): Promise<JupyterKernelSession> {
    return KernelSessionBase.whenReady(new JupyterKernelSession(opts));
  }

  /** the session's working folder (the code's cwd; input_image.jpg lives here) */
  get workdir(): string {
    return this._workdir;
  }

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
        fastPaths: fastPathsWanted(this.opts.fastPaths),
      },
      onFastPaths: (report) => {
        this.fastPaths = report;
        this.opts.onFastPaths?.(report);
      },
      onSpawn: (proc) => (this.launchingProc = proc),
      prepare: async (inc) => {
        if (this.inputs) await this.bindInputs(inc, this.inputs.files, this.inputs.opts);
      },
      assertUsable: () => {
        if (this.disposed)
          throw new KernelSessionError({ reason: 'the session was disposed while its kernel started', fix: 'acquire a new session' });
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
      const batch = ++this.inputBatches;
      const files = images.map((img, i) => {
        const f = path.join(inputsDir(this.runtimeDir), `input-${batch}-${i + 1}.bin`);
        writeExclusive(f, img, 0o644);
        return f;
      });
      const inc = this.inc!;
      this.setState('busy');
      try {
        const prepared = await this.bindInputs(inc, files, opts);
        const old = this.inputs?.files ?? [];
        this.inputs = { files, opts };
        for (const f of old) rmSync(f, { force: true }); // in the private inputs folder: the code cannot swap it
        return prepared;
      } finally {
        if (this.inc === inc) this.setState('idle');
      }
    });
  }

  private async bindInputs(inc: Incarnation, files: string[], opts: PrepareImageOptions): Promise<PreparedImage[]> {
    const payload = b64(
      JSON.stringify({
        files,
        options: {
          resize: opts.resize,
          minPixels: opts.minPixels ?? 4 * 28 * 28,
          maxPixels: opts.maxPixels ?? 16384 * 28 * 28,
          namespace: opts.namespace,
          modelImage: opts.modelImage,
        },
      }),
    );
    const {
      outcome,
      result: res,
      buffers,
    } = await preludeOp(inc, `_codedance_set_inputs("${payload}")`, Math.max(60000, this.opts.startTimeoutMs ?? 0));
    if (outcome.kind === 'exited') {
      throw new KernelSessionError({
        reason: `the Python kernel ${outcome.info.description} while preparing the input image(s)`,
        fix: 'the image may be too large for the memory limit: use a smaller image or raise memoryLimitMb',
      });
    }
    if (outcome.kind === 'timeout') {
      throw new KernelSessionError({
        reason: 'preparing the input image(s) in the kernel took more than 60 s',
        fix: 'use a smaller image',
      });
    }
    if (!res || res.status !== 'ok' || !res.prepared) {
      const why = res?.error
        ? `${res.error.ename}: ${res.error.evalue}`
        : `the kernel answered ${String((outcome.reply?.content as any)?.status ?? 'nothing')} without a result`;
      throw new KernelSessionError({
        reason: `the input image could not be prepared: ${why}`,
        fix: 'pass a PNG, JPEG, GIF, BMP or WebP file that Pillow can open',
      });
    }
    return preparedImages(res, buffers);
  }

  // -------------------------------------------------------------------------------------------
  // execution
  // -------------------------------------------------------------------------------------------

  protected async runCell(code: string, opts: ExecuteOptions): Promise<ExecutionResult> {
    const open = await this.openCell(opts);
    if (!('col' in open)) return open;
    const { timeoutMs, graceMs, col } = open;
    const inc = this.inc!;
    this.setState('busy');
    const cell = startCell(inc, cellRequest(code, open), { onMessage: (m) => col.handle(m), timeoutMs, graceMs, signal: opts.signal });
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
  // dispose
  // -------------------------------------------------------------------------------------------

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const inc = this.inc;
    this.inc = undefined;
    const launching = this.launchingProc?.kill();
    if (inc) {
      inc.killReason = 'dispose';
      if (inc.proc.alive) {
        // ask nicely on the control channel, then make sure
        const { reply } = inc.client.request('control', 'shutdown_request', { restart: false });
        const d = delay(500);
        await Promise.race([reply, d.promise, inc.proc.exited]).catch(() => undefined); // a refused shutdown: the kill below makes sure
        d.cancel();
        if (!(await inc.proc.waitExit(500))) await inc.proc.kill();
      }
      inc.client.close();
    }
    await launching;
    // 'exited' resolved: every process of the sandbox is gone, nothing can change these folders
    // off the event loop (many samples end at once in an eval)
    await this.settleDisposed(async () => {
      await Promise.all(
        [this.workdir, this.runtimeDir].map(async (d) => {
          // the kernel's own scratch folders (mkdtemp): left behind, they hold nothing to keep
          await rm(d, { recursive: true, force: true }).catch(() => undefined);
          unregisterFolder(d);
        }),
      );
    });
  }
}

/** Starts a session and waits for its kernel (prelude loaded). */
export function startKernelSession(opts: KernelSessionOptions): Promise<JupyterKernelSession> {
  return JupyterKernelSession.start(opts);
}
