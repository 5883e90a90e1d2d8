/**
 * `RemoteKernelSession`: a `KernelSession` whose kernel runs on a Jupyter Server (URL + token),
 * through `@jupyterlab/services` (REST to start, interrupt, restart and shut down; the kernel
 * WebSocket for messages). Same prelude, same result classification (classify.ts) and redaction
 * as the local kernel, so chat, eval and the CLI use it unchanged.
 *
 * No shared filesystem: the working folder is made by the kernel on its own machine
 * (`tempfile.mkdtemp`), input images travel as bytes and are saved there by the prelude, output
 * images come back as display data. A kernel that dies is restarted by the server; the session
 * loads the prelude again and binds the input images again (the result says 'died'). A dropped
 * WebSocket is reconnected with the same kernel; while it is away the state is 'dead', a cell
 * waits `reconnectWaitMs` for it and otherwise fails with an error naming the server. A kernel
 * the server lost (it was restarted) is replaced by a new one at the next cell.
 */
import { randomUUID } from 'node:crypto';
import type { Kernel, KernelConnection, ServerConnection } from '@jupyterlab/services';
import { KernelSessionError } from '../errors';
import { type FastPathReport, fastPathsWanted, withPath } from '../fastPaths';
import { processSecrets } from '../../secrets';
import { delay } from '../request';
import {
  cellRequest,
  DEFAULT_MAX_IMAGE_BYTES,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_START_TIMEOUT_MS,
  KernelSessionBase,
} from '../sessionBase';
import type { ExecuteOptions, ExecutionResult, KernelSession, KernelTuning, PreparedImage, PrepareImageOptions } from '../types';
import {
  connectTo,
  kernelStillThere,
  lostWords,
  newIncarnation,
  remoteExecute,
  type RemoteIncarnation,
  startRemoteKernel,
  waitConnected,
  waitKernelReady,
} from './connection';
import { bindRemoteInputs, loadRemotePrelude, removeRemoteFolders, type SetupContext, setUpRemoteFolders } from './setup';
import { chooseKernelSpec, displayUrl, type JupyterServerOptions, serverSettings, WS_VERSION, wsFramesOff } from './server';

export interface RemoteKernelSessionOptions
  extends
    JupyterServerOptions,
    Pick<
      KernelTuning,
      | 'redact'
      | 'maxOutputBytes'
      | 'maxImageBytes'
      | 'expressionImageFormat'
      | 'keepImagesOnFailure'
      | 'startTimeoutMs'
      | 'interruptGraceMs'
      | 'memoryLimitMb'
      | 'fastPaths'
      | 'onFastPaths'
    > {
  /** kernelspec on the server; default: the server's default kernelspec */
  kernelName?: string;
  /** how long a cell waits for a dropped WebSocket to come back before failing, ms; default 15000 */
  reconnectWaitMs?: number;
}

const DEFAULT_RECONNECT_WAIT_MS = 15000;

/** The setup context (setup.ts) of a kernel on a Jupyter server. */
function remoteContext(inc: RemoteIncarnation, server: string, kernelName: string, startTimeoutMs: number): SetupContext {
  return {
    exec: (code, onMessage, timeoutMs) => remoteExecute(inc, code, { onMessage, timeoutMs }),
    where: `the kernel "${kernelName}" on the Jupyter server at ${server}`,
    label: `${kernelName}@${server}`,
    otherwise: 'choose another kernelspec',
    startTimeoutMs,
    chdir: true,
  };
}

export class RemoteKernelSession extends KernelSessionBase implements KernelSession {
  readonly id = randomUUID();
  /** the server's base URL (no token) */
  readonly server: string;
  private readonly settings: ServerConnection.ISettings;
  private conn: KernelConnection | undefined;
  private inc: RemoteIncarnation | undefined;
  private inputs: { images: Uint8Array[]; opts: PrepareImageOptions } | undefined;
  private folders: { workdir: string; runtimeDir: string; pid: number } | undefined;
  private incarnations = 0;
  /** the connection is not to be trusted any more (dead, gave up, or its kernel is gone) */
  private staleConn = false;
  /** kernelspec in use (resolved at the first start) */
  kernelName: string | undefined;
  /** how many times the kernel was restarted (a death, a kill after an interrupt) or replaced */
  restarts = 0;
  /** which fast paths the current kernel (and this side's `ws`) uses, and why the others are off */
  fastPaths: FastPathReport | undefined;

