/**
 * One kernel on a Jupyter Server through `@jupyterlab/services`: start it over REST, watch its
 * status (a death the server answers with an automatic restart, our own restart, 'dead') and its
 * WebSocket (dropped -> reconnecting -> back), and run one execute_request with the outcome
 * shapes of the local kernel (request.ts), so that classify.ts reads both the same way.
 */
import { KernelAPI, KernelConnection, type Kernel, type KernelMessage, type ServerConnection } from '@jupyterlab/services';
import { delay, isSelfContainedReply, type KillReason, type RequestOutcome } from '../request';
import type { ExitInfo } from '../process';
import type { JupyterMessage } from '../wire';
import { displayUrl, serverError } from './server';

/** One life of the kernel process behind a kernel id (a restart makes the next one). */
export interface RemoteIncarnation {
  n: number;
  conn: KernelConnection;
  /** resolves when this life ends: the kernel died (the server restarted it), we restarted it, or it is gone */
  lost: Promise<ExitInfo>;
  markLost: (description: string) => void;
  isLost: () => boolean;
  killReason?: KillReason;
}

export function newIncarnation(conn: KernelConnection, n: number): RemoteIncarnation {
  let resolve!: (i: ExitInfo) => void;
  let lost = false;
  const p = new Promise<ExitInfo>((r) => (resolve = r));
  return {
    n,
    conn,
    lost: p,
    isLost: () => lost,
    markLost: (description) => {
      if (lost) return;
      lost = true;
      resolve({ code: null, signal: null, description, outputTail: '' });
    },
  };
}

/** Starts a kernel of `name` over REST and opens its WebSocket. */
export async function startRemoteKernel(settings: ServerConnection.ISettings, url: string, name: string): Promise<KernelConnection> {
  let model: Kernel.IModel;
  try {
    model = await KernelAPI.startNew({ name }, settings);
  } catch (e) {
    throw serverError(e, url, `starting a "${name}" kernel`);
  }
  return connectTo(settings, model);
}

/** A connection to an existing kernel (also to find a kernel again after a long outage). */
export function connectTo(settings: ServerConnection.ISettings, model: Kernel.IModel): KernelConnection {
  const conn = quietly(() => new KernelConnection({ model, serverSettings: settings, handleComms: false }));
  quietMethods(conn, ['_createSocket', '_updateStatus', '_reconnect']);
  return conn;
}

/** whether the server still has kernel `id` (undefined: it does not; throws when unreachable) */
export async function kernelStillThere(settings: ServerConnection.ISettings, url: string, id: string): Promise<boolean> {
  try {
    return (await KernelAPI.getKernelModel(id, settings)) !== undefined;
  } catch (e) {
    throw serverError(e, url, 'looking for its kernel');
  }
}

/**
 * `@jupyterlab/services` logs each WebSocket it opens, each status change and each reconnect
 * with console.debug/console.warn, which Node writes to stdout/stderr (the CLI's output). The
 * session reports these itself (state changes, errors): the library's lines are muted around
 * the (synchronous) methods that write them.
 */
function quietly<T>(fn: () => T): T {
  const { debug, warn } = console;
  console.debug = () => undefined;
  console.warn = () => undefined;
  try {
    return fn();
  } finally {
    console.debug = debug;
    console.warn = warn;
  }
}

function quietMethods(conn: KernelConnection, names: string[]): void {
  const o = conn as unknown as Record<string, unknown>;
  for (const name of names) {
    const f = o[name];
    if (typeof f !== 'function') continue;
    o[name] = (...a: unknown[]) => quietly(() => (f as (...x: unknown[]) => unknown).apply(conn, a));
  }
}

/** waits until the connection is 'connected', up to `ms`; false when it did not come back */
export function waitConnected(conn: KernelConnection, ms: number): Promise<boolean> {
  if (conn.connectionStatus === 'connected') return Promise.resolve(true);
  if (conn.isDisposed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const d = delay(ms);
    const on = (_: unknown, s: Kernel.ConnectionStatus) => {
      if (s === 'connected' || s === 'disconnected') finish(s === 'connected');
    };
    const finish = (ok: boolean) => {
      d.cancel();
      conn.connectionStatusChanged.disconnect(on);
      resolve(ok);
    };
    conn.connectionStatusChanged.connect(on);
    void d.promise.then(() => finish(conn.connectionStatus === 'connected'));
  });
}

