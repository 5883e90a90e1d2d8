/**
 * One incarnation of a session's kernel: launch (launch.ts) -> connect -> kernel_info handshake
 * -> prelude loaded -> prepared (input images bound again after a restart) -> handed to the
 * session. A launch whose ports were taken in the meantime is retried with new ones; any other
 * failure is a KernelLaunchError that names the cause and the fix.
 */
import { KernelClient } from './client';
import { tailLines, stripAnsi } from './classify';
import { CellCollector } from './collector';
import { KernelLaunchError } from './errors';
import { FAST_PATHS_MARKER, type FastPathReport, readFastPathReport } from './fastPaths';
import { forkRefused } from './forkLaunch';
import { hostConnection, launchKernel, type LaunchedKernel } from './launch';
import { startFailureMessage, userTaskCount } from './startFailure';
import { type SandboxOptions, SandboxUnavailableError } from './sandbox';
import { PRELUDE_PY } from './prelude';
import type { KernelProcess } from './process';
import { delay, executeRequest, type Incarnation } from './request';
import type { JupyterMessage } from './wire';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** What the prelude's install() is told (see prelude/install.py). */
export interface PreludeConfig {
  workdir: string;
  memoryLimitMb: number | null;
  maxOutputBytes: number;
  expressionImageFormat: 'jpeg' | 'png';
  /** folders the kernel removes if Node dies without cleaning up */
  orphanCleanup: string[];
  /** cells skip IPython's run_cell (default true; false: the record comes as display_data) */
  hookExecute?: boolean;
  /** an encoded output image larger than this is not sent (an image failure instead), bytes */
  maxImageBytes?: number;
  /** no iopub 'busy' for our cells' requests: only for a private local kernel, whose one client
   * (ours) never reads it; never for a kernel on a Jupyter Server (it follows the status) */
  quietBusy?: boolean;
  /** a kernel on a Jupyter Server: our cells' 'busy' goes out only once the cell has run 50 ms
   * (a short cell's status stays as the server last saw it; a long one is 'busy' as always) */
  deferBusy?: boolean;
  /** the fast paths (prelude/fastpaths.py) may be used where they were tested; default true */
  fastPaths?: boolean;
}

export interface IncarnationOptions {
  python: string;
  workdir: string;
  runtimeDir: string;
  env?: Record<string, string>;
  /** sandbox, network, limits, passEnv (sandbox.ts) */
  sandbox?: SandboxOptions;
  /** the next incarnation number (each launch attempt takes one) */
  nextNumber: () => number;
  startTimeoutMs: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  prelude: PreludeConfig;
  /** called with each process as soon as it is spawned (so that a dispose can kill it) */
  onSpawn?: (proc: KernelProcess | undefined) => void;
  /** runs on the ready kernel before it is handed over (input images bound again) */
  prepare?: (inc: Incarnation) => Promise<void>;
  /** checked before each attempt and after prepare: throws to abandon the start */
  assertUsable?: () => void;
  /** called with what the prelude says of its fast paths, each time it is loaded */
  onFastPaths?: (report: FastPathReport) => void;
}

/** Starts a kernel and makes it ready; the caller watches `inc.proc.exited` from then on. */
export async function startIncarnation(opts: IncarnationOptions): Promise<Incarnation> {
  let lastErr: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    opts.assertUsable?.();
    const n = opts.nextNumber();
    const launched = await launchKernel({
      python: opts.python,
      workdir: opts.workdir,
      runtimeDir: opts.runtimeDir,
      n,
      env: opts.env,
      sandbox: opts.sandbox,
    }).catch((e: Error) => {
      throw e instanceof SandboxUnavailableError
        ? new KernelLaunchError({ reason: `the kernel sandbox is required but ${e.reason}`, fix: e.fix })
        : e;
    });
    const { proc } = launched;
    opts.onSpawn?.(proc);
    const conn = await hostConnection(launched, opts.runtimeDir, n, opts.startTimeoutMs).catch(async (e: Error) => {
      await proc.kill();
      throw new KernelLaunchError({
        reason: `the kernel's sockets could not be used: ${e.message}`,
        fix: 'retry; if it persists, report it (the sandboxed code may have tampered with its connection folder)',
      });
    });
    if (conn === 'exited' || conn === 'timeout') {
      await (conn === 'timeout' ? proc.kill() : proc.exited);
      opts.onSpawn?.(undefined);
      if (conn === 'exited' && attempt < 2 && worthAnotherLaunch(launched)) continue;
      lastErr = conn === 'exited' ? exitedError(launched, opts) : timeoutError(proc, opts.startTimeoutMs, 'its sockets did not appear');
      break;
    }
    const client: KernelClient = new KernelClient(conn, {
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
      heartbeatTimeoutMs: opts.heartbeatTimeoutMs,
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
      await handshake(inc, launched, opts);
      await loadPrelude(inc, opts, launched.forked);
      if (opts.prepare) await opts.prepare(inc);
      opts.assertUsable?.();
      opts.onSpawn?.(undefined);
      return inc;
    } catch (e) {
      inc.client.close();
      await proc.kill();
      opts.onSpawn?.(undefined);
      lastErr = e as Error;
      if (attempt < 2 && worthAnotherLaunch(launched)) continue;
      break;
    }
  }
  throw lastErr;
}