  constructor(private readonly opts: RemoteKernelSessionOptions) {
    super(opts, 'start a new session');
    this.settings = serverSettings(opts);
    // the token never shows in what a cell prints, nor in a log (core/secrets)
    processSecrets.add(this.settings.token);
    this.server = displayUrl(this.settings.baseUrl);
    this.kernelName = opts.kernelName;
  }

  /** Creates a session and waits until its kernel is ready (prelude loaded). */
  static async start(opts: RemoteKernelSessionOptions): Promise<RemoteKernelSession> {
    return KernelSessionBase.whenReady(new RemoteKernelSession(opts));
  }

  /** the working folder on the server's machine ('' until the kernel is up) */
  get workdir(): string {
    return this.folders?.workdir ?? '';
  }

  /** what runs the code: the kernelspec on the server */
  get python(): string {
    return `${this.kernelName ?? 'default kernelspec'} on ${this.server}`;
  }

  /** the conversation says where the code runs */
  get where(): string {
    return `the kernel "${this.kernelName ?? 'default'}" on the Jupyter server at ${this.server}`;
  }

  /** pid of the kernel process on the server's machine (diagnostics, tests) */
  get pid(): number | undefined {
    return this.inc ? this.folders?.pid : undefined;
  }

  /** the server's kernel id (diagnostics, tests) */
  get kernelId(): string | undefined {
    return this.conn?.id;
  }

  // -------------------------------------------------------------------------------------------
  // starting, watching, restarting
  // -------------------------------------------------------------------------------------------

  /** Resolves when a kernel with the prelude (and inputs) is there; starts or finds one if needed. */
  async ensureReady(): Promise<void> {
    this.assertUsable();
    if (this.inc && this.conn?.connectionStatus !== 'connected') await this.awaitConnection();
    await this.waitForKernel();
  }

  protected hasKernel(): boolean {
    return this.inc !== undefined;
  }

