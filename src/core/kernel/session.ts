/**
 * `JupyterKernelSession`: one question's persistent Python namespace in a real ipykernel
 * process, with its own working folder. Cells run one at a time (calls queue up).
 *
 * Lifecycle of the process behind a session (an "incarnation"):
 *   launch -> kernel_info handshake -> prelude -> (input images bound again after a restart)
 *   -> idle/busy ... -> exit.
 * If it dies (os._exit, segfault, OOM kill, heartbeat silence) the running cell resolves with
 * status 'died' and a new incarnation starts at once; the next cell waits for it.
 * A timeout or an AbortSignal sends SIGINT; if the kernel is not idle within
 * `interruptGraceMs` it is killed and restarted (the result says `restarted: true`).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelClient } from './client';
import { createConnectionInfo, writeConnectionFile } from './connection';
import { CellCollector, type PreludeResult } from './collector';
import { KernelLaunchError, KernelSessionError } from './errors';
import { PRELUDE_PY } from './prelude';
import { type ExitInfo, KernelProcess, registerFolder, RUNTIME_PREFIX, sweepStaleFolders, unregisterFolder, writeOwner } from './process';
import type {
  ExecuteOptions,
  ExecutionError,
  ExecutionResult,
  KernelSession,
  KernelSessionOptions,
  KernelState,
  OutputImage,
  PreparedImage,
  PrepareImageOptions,
} from './types';
import type { JupyterMessage } from './wire';

export const DEFAULT_TIMEOUT_MS = 30000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;
const DEFAULT_START_TIMEOUT_MS = 60000;
const DEFAULT_INTERRUPT_GRACE_MS = 3000;
/** after execute_reply, how long to wait for iopub's idle before going on without it */
const IDLE_AFTER_REPLY_MS = 5000;
/** after iopub's idle, how long to wait for a missing execute_reply (an interrupt outside the cell) */
const REPLY_AFTER_IDLE_MS = 500;
/** consecutive failed starts after which a dead session stops restarting on its own */
const MAX_AUTO_RESTART_FAILURES = 3;

type KillReason = 'timeout' | 'cancelled' | 'heartbeat' | 'dispose';

interface Incarnation {
  n: number;
  proc: KernelProcess;
  client: KernelClient;
  killReason?: KillReason;
  heartbeatSilenceMs?: number;
}

interface Running {
  interrupt: (reason: 'timeout' | 'cancelled') => void;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** the seconds as Python's str() prints the seed's value (30 -> "30", 1.5 -> "1.5") */
function pySeconds(ms: number): string {
  return String(ms / 1000);
}

function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let t: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((r) => (t = setTimeout(r, ms)));
  return { promise, cancel: () => clearTimeout(t) };
}

/**
 * Resolves when a request is complete: its reply and its iopub 'idle' both arrived (so all of
 * its output has been seen). If one of the two never comes (a dropped iopub message, an
 * interrupt landing between handlers), goes on after a grace period with what there is.
 */
function completion(reply: Promise<JupyterMessage>, idle: Promise<void>): Promise<JupyterMessage | undefined> {
  return new Promise((resolve) => {
    let msg: JupyterMessage | undefined;
    let gotReply = false;
    let gotIdle = false;
    let t: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(t);
      resolve(msg);
    };
    reply.then(
      (m) => {
        msg = m;
        gotReply = true;
        if (gotIdle) finish();
        else t = setTimeout(finish, IDLE_AFTER_REPLY_MS);
      },
      () => undefined,
    );
    void idle.then(() => {
      gotIdle = true;
      if (gotReply) finish();
      else t = setTimeout(finish, REPLY_AFTER_IDLE_MS);
    });
  });
}