/** kernel_info until the kernel answers (after a start or a restart), up to `ms` */
export async function waitKernelReady(conn: KernelConnection, url: string, ms: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (conn.isDisposed || conn.status === 'dead') break;
    if (conn.connectionStatus !== 'connected') {
      await waitConnected(conn, Math.min(1000, ms - (Date.now() - t0)));
      continue;
    }
    const d = delay(Math.min(2000, Math.max(1, ms - (Date.now() - t0))));
    try {
      const r = await Promise.race([conn.requestKernelInfo().then(() => 'ok' as const), d.promise.then(() => 'wait' as const)]);
      if (r === 'ok') return;
    } catch {
      await delay(100).promise; // restarting: the request was refused or cancelled
    } finally {
      d.cancel();
    }
  }
  throw serverError(
    new Error(`the kernel did not answer within ${Math.round(ms / 1000)} s (status ${conn.status}, connection ${conn.connectionStatus})`),
    url,
    'waiting for the kernel to start',
  );
}

/** a `@jupyterlab/services` message in the shape the collector and classify.ts read */
export function toWire(m: KernelMessage.IMessage): JupyterMessage {
  return {
    identities: [],
    header: m.header as unknown as JupyterMessage['header'],
    parent_header: m.parent_header as JupyterMessage['parent_header'],
    metadata: (m.metadata ?? {}) as Record<string, any>,
    content: m.content as Record<string, any>,
    buffers: (m.buffers ?? []).map(toBuffer),
  };
}

function toBuffer(b: ArrayBuffer | ArrayBufferView): Buffer {
  return ArrayBuffer.isView(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.from(b);
}

/**
 * One execute_request; resolves when its reply and idle are in, the kernel's life ends, or
 * `timeoutMs` passes. A request written into a WebSocket in the instant it dropped is lost with
 * it (the server replays what the kernel sent while the socket was away, but cannot replay what
 * never reached it): after the reconnection a kernel_info round trip tells — the kernel answers
 * shell requests in order, so a reply to it with nothing seen of ours means ours never arrived —
 * and the request is sent again, once.
 */
export async function remoteExecute(
  inc: RemoteIncarnation,
  code: string,
  opts: { onMessage: (m: JupyterMessage) => void; timeoutMs?: number },
): Promise<RequestOutcome> {
  if (inc.isLost()) return { kind: 'exited', info: await inc.lost, killReason: inc.killReason };
  // silent, as the local path (request.ts): no execute_input echo per cell; the prelude's hook runs it the same
  const content = { code, silent: true, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: false };
  let seen = false;
  let resent = false;
  let resend!: () => void;
  const resendWanted = new Promise<'resend'>((r) => (resend = () => r('resend')));
  // a reply that says the cell sent nothing else ends the request without waiting for 'idle'
  let selfContained!: (reply: JupyterMessage) => void;
  const endedByReply = new Promise<RequestOutcome>((r) => (selfContained = (reply) => r({ kind: 'done', reply })));
  const send = () => {
    const future = inc.conn.requestExecute(content, true);
    future.onIOPub = (m) => {
      seen = true;
      opts.onMessage(toWire(m));
    };
    future.onReply = (m) => {
      seen = true;
      if (isSelfContainedReply(m)) selfContained(toWire(m));
    };
    return future;
  };
  const onConnection = (_: unknown, s: Kernel.ConnectionStatus) => {
    if (s !== 'connected' || seen || resent) return;
    void inc.conn.requestKernelInfo().then(
      () => {
        if (!seen && !resent && !inc.isLost()) resend();
      },
      () => undefined,
    );
  };
  inc.conn.connectionStatusChanged.connect(onConnection);
  const timer = opts.timeoutMs === undefined ? undefined : delay(opts.timeoutMs);
  let future = send();
  try {
    for (;;) {
      const current = future;
      const r = await Promise.race<RequestOutcome | 'resend'>([
        current.done.then(
          (reply) => ({ kind: 'done' as const, reply: toWire(reply) }),
          // the future is cancelled when the kernel restarts or the connection is disposed
          async () => ({ kind: 'exited' as const, info: await inc.lost, killReason: inc.killReason }),
        ),
        endedByReply,
        inc.lost.then((info) => ({ kind: 'exited' as const, info, killReason: inc.killReason })),
        ...(timer ? [timer.promise.then(() => ({ kind: 'timeout' as const }))] : []),
        ...(resent ? [] : [resendWanted]),
      ]);
      if (r !== 'resend') return r;
      resent = true;
      future = send();
      current.dispose();
    }
  } finally {
    timer?.cancel();
    inc.conn.connectionStatusChanged.disconnect(onConnection);
  }
}

/** how a lost life is described in the result ("the Python kernel died (...)") */
export function lostWords(url: string, why: 'autorestart' | 'dead' | 'disconnected' | 'restart'): string {
  const where = displayUrl(url);
  switch (why) {
    case 'autorestart':
      return `the Jupyter server at ${where} found it dead and restarted it`;
    case 'dead':
      return `the Jupyter server at ${where} reports it dead`;
    case 'disconnected':
      return `the connection to the Jupyter server at ${where} was lost and did not come back`;
    case 'restart':
      return 'it was restarted through the Jupyter server';
  }
}