  /**
   * A dropped WebSocket: wait for it. When it does not come back, ask the server over REST: the
   * kernel is still there -> reconnect now; the server has no such kernel (it was restarted) ->
   * a new kernel; the server does not answer -> say so (the session stays usable).
   */
  private async awaitConnection(): Promise<void> {
    const conn = this.conn!;
    if (await waitConnected(conn, this.opts.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS)) return;
    if (!this.inc || this.conn !== conn || conn.connectionStatus === 'connected') return;
    let there: boolean;
    try {
      there = await kernelStillThere(this.settings, this.settings.baseUrl, conn.id);
    } catch {
      throw new KernelSessionError({
        reason: `the connection to the kernel on the Jupyter server at ${this.server} is lost (${conn.connectionStatus}) and the server does not answer; the kernel may still be running there`,
        fix: 'check that the server is up and reachable; the session reconnects on its own, ask again once it is back',
        retryable: true,
      });
    }
    if (there && !conn.isDisposed) {
      const back = conn.reconnect().then(
        () => true,
        () => false,
      );
      const d = delay(this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
      const ok = await Promise.race([back, d.promise.then(() => false)]);
      d.cancel();
      if (ok) return;
    }
    // the server lost the kernel (it was restarted): the next life is a new kernel
    this.lose('dead');
  }

  protected beginStart(): void {
    this.trackStart(this.startIncarnation().then((inc) => void (this.inc = inc)));
  }

  private async startIncarnation(): Promise<RemoteIncarnation> {
    const url = this.settings.baseUrl;
    const startTimeoutMs = this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    const conn = await this.connection();
    await waitKernelReady(conn, url, startTimeoutMs);
    const inc = newIncarnation(conn, ++this.incarnations);
    const ctx = remoteContext(inc, this.server, this.kernelName ?? conn.name, startTimeoutMs);
    const before = this.folders;
    this.folders = await setUpRemoteFolders(ctx, before);
    // the same kernel process found again after a long outage: its prelude and variables are there
    if (before && before.pid === this.folders.pid) return inc;
    await this.loadPrelude(ctx, this.folders.workdir);
    if (this.inputs) await bindRemoteInputs(ctx, this.folders.runtimeDir, this.inputs.images, this.inputs.opts);
    this.assertUsable();
    return inc;
  }

  /** The kernel's connection: the live one; after the WebSocket gave up, the same kernel if the server still has it; else a new kernel. */
  private async connection(): Promise<KernelConnection> {
    const url = this.settings.baseUrl;
    let conn = this.conn;
    if (conn && (this.staleConn || conn.isDisposed || conn.status === 'dead' || conn.connectionStatus === 'disconnected')) {
      this.staleConn = false;
      const id = conn.id;
      const model = conn.model;
      this.dropConnection();
      conn = (await kernelStillThere(this.settings, url, id)) ? this.adopt(connectTo(this.settings, model)) : undefined;
      if (!conn) this.restarts++;
    }
    if (conn) return conn;
    const spec = await chooseKernelSpec(this.settings, url, this.kernelName);
    this.kernelName = spec.name;
    this.assertUsable();
    conn = this.adopt(await startRemoteKernel(this.settings, url, spec.name));
    if (this.disposed) {
      await conn.shutdown().catch(() => undefined); // disposed while starting: the new kernel holds nothing of ours yet
      this.assertUsable();
    }
    return conn;
  }

  /** The prelude into a new kernel process; its fast-path report, with this side's own (WebSocket frames), is said. */
  private async loadPrelude(ctx: Parameters<typeof loadRemotePrelude>[0], workdir: string): Promise<void> {
    const report = await loadRemotePrelude(ctx, {
      // the server follows the status: a long cell shows 'busy' as always, a short one costs a message less
      deferBusy: true,
      fastPaths: fastPathsWanted(this.opts.fastPaths),
      workdir,
      memoryLimitMb: this.opts.memoryLimitMb || null,
      maxOutputBytes: this.opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
      expressionImageFormat: this.opts.expressionImageFormat ?? 'jpeg',
      orphanCleanup: [],
      maxImageBytes: this.opts.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES,
    });
    if (report) {
      // this side's fast path: large frames of the kernel WebSocket (server.ts FramesWebSocket)
      this.fastPaths = withPath(report, 'ws_frames', ['ws', WS_VERSION], wsFramesOff(this.opts.fastPaths));
      this.opts.onFastPaths?.(this.fastPaths);
    }
  }

  /** the session's connection: its status changes end incarnations, its socket drops show as 'dead' */
  private adopt(conn: KernelConnection): KernelConnection {
    this.conn = conn;
    conn.statusChanged.connect((_, s: Kernel.Status) => {
      if (this.conn !== conn) return;
      if (s === 'autorestarting') this.lose('autorestart');
      else if (s === 'restarting') this.lose('restart');
      else if (s === 'dead') this.lose('dead');
    });
    conn.connectionStatusChanged.connect((_, s: Kernel.ConnectionStatus) => {
      if (this.conn !== conn || this.disposed) return;
      if (s === 'disconnected') this.lose('disconnected');
      else if (s === 'connecting' && this.inc) this.setState('dead');
      else if (s === 'connected' && this.inc && !this.starting) this.setState(this.running ? 'busy' : 'idle');
    });
    return conn;
  }

  private dropConnection(): void {
    const conn = this.conn;
    this.conn = undefined;
    if (conn && !conn.isDisposed) conn.dispose();
  }

  /** this life of the kernel is over: a running cell resolves 'died'; the next cell waits for a new one */
  private lose(why: 'autorestart' | 'dead' | 'disconnected' | 'restart'): void {
    const inc = this.inc;
    if (!inc || inc.isLost()) return;
    // the server says 'restarting' also when it restarts a kernel that died
    if (why === 'restart' && !inc.killReason) why = 'autorestart';
    inc.markLost(lostWords(this.settings.baseUrl, why));
    if (why === 'dead' || why === 'disconnected') this.staleConn = true;
    this.inc = undefined;
    if (this.disposed) return;
    this.restarts++;
    this.setState('dead');
    // a kernel the server restarted (or we did): load the prelude again at once
    if ((why === 'autorestart' || why === 'restart') && !this.starting) this.beginStart();
  }

  // -------------------------------------------------------------------------------------------
  // input images
  // -------------------------------------------------------------------------------------------

  setInputImages(images: Uint8Array[], opts: PrepareImageOptions): Promise<PreparedImage[]> {
    return this.enqueue(async () => {
      this.assertUsable();
      await this.ensureReady();
      const inc = this.inc!;
      this.setState('busy');
      try {
        const ctx = remoteContext(inc, this.server, this.kernelName ?? '', this.opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
        const prepared = await bindRemoteInputs(ctx, this.folders!.runtimeDir, images, opts);
        this.inputs = { images: images.map((i) => Uint8Array.from(i)), opts };
        return prepared;
      } finally {
        if (this.inc === inc) this.setState('idle');
      }
    });
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
    const t0 = performance.now();
    let interruptReason: 'timeout' | 'cancelled' | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    const interrupt = (reason: 'timeout' | 'cancelled') => {
      if (interruptReason || inc.isLost()) return;
      interruptReason = reason;
      inc.conn.interrupt().catch(() => undefined); // REST POST .../interrupt; if it is lost, the grace timer restarts the kernel
      graceTimer = setTimeout(() => {
        if (inc.isLost()) return;
        inc.killReason = reason;
        // REST POST .../restart: the status change ends this life (lose('restart'))
        inc.conn.restart().catch(() => this.lose('dead'));
      }, graceMs);
    };
    const timer = setTimeout(() => interrupt('timeout'), timeoutMs);
    const onAbort = () => interrupt('cancelled');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    this.running = { interrupt };
    let outcome;
    try {
      outcome = await remoteExecute(inc, cellRequest(code, open), { onMessage: (m) => col.handle(m) });
    } finally {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      this.running = undefined;
      if (this.inc === inc && this.conn?.connectionStatus === 'connected') this.setState('idle');
    }
    if (outcome.kind === 'timeout')
      throw new KernelSessionError({ reason: 'unreachable: a cell has no request timeout', fix: 'report this as a bug' });
    return this.closeCell(open, { outcome, interruptReason, durationMs: performance.now() - t0 });
  }

  // -------------------------------------------------------------------------------------------
  // dispose
  // -------------------------------------------------------------------------------------------

  /** Removes the working folder on the server, shuts the kernel down over REST and closes the socket. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const inc = this.inc;
    const conn = this.conn;
    if (inc) {
      inc.killReason = 'dispose';
      if (!this.running && this.folders && this.conn?.connectionStatus === 'connected') {
        // a working folder left on the server holds only scratch files of finished cells
        await removeRemoteFolders(remoteContext(inc, this.server, this.kernelName ?? '', 3000), this.folders).catch(() => undefined);
      }
      inc.markLost('it was shut down');
    }
    if (conn && !conn.isDisposed) {
      const d = delay(5000);
      await Promise.race([conn.shutdown().catch(() => undefined), d.promise]); // disposing: a kernel the server keeps holds nothing we need
      d.cancel();
      conn.dispose();
    }
    this.conn = undefined;
    this.inc = undefined;
    await this.settleDisposed();
  }
}

/** Starts a session on a Jupyter Server and waits for its kernel (prelude loaded). */
export function startRemoteKernelSession(opts: RemoteKernelSessionOptions): Promise<RemoteKernelSession> {
  return RemoteKernelSession.start(opts);
}