/**
 * A failed start that another launch may fix: another process took one of the ports between
 * picking and binding (new ones are picked), or the sandbox refused the fork (forks are off for
 * this interpreter now: the next launch starts a new interpreter).
 */
function worthAnotherLaunch(launched: LaunchedKernel): boolean {
  return /Address already in use|EADDRINUSE/i.test(launched.proc.outputTail) || (launched.forked && forkRefused(launched.proc));
}

/** kernel_info until it answers on shell and iopub is seen to deliver (subscription live). */
async function handshake(inc: Incarnation, launched: LaunchedKernel, opts: IncarnationOptions): Promise<void> {
  const { client, proc } = inc;
  const timeoutMs = opts.startTimeoutMs;
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
        // the kernel is up but iopub's subscription joined after its status messages: ask again
        // now rather than at the next 250 ms tick (that wait was a quarter of a cold start)
        else if (!quick) quick = setTimeout(() => ((quick = undefined), send()), 5);
      },
      () => undefined,
    );
  };
  let quick: NodeJS.Timeout | undefined;
  send();
  const resend = setInterval(send, 250);
  const timer = delay(timeoutMs);
  try {
    const r = await Promise.race([
      ready.then(() => 'ready' as const),
      proc.exited.then(() => 'exited' as const),
      timer.promise.then(() => 'timeout' as const),
    ]);
    if (r === 'exited') throw exitedError(launched, opts);
    if (r === 'timeout')
      throw timeoutError(proc, timeoutMs, gotReply ? 'the shell answered but no iopub output arrived' : 'no reply to kernel_info');
  } finally {
    clearInterval(resend);
    clearTimeout(quick);
    timer.cancel();
    unlisten();
  }
}

/** the start failed because the kernel process ended: its real cause (startFailure.ts), and the fix */
function exitedError(launched: LaunchedKernel, opts: IncarnationOptions): KernelLaunchError {
  const { proc, limits, cgroupLimited, runAs } = launched;
  const info = proc.exit!;
  const message = startFailureMessage(
    {
      exit: info,
      python: opts.python,
      sandboxed: proc.sandboxed,
      memoryLimitMb: launched.memoryLimitMb,
      memoryPerSandbox: cgroupLimited.memory,
      maxProcesses: limits.maxProcesses,
      processesPerSandbox: cgroupLimited.pids || limits.nproc === 'per-sandbox',
      runAsUser: limits.runAsUser,
      events: info.cgroupEvents,
      tasksOfUser: limits.nproc === 'per-user' && runAs ? userTaskCount(runAs.uid) : undefined,
    },
    launched.describe,
    tailLines,
  );
  return new KernelLaunchError({ reason: message.reason, fix: message.fix }, info.outputTail);
}

function timeoutError(proc: KernelProcess, timeoutMs: number, what: string): KernelLaunchError {
  return new KernelLaunchError(
    {
      reason: `The Python kernel did not answer within ${Math.round(timeoutMs / 1000)} s of starting (${what}).${proc.outputTail.trim() ? `\nIts output so far:\n${tailLines(proc.outputTail, 15).join('\n')}` : ''}`,
      fix: 'the machine may be overloaded, or a firewall blocks 127.0.0.1 TCP ports; retry, or raise startTimeoutMs',
    },
    proc.outputTail,
  );
}

