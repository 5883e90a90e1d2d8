/**
 * One execute_request on a live kernel, the only request path: the prelude's setup, input
 * images, recycling and the model's cells all go through `executeRequest`. A cell adds the
 * interrupt machinery on top (`startCell`: timeout or abort -> SIGINT -> kill after a grace
 * period). What the messages mean is classify.ts's job.
 */
import type { KernelClient } from './client';
import { KernelProtocolError } from './errors';
import type { ExitInfo, KernelProcess } from './process';
import type { JupyterMessage } from './wire';

/** after execute_reply, how long to wait for iopub's idle before going on without it */
const IDLE_AFTER_REPLY_MS = 5000;
/** after iopub's idle, how long to wait for a missing execute_reply (an interrupt outside the cell) */
const REPLY_AFTER_IDLE_MS = 500;

export type KillReason = 'timeout' | 'cancelled' | 'heartbeat' | 'dispose';

/** One live kernel process and its connection (see incarnation.ts). */
export interface Incarnation {
  n: number;
  proc: KernelProcess;
  client: KernelClient;
  /** why this side killed the process, if it did */
  killReason?: KillReason;
  heartbeatSilenceMs?: number;
}

/** How a request ended: completed (reply and idle seen), the process exited, or the wait ran out. */
export type RequestOutcome =
  | { kind: 'done'; reply: JupyterMessage | undefined }
  | { kind: 'exited'; info: ExitInfo; killReason?: KillReason; heartbeatSilenceMs?: number }
  | { kind: 'timeout' };

export function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let t: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((r) => (t = setTimeout(r, ms)));
  return { promise, cancel: () => clearTimeout(t) };
}

/**
 * Whether a reply ends its request by itself: the prelude's record in it says the cell sent no
 * iopub message but its status (`iopub: 0`, counted up to the reply; its output and images came
 * in the reply), so there is nothing left to wait for before 'idle'.
 */
export function isSelfContainedReply(m: { content?: unknown }): boolean {
  const rec = (m.content as { codedance?: { iopub?: unknown } } | undefined)?.codedance;
  return rec?.iopub === 0;
}

/**
 * Resolves when a request is complete: its reply and its iopub 'idle' both arrived (so all of
 * its output has been seen), or a reply that says nothing else came (isSelfContainedReply).
 * If one of the two never comes (a dropped iopub message, an interrupt landing between
 * handlers), goes on after a grace period with what there is.
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
        if (gotIdle || isSelfContainedReply(m)) finish();
        else t = setTimeout(finish, IDLE_AFTER_REPLY_MS);
      },
      () => undefined, // a failed connection ends the request through executeRequest's race; a closed one through the exit
    );
    void idle.then(() => {
      gotIdle = true;
      if (gotReply) finish();
      else t = setTimeout(finish, REPLY_AFTER_IDLE_MS);
    });
  });
}

export interface RequestOptions {
  /** each iopub message of this request, in order */
  onMessage: (m: JupyterMessage) => void;
  /** stop waiting after this long (outcome 'timeout'); default: wait for the reply or the exit */
  timeoutMs?: number;
  /** execute_request's `silent`: no execute_input echo on iopub (one message less per cell; the
   * prelude's hook runs our cells the same either way, and its record carries the count) */
  silent?: boolean;
}

/** one watcher of a process's exit for all its requests (see whenExited); a side table keyed by the process, gone with it */
const exitWatch = new WeakMap<KernelProcess, { info?: ExitInfo; listeners: Set<(info: ExitInfo) => void> }>();

/**
 * Resolves when `proc` exits; `cancel()` forgets the listener. A `proc.exited.then(…)` per
 * request would stay attached to the live process's promise until it exits: one reaction per
 * cell, thousands over a long eval on a recycled kernel.
 */
function whenExited(proc: KernelProcess): { promise: Promise<ExitInfo>; cancel: () => void } {
  let w = exitWatch.get(proc);
  if (!w) {
    const watch: { info?: ExitInfo; listeners: Set<(info: ExitInfo) => void> } = { listeners: new Set() };
    void proc.exited.then((info) => {
      watch.info = info;
      for (const l of [...watch.listeners]) l(info);
      watch.listeners.clear();
    });
    exitWatch.set(proc, watch);
    w = watch;
  }
  const watch = w;
  let listener: ((info: ExitInfo) => void) | undefined;
  const promise = new Promise<ExitInfo>((resolve) => {
    if (watch.info) resolve(watch.info);
    else watch.listeners.add((listener = resolve));
  });
  return { promise, cancel: () => listener && watch.listeners.delete(listener) };
}