function tailLines(s: string, n = 40): string[] {
  const lines = s.trimEnd().split('\n');
  return lines.slice(-n);
}

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

  constructor(private readonly opts: KernelSessionOptions) {
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
      if (!this.starting) this.startIncarnation();
      await this.starting;
      this.assertUsable();
      if (!this.inc && this.lastStartError) throw this.lastStartError;
    }
  }

  private startIncarnation(): void {
    this.setState('starting');
    this.starting = this.launch()
      .then((inc) => {
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

  private kernelEnv(): Record<string, string | undefined> {
    return {
      ...process.env,
      ...this.opts.env,
      MPLBACKEND: 'Agg',
      JPY_PARENT_PID: String(process.pid),
      PYDEVD_DISABLE_FILE_VALIDATION: '1',
      PYTHONIOENCODING: 'utf-8',
    };
  }

  private async launch(): Promise<Incarnation> {
    const startTimeout = this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    let lastErr: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.assertUsable();
      const n = ++this.incarnations;
      const conn = await createConnectionInfo();
      const connFile = path.join(this.runtimeDir, `kernel-${n}.json`);
      writeConnectionFile(connFile, conn);
      const proc = new KernelProcess({
        python: this.python,
        connectionFile: connFile,
        cwd: this.workdir,
        env: this.kernelEnv(),
        extraArgs: ['--HistoryManager.enabled=False', '--IPKernelApp.quiet=True'],
      });
      this.launchingProc = proc;
      const client: KernelClient = new KernelClient(conn, {
        heartbeatIntervalMs: this.opts.heartbeatIntervalMs,
        heartbeatTimeoutMs: this.opts.heartbeatTimeoutMs,
        onHeartbeatLost: (silent) => {
          if (!proc.alive || inc.killReason) return;
          inc.killReason = 'heartbeat';
          inc.heartbeatSilenceMs = silent;
          void proc.kill();
        },
      });
      const inc: Incarnation = { n, proc, client };
      client.connect();
      try {
        await this.handshake(inc, startTimeout);
        await this.loadPrelude(inc, startTimeout);
        if (this.inputs) await this.bindInputs(inc, this.inputs.files, this.inputs.opts);
        if (this.disposed) throw new KernelSessionError({ reason: 'the session was disposed while its kernel started', fix: 'acquire a new session' });
        this.launchingProc = undefined;
        void proc.exited.then((info) => this.onExit(inc, info));
        return inc;
      } catch (e) {
        inc.client.close();
        await proc.kill();
        this.launchingProc = undefined;
        lastErr = e as Error;
        const tail = proc.outputTail;
        // another process took one of the ports between picking and binding: try new ones
        if (/Address already in use|EADDRINUSE/i.test(tail) && attempt < 2) continue;
        break;
      }
    }
    throw lastErr;
  }

  /** kernel_info until it answers on shell and iopub is seen to deliver (subscription live). */
  private async handshake(inc: Incarnation, timeoutMs: number): Promise<void> {
    const { client, proc } = inc;
    const ids = new Set<string>();
    let gotReply = false;
    let gotIopub = false;
    let done!: () => void;
    const ready = new Promise<void>((r) => (done = r));
    const unlisten = client.listenAll((m) => {
      if (m.parent_header.msg_id && ids.has(m.parent_header.msg_id)) {
        gotIopub = true;
        if (gotReply) done();
      }
    });
    const send = () => {
      const { msgId, reply } = client.request('shell', 'kernel_info_request', {}, (id) => ids.add(id));
      if (!msgId) return;
      reply.then(
        () => {
          gotReply = true;
          if (gotIopub) done();
        },
        () => undefined,
      );
    };
    send();
    const resend = setInterval(send, 250);
    const timer = delay(timeoutMs);
    try {
      const r = await Promise.race([ready.then(() => 'ready' as const), proc.exited.then(() => 'exited' as const), timer.promise.then(() => 'timeout' as const)]);
      if (r === 'exited') {
        const info = proc.exit!;
        throw new KernelLaunchError(
          {
            reason: `The Python kernel (${this.python} -m ipykernel_launcher) ${info.description} while starting.${info.outputTail.trim() ? `\nIts last output:\n${tailLines(info.outputTail, 15).join('\n')}` : ''}`,
            fix: `check that \`${this.python} -m ipykernel_launcher --version\` works; install ipykernel for this interpreter (\`${this.python} -m pip install ipykernel\`, or on Debian/Ubuntu's /usr/bin/python3: \`sudo apt-get install python3-ipykernel\`), or choose another interpreter in codedance.python.interpreter`,
          },
          info.outputTail,
        );
      }
      if (r === 'timeout') {
        throw new KernelLaunchError(
          {
            reason: `The Python kernel did not answer within ${Math.round(timeoutMs / 1000)} s of starting (${gotReply ? 'the shell answered but no iopub output arrived' : 'no reply to kernel_info'}).${proc.outputTail.trim() ? `\nIts output so far:\n${tailLines(proc.outputTail, 15).join('\n')}` : ''}`,
            fix: 'the machine may be overloaded, or a firewall blocks 127.0.0.1 TCP ports; retry, or raise startTimeoutMs',
          },
          proc.outputTail,
        );
      }
    } finally {
      clearInterval(resend);
      timer.cancel();
      unlisten();
    }
  }

  /** Runs one internal execute_request and collects its iopub output. */
  private async internalExecute(inc: Incarnation, code: string, timeoutMs: number): Promise<{ reply: JupyterMessage | undefined; col: CellCollector } | { exited: ExitInfo } | { timeout: true }> {
    const col = new CellCollector(undefined);
    let idleResolve!: () => void;
    const idle = new Promise<void>((r) => (idleResolve = r));
    let unlisten = () => {};
    const { reply } = inc.client.request('shell', 'execute_request', { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: false }, (id) => {
      unlisten = inc.client.listen(id, (m) => {
        col.handle(m);
        if (m.header.msg_type === 'status' && (m.content as any).execution_state === 'idle') idleResolve();
      });
    });
    const timer = delay(timeoutMs);
    try {
      return await Promise.race([
        completion(reply, idle).then((r) => ({ reply: r, col })),
        inc.proc.exited.then((info) => ({ exited: info })),
        timer.promise.then(() => ({ timeout: true as const })),
      ]);
    } finally {
      timer.cancel();
      unlisten();
    }
  }

  private async loadPrelude(inc: Incarnation, timeoutMs: number): Promise<void> {
    const config = {
      workdir: this.workdir,
      memoryLimitMb: this.opts.memoryLimitMb ?? null,
      maxOutputBytes: this.opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      expressionImageFormat: this.opts.expressionImageFormat ?? 'jpeg',
      watchParent: true,
      // if Node dies without cleaning up, the kernel removes these as it exits
      orphanCleanup: [this.workdir, this.runtimeDir],
    };
    const code = [
      'import base64 as _cd_b, sys as _cd_s, types as _cd_t',
      '_cd_m = _cd_t.ModuleType("_codedance")',
      `exec(compile(_cd_b.b64decode("${b64(PRELUDE_PY)}").decode("utf-8"), "<codedance-prelude>", "exec"), _cd_m.__dict__)`,
      '_cd_s.modules["_codedance"] = _cd_m',
      `_cd_m.install("${b64(JSON.stringify(config))}")`,
      'del _cd_b, _cd_s, _cd_t, _cd_m',
    ].join('\n');
    const r = await this.internalExecute(inc, code, timeoutMs);
    const fix = `run \`${this.python} -c "import ipykernel, PIL, numpy, matplotlib"\` to see what is broken; reinstall the failing package, or choose another interpreter`;
    if ('exited' in r) {
      throw new KernelLaunchError({ reason: `The Python kernel ${r.exited.description} while loading the CodeDance prelude.${r.exited.outputTail.trim() ? `\nIts last output:\n${tailLines(r.exited.outputTail, 15).join('\n')}` : ''}`, fix: this.opts.memoryLimitMb ? `memoryLimitMb (${this.opts.memoryLimitMb}) may be too low for numpy/matplotlib: raise it; or ${fix}` : fix }, r.exited.outputTail);
    }
    if ('timeout' in r) {
      throw new KernelLaunchError({ reason: `The CodeDance prelude did not finish within ${Math.round(timeoutMs / 1000)} s (importing numpy, matplotlib and PIL).`, fix: 'the machine may be overloaded; retry, or raise startTimeoutMs' });
    }
    const c = (r.reply?.content ?? { status: 'error', ename: 'NoReply', evalue: 'the kernel sent no execute_reply' }) as Record<string, any>;
    if (c.status !== 'ok') {
      const tb = Array.isArray(c.traceback) ? (c.traceback as string[]).join('\n') : '';
      throw new KernelLaunchError({ reason: `The CodeDance prelude failed in the kernel: ${c.ename}: ${c.evalue}\n${stripAnsi(tb)}`, fix: this.opts.memoryLimitMb && c.ename === 'MemoryError' ? `raise memoryLimitMb (now ${this.opts.memoryLimitMb})` : fix });
    }
  }

  // -------------------------------------------------------------------------------------------
  // death
  // -------------------------------------------------------------------------------------------

  private onExit(inc: Incarnation, _info: ExitInfo): void {
    inc.client.close();
    if (this.inc !== inc) return; // an incarnation already replaced or disposed
    this.inc = undefined;
    if (this.disposed) return;
    this.setState('dead');
    this.restarts++;
    // the session goes on: a new kernel starts now; the next cell waits for it
    if (this.startFailures < MAX_AUTO_RESTART_FAILURES) this.startIncarnation();
  }

  private deathDescription(inc: Incarnation, info: ExitInfo): string {
    if (inc.killReason === 'heartbeat') return `it stopped answering its heartbeat for ${Math.round((inc.heartbeatSilenceMs ?? 0) / 1000)} s and was killed`;
    return info.description;
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
    const r = await this.internalExecute(inc, `_codedance_set_inputs("${payload}")`, Math.max(60000, this.opts.startTimeoutMs ?? 0));
    if ('exited' in r) {
      throw new KernelSessionError({ reason: `the Python kernel ${r.exited.description} while preparing the input image(s)`, fix: 'the image may be too large for the memory limit: use a smaller image or raise memoryLimitMb' });
    }
    if ('timeout' in r) {
      throw new KernelSessionError({ reason: 'preparing the input image(s) in the kernel took more than 60 s', fix: 'use a smaller image' });
    }
    const res = r.col.result;
    if (!res || res.status !== 'ok' || !res.prepared) {
      const why = res?.error ? `${res.error.ename}: ${res.error.evalue}` : `the kernel answered ${String((r.reply?.content as any)?.status ?? 'nothing')} without a result`;
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
    const grace = this.opts.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS;
    const t0 = performance.now();
    const col = new CellCollector(maxOutputBytes, opts.onOutput);
    let interruptReason: 'timeout' | 'cancelled' | undefined;
    let idleResolve!: () => void;
    const idle = new Promise<void>((r) => (idleResolve = r));
    let unlisten = () => {};
    let graceTimer: NodeJS.Timeout | undefined;

    this.setState('busy');
    const payload = b64(JSON.stringify({ code, maxOutputBytes }));
    const { reply } = inc.client.request(
      'shell',
      'execute_request',
      { code: `_codedance_run("${payload}")`, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: false },
      (id) => {
        unlisten = inc.client.listen(id, (m) => {
          col.handle(m);
          if (m.header.msg_type === 'status' && (m.content as any).execution_state === 'idle') idleResolve();
        });
      },
    );

    const interrupt = (reason: 'timeout' | 'cancelled') => {
      if (interruptReason || !inc.proc.alive) return;
      interruptReason = reason;
      inc.proc.interrupt();
      graceTimer = setTimeout(() => {
        if (!inc.proc.alive) return;
        inc.killReason = reason;
        void inc.proc.kill();
      }, grace);
    };
    const timer = setTimeout(() => interrupt('timeout'), timeoutMs);
    const onAbort = () => interrupt('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    this.running = { interrupt };

    let outcome: { kind: 'done'; reply: JupyterMessage | undefined } | { kind: 'exited'; info: ExitInfo };
    try {
      outcome = await Promise.race([
        completion(reply, idle).then((r) => ({ kind: 'done' as const, reply: r })),
        inc.proc.exited.then((info) => ({ kind: 'exited' as const, info })),
      ]);
    } finally {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      unlisten();
      this.running = undefined;
      if (this.inc === inc && inc.proc.alive) this.setState('idle');
    }
    if (outcome.kind === 'done') {
      const rec = (outcome.reply?.content as Record<string, any> | undefined)?.codedance as PreludeResult | undefined;
      col.addTail('stdout', rec?.stdout);
      col.addTail('stderr', rec?.stderr);
    }
    col.finish();
    const durationMs = performance.now() - t0;
    const base = { stdout: col.stdout, stderr: col.stderr, durationMs };

    if (outcome.kind === 'exited') {
      const images = col.orderedImages();
      const reason = inc.killReason;
      if (reason === 'timeout' || reason === 'cancelled' || reason === 'dispose') {
        const status = reason === 'timeout' ? 'timeout' : 'cancelled';
        const err = reason === 'timeout' ? timeoutError(timeoutMs) : cancelError(reason === 'dispose' ? 'the session was disposed while the cell ran' : 'the cell was cancelled');
        err.traceback = [
          `the cell did not stop within ${grace / 1000} s of the interrupt, so the kernel was ${reason === 'dispose' ? 'shut down' : 'restarted; variables were lost'}`,
        ];
        return this.withImages({ ...base, status, error: err, restarted: reason !== 'dispose' }, images, false);
      }
      const desc = this.deathDescription(inc, outcome.info);
      return this.withImages(
        {
          ...base,
          status: 'died',
          error: {
            ename: 'KernelDied',
            evalue: `the Python kernel died (${desc}); it was restarted and variables were lost`,
            traceback: tailLines(outcome.info.outputTail, 40),
          },
          restarted: true,
        },
        images,
        false,
      );
    }

    const replyContent = (outcome.reply?.content ?? {}) as Record<string, any>;
    // the record comes in the reply (do_execute hook) or as display_data (plain run_cell)
    const res = (replyContent.codedance as PreludeResult | undefined) ?? col.result;
    const images = col.orderedImages();
    const truncated = res?.truncated && (res.truncated.stdout || res.truncated.stderr || col.clientDropped.stdout || col.clientDropped.stderr) ? { stdout: res.truncated.stdout + col.clientDropped.stdout, stderr: res.truncated.stderr + col.clientDropped.stderr } : col.clientDropped.stdout || col.clientDropped.stderr ? { ...col.clientDropped } : undefined;
    const common = { ...base, executionCount: res?.count, ...(truncated ? { truncated } : {}) };

    const interrupted = res ? res.status === 'interrupted' : !outcome.reply || (replyContent.status === 'error' && replyContent.ename === 'KeyboardInterrupt');
    if (interrupted && interruptReason) {
      const err = interruptReason === 'timeout' ? timeoutError(timeoutMs) : cancelError('the cell was cancelled');
      return this.withImages({ ...common, status: interruptReason, error: err }, images, false);
    }
    if (res) {
      if (res.status === 'ok') return this.withImages({ ...common, status: 'ok' }, images, true);
      if (res.status === 'exit') return this.withImages({ ...common, status: 'ok', exited: true }, images, false);
      const e = res.error ?? { ename: 'Error', evalue: 'unknown error', traceback: [] };
      return this.withImages({ ...common, status: 'error', error: toExecutionError(e) }, images, false);
    }
    // no result record: the wrapper itself failed (should not happen) — use IPython's reply
    if (!outcome.reply) {
      return this.withImages({ ...common, status: 'error', error: { ename: 'KernelError', evalue: 'the kernel finished the cell without a reply', traceback: [] } }, images, false);
    }
    if (replyContent.status === 'ok') return this.withImages({ ...common, status: 'ok' }, images, true);
    const e = col.ipythonError ?? { ename: String(replyContent.ename ?? 'Error'), evalue: String(replyContent.evalue ?? ''), traceback: (replyContent.traceback as string[]) ?? [] };
    return this.withImages({ ...common, status: 'error', error: { ename: e.ename, evalue: e.evalue, traceback: e.traceback.map(stripAnsi) } }, images, false);
  }

  /** The seed returns images only for a cell that succeeded; the rest go to droppedImages. */
  private withImages(r: Omit<ExecutionResult, 'images'>, images: OutputImage[], succeeded: boolean): ExecutionResult {
    if (succeeded || this.opts.keepImagesOnFailure) return { ...r, images };
    return { ...r, images: [], ...(images.length ? { droppedImages: images } : {}) };
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
      const root = path.dirname(this._workdir);
      const fresh = mkdtempSync(path.join(root, 'codedance-'));
      registerFolder(fresh);
      const payload = b64(JSON.stringify({ workdir: fresh, orphanCleanup: [fresh, this.runtimeDir] }));
      this.setState('busy');
      let ok = false;
      try {
        const r = await this.internalExecute(inc, `_codedance_reset("${payload}")`, 10_000);
        const res = 'col' in r ? r.col.result : undefined;
        if (!res || res.status !== 'ok') {
          const why = 'exited' in r ? `the kernel ${r.exited.description}` : 'timeout' in r ? 'the kernel did not answer within 10 s' : res?.error ? `${res.error.ename}: ${res.error.evalue}` : 'no result';
          throw new KernelSessionError({ reason: `recycling kernel session ${this.id} failed: ${why}`, fix: 'dispose it and start a new one' });
        }
        ok = true;
      } finally {
        const old = ok ? this._workdir : fresh;
        try {
          rmSync(old, { recursive: true, force: true });
        } catch {
          /* best effort */
        }
        unregisterFolder(old);
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

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

function toExecutionError(e: NonNullable<PreludeResult['error']>): ExecutionError {
  const out: ExecutionError = { ename: e.ename, evalue: e.evalue, traceback: e.traceback ?? [] };
  if (typeof e.lineno === 'number') out.lineno = e.lineno;
  return out;
}

function timeoutError(timeoutMs: number): ExecutionError {
  return { ename: 'TimeoutError', evalue: `Code execution timed out after ${pySeconds(timeoutMs)} seconds`, traceback: [] };
}

function cancelError(why: string): ExecutionError {
  return { ename: 'KeyboardInterrupt', evalue: why, traceback: [] };
}

function cancelledResult(durationMs: number, why: string): ExecutionResult {
  return { status: 'cancelled', stdout: '', stderr: '', images: [], error: cancelError(why), durationMs };
}

/** Starts a session and waits for its kernel (prelude loaded). */
export function startKernelSession(opts: KernelSessionOptions): Promise<JupyterKernelSession> {
  return JupyterKernelSession.start(opts);
}