/** The code that loads the prelude as module _codedance and installs it with `config`. */
export function preludeLoader(config: PreludeConfig & { watchParent: boolean }): string {
  return [
    'import base64 as _cd_b, json as _cd_j, sys as _cd_s, types as _cd_t',
    '_cd_m = _cd_t.ModuleType("_codedance")',
    `exec(compile(_cd_b.b64decode("${b64(PRELUDE_PY)}").decode("utf-8"), "<codedance-prelude>", "exec"), _cd_m.__dict__)`,
    '_cd_s.modules["_codedance"] = _cd_m',
    `_cd_r = _cd_m.install("${b64(JSON.stringify(config))}")`,
    // which fast paths are on, and why the others are off (readFastPathReport)
    `print(${JSON.stringify(FAST_PATHS_MARKER)} + _cd_j.dumps(_cd_r.get("fastPaths")))`,
    'del _cd_b, _cd_j, _cd_s, _cd_t, _cd_m, _cd_r',
  ].join('\n');
}

/** The code that installs the prelude a forked kernel has already loaded (its template executed it). */
export function preludeInstaller(config: PreludeConfig & { watchParent: boolean }): string {
  return [
    'import json as _cd_j, _codedance as _cd_m',
    `_cd_r = _cd_m.install("${b64(JSON.stringify(config))}")`,
    `print(${JSON.stringify(FAST_PATHS_MARKER)} + _cd_j.dumps(_cd_r.get("fastPaths")))`,
    'del _cd_j, _cd_m, _cd_r',
  ].join('\n');
}

async function loadPrelude(inc: Incarnation, opts: IncarnationOptions, forked: boolean): Promise<void> {
  const timeoutMs = opts.startTimeoutMs;
  const limit = opts.prelude.memoryLimitMb;
  const config = { ...opts.prelude, watchParent: true };
  const code = forked ? preludeInstaller(config) : preludeLoader(config);
  let stdout = '';
  const onMessage = (m: JupyterMessage) => {
    const c = m.content as { name?: string; text?: string };
    if (m.header.msg_type === 'stream' && c.name === 'stdout') stdout += c.text ?? '';
  };
  const r = await executeRequest(inc, code, { onMessage, timeoutMs });
  const fix = `run \`${opts.python} -c "import ipykernel, PIL, numpy, matplotlib"\` to see what is broken; reinstall the failing package, or choose another interpreter`;
  if (r.kind === 'exited') {
    const tail = r.info.outputTail;
    throw new KernelLaunchError(
      {
        reason: `The Python kernel ${r.info.description} while loading the CodeDance prelude.${tail.trim() ? `\nIts last output:\n${tailLines(tail, 15).join('\n')}` : ''}`,
        fix: limit ? `memoryLimitMb (${limit}) may be too low for numpy/matplotlib: raise it; or ${fix}` : fix,
      },
      tail,
    );
  }
  if (r.kind === 'timeout') {
    throw new KernelLaunchError({
      reason: `The CodeDance prelude did not finish within ${Math.round(timeoutMs / 1000)} s (importing numpy, matplotlib and PIL).`,
      fix: 'the machine may be overloaded; retry, or raise startTimeoutMs',
    });
  }
  const c = (r.reply?.content ?? { status: 'error', ename: 'NoReply', evalue: 'the kernel sent no execute_reply' }) as Record<string, any>;
  if (c.status !== 'ok') {
    const tb = Array.isArray(c.traceback) ? (c.traceback as string[]).join('\n') : '';
    throw new KernelLaunchError({
      reason: `The CodeDance prelude failed in the kernel: ${c.ename}: ${c.evalue}\n${stripAnsi(tb)}`,
      fix: limit && c.ename === 'MemoryError' ? `raise memoryLimitMb (now ${limit})` : fix,
    });
  }
  const report = readFastPathReport(stdout);
  if (report) opts.onFastPaths?.(report);
}

/** Runs one of the prelude's operations (inputs, reset) and returns its result record. */
export async function preludeOp(inc: Incarnation, code: string, timeoutMs: number) {
  const col = new CellCollector(undefined);
  const outcome = await executeRequest(inc, code, { onMessage: (m) => col.handle(m), timeoutMs });
  return { outcome, result: outcome.kind === 'done' ? col.result : undefined, buffers: col.resultBuffers };
}