/**
 * Sends `code` as an execute_request and waits for its completion or the kernel's exit. Rejects
 * with a KernelProtocolError when the connection fails, or (once the request has ended) when
 * `onMessage` threw: its output was not all recorded, and a result without it would mislead.
 */
export async function executeRequest(inc: Incarnation, code: string, opts: RequestOptions): Promise<RequestOutcome> {
  let idleResolve!: () => void;
  const idle = new Promise<void>((r) => (idleResolve = r));
  let unlisten = () => {};
  let handlerError: { error: unknown; msgType: string } | undefined;
  const content = {
    code,
    silent: opts.silent ?? false,
    store_history: false,
    user_expressions: {},
    allow_stdin: false,
    stop_on_error: false,
  };
  const { reply } = inc.client.request('shell', 'execute_request', content, (id) => {
    unlisten = inc.client.listen(id, (m) => {
      try {
        opts.onMessage(m);
      } catch (e) {
        handlerError ??= { error: e, msgType: m.header.msg_type };
      }
      if (m.header.msg_type === 'status' && (m.content as { execution_state?: string }).execution_state === 'idle') idleResolve();
    });
  });
  // a failed connection (KernelClient.fail) delivers nothing more: end now; a closed one ends through the exit
  const connectionLost = reply.then(
    () => new Promise<never>(() => {}),
    (e: unknown) => (e instanceof KernelProtocolError ? Promise.reject(e) : new Promise<never>(() => {})),
  );
  const timer = opts.timeoutMs === undefined ? undefined : delay(opts.timeoutMs);
  const exit = whenExited(inc.proc);
  try {
    const outcome = await Promise.race<RequestOutcome>([
      completion(reply, idle).then((r) => ({ kind: 'done' as const, reply: r })),
      exit.promise.then((info) => ({
        kind: 'exited' as const,
        info,
        killReason: inc.killReason,
        heartbeatSilenceMs: inc.heartbeatSilenceMs,
      })),
      ...(timer ? [timer.promise.then(() => ({ kind: 'timeout' as const }))] : []),
      connectionLost,
    ]);
    if (handlerError) {
      const why = (handlerError.error as Error)?.message ?? String(handlerError.error);
      throw new KernelProtocolError({
        reason: `a ${handlerError.msgType} message of the cell could not be recorded (${why}), so its output is incomplete`,
        fix: 'run the cell again; if it fails the same way, report it with the cell',
        error: handlerError.error,
      });
    }
    return outcome;
  } finally {
    timer?.cancel();
    exit.cancel();
    unlisten();
  }
}

export interface CellRequestOptions {
  onMessage: (m: JupyterMessage) => void;
  /** SIGINT after this long */
  timeoutMs: number;
  /** after an interrupt, how long the kernel has to become idle before it is killed */
  graceMs: number;
  signal?: AbortSignal;
}

export interface CellRun {
  outcome: Exclude<RequestOutcome, { kind: 'timeout' }>;
  /** why the cell was interrupted, if it was */
  interruptReason?: 'timeout' | 'cancelled';
  durationMs: number;
}

/**
 * Runs a cell's execute_request with its timeout and abort signal: an interrupt sends SIGINT,
 * and a kernel still running `graceMs` later is killed (the outcome is then 'exited' with the
 * kill reason). `interrupt` lets the session cancel the cell from outside.
 */
export function startCell(
  inc: Incarnation,
  code: string,
  opts: CellRequestOptions,
): { interrupt: (reason: 'timeout' | 'cancelled') => void; done: Promise<CellRun> } {
  const t0 = performance.now();
  let interruptReason: 'timeout' | 'cancelled' | undefined;
  let graceTimer: NodeJS.Timeout | undefined;
  const interrupt = (reason: 'timeout' | 'cancelled') => {
    if (interruptReason || !inc.proc.alive) return;
    interruptReason = reason;
    inc.proc.interrupt();
    graceTimer = setTimeout(() => {
      if (!inc.proc.alive) return;
      inc.killReason = reason;
      void inc.proc.kill();
    }, opts.graceMs);
  };
  const timer = setTimeout(() => interrupt('timeout'), opts.timeoutMs);
  const onAbort = () => interrupt('cancelled');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const done = executeRequest(inc, code, { onMessage: opts.onMessage, silent: true })
    .then((outcome) => ({ outcome: outcome as CellRun['outcome'], interruptReason, durationMs: performance.now() - t0 }))
    .finally(() => {
      clearTimeout(timer);
      clearTimeout(graceTimer);
      opts.signal?.removeEventListener('abort', onAbort);
    });
  return { interrupt, done };
}
