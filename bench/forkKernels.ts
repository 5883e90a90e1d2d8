/**
 * The forked-kernel PROTOTYPE, measured against today's pool (docs/kernels.md, "Forked kernels").
 * Bench only: nothing in src/ uses it.
 *
 * Today: every kernel is a new `bwrap … python -m ipykernel_launcher` (kernel/launch.ts), and
 * each pays Python's, ipykernel's, numpy's, PIL's and matplotlib's imports and the prelude.
 * Prototype: one template process (forkTemplate.py) has imported them once; per kernel, Node
 * makes the same sandbox as today (kernel/sandbox.ts planKernelLaunch: the same bwrap mounts and
 * namespaces, the kernel's own cgroup, its own working folder, no network) with `sleep` in it
 * (the "holder"); the template forks, the fork joins the holder's namespaces and cgroup, sets
 * the same limits, user and seccomp program, and starts ipykernel; Node connects over the
 * kernel's ipc sockets as today and installs the prelude (already executed in the template).
 *
 * Measured per kernel, started one after another: the time from the request to a kernel with
 * the prelude installed (the pool's: `KernelPool.acquire` of a pool that starts on demand), and
 * its memory: USS (Private_Clean + Private_Dirty of /proc/<pid>/smaps_rollup) of every process
 * of the kernel's sandbox; pages a fork still shares with the template are not its own.
 * `probe` runs the same code in a pool kernel and a forked one: what each can see and do
 * (kernelMeasure.ts: the probe, /proc's USS and CPU time, today's pool).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createKernelCgroup, type KernelCgroup } from '../src/core/kernel/cgroup';
import { KernelClient } from '../src/core/kernel/client';
import { connectionFileText, createIpcConnectionInfo, type ConnectionInfo } from '../src/core/kernel/connection';
import { makeFreshDir, writeExclusive } from '../src/core/kernel/hostFolders';
import { kernelEnv } from '../src/core/kernel/launch';
import { PRELUDE_PY } from '../src/core/kernel/prelude';
import type { KernelProcess } from '../src/core/kernel/process';
import { executeRequest } from '../src/core/kernel/request';
import { planKernelLaunch } from '../src/core/kernel/sandbox';
import { cpuMs, probeCode, processTree, type Started, ussMb } from './kernelMeasure';

/** The template: started once, with the kernels' environment; forks a kernel per request. */
class Template {
  private readonly lines: AsyncIterator<string>;
  private nextId = 0;
  readonly readyMs: Promise<number>;
  private constructor(
    readonly proc: ChildProcess,
    private readonly preludeFile: string,
  ) {
    this.lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
    const t0 = performance.now();
    this.readyMs = this.line().then(() => performance.now() - t0);
  }

  static start(python: string, env: Record<string, string>): Template {
    const preludeFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'codedance-fork-prelude-')), 'prelude.py');
    writeFileSync(preludeFile, PRELUDE_PY);
    const proc = spawn(python, [path.join(__dirname, 'forkTemplate.py'), preludeFile], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    return new Template(proc, preludeFile);
  }

  private async line(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('the fork template ended');
    return JSON.parse(r.value);
  }

  /** one request at a time (the bench starts kernels one after another) */
  async fork(req: Record<string, unknown>): Promise<{ pid: number; forkMs: number }> {
    this.proc.stdin!.write(`${JSON.stringify({ id: this.nextId++, ...req })}\n`);
    const a = await this.line();
    if (typeof a.pid !== 'number') throw new Error(`the fork failed: ${String(a.error)}`);
    return { pid: a.pid, forkMs: Number(a.forkMs) };
  }

  async close(): Promise<void> {
    this.proc.stdin!.end();
    this.proc.kill('SIGKILL');
    rmSync(path.dirname(this.preludeFile), { recursive: true, force: true });
  }
}

/** One forked kernel: its holder (bwrap), its cgroup, its folders, its client. */
interface Forked {
  holder: ChildProcess;
  holderExited: Promise<void>;
  cgroup?: KernelCgroup;
  pid: number;
  /** the fork alone, template side, ms */
  forkMs: number;
  /** ms: planning the launch (folders included), the holder sandbox up, the fork answered */
  phases: { plan: number; holder: number; fork: number };
  workdir: string;
  runtime: string;
  client: KernelClient;
  conn: ConnectionInfo;
}

/** the sandbox's limits as prlimit gets them in today's launch (`--as=`, `--nproc=`, `--cpu=`) */
function limitsOf(args: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of args) {
    const m = /^--(as|nproc|cpu)=(\d+)$/.exec(a);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** the sandbox today's launch would make for a kernel, with `sleep` in it; the fork joins it */
async function forkOne(t: Template, python: string): Promise<Forked> {
  const t0 = performance.now();
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'codedance-fork-'));
  const runtime = mkdtempSync(path.join(os.tmpdir(), 'codedance-fork-rt-'));
  const kdir = path.join(runtime, 'k-1');
  const plan = await planKernelLaunch({ python, args: [], env: kernelEnv(undefined), workdir, writable: [kdir], network: false });
  if (!plan.sandboxed) throw new Error('the fork prototype measures the sandboxed kernel: bubblewrap is not usable here');
  const owner = plan.runAs;
  if (owner) chownSync(workdir, owner.uid, owner.gid);
  makeFreshDir(kdir, 0o700, owner);
  const conn = createIpcConnectionInfo(path.join(kdir, 'k'));
  const connectionFile = path.join(kdir, 'kernel.json');
  writeExclusive(connectionFile, connectionFileText(conn), 0o600, owner);
  const end = plan.args.indexOf('--');
  const t1 = performance.now();
  const cgroup = plan.cgroupLimits ? createKernelCgroup(plan.cgroupLimits) : undefined;
  // the line it prints says the sandbox is made: bwrap reports its init (info-fd) before the mounts are done
  const holderArgs = [...plan.args.slice(0, end + 1), '/bin/sh', '-c', 'echo made; exec sleep infinity'];
  const run = cgroup ? cgroup.wrap(plan.command, holderArgs) : { command: plan.command, args: holderArgs };
  // the cgroup's cgroup.procs files, as the wrapper joins them
  const procs = cgroup ? run.args.slice(run.args.indexOf('codedance-cgroup') + 1, run.args.indexOf('--')) : [];
  const holder = spawn(run.command, run.args, {
    env: { ...plan.env, ...('env' in run ? run.env : {}) },
    stdio: ['ignore', 'pipe', 'inherit', 'pipe', 'pipe'],
  });
  const made = new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
  const holderExited = new Promise<void>((r) => holder.once('exit', () => r()));
  (holder.stdio[4] as NodeJS.WritableStream).end(Buffer.from(plan.seccomp ?? new Uint8Array()));
  const init = await new Promise<number>((resolve, reject) => {
    let text = '';
    (holder.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => {
      text += b.toString();
      const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    holder.once('exit', (c) => reject(new Error(`the holder sandbox exited (${c})`)));
  });
  await made;
  const t2 = performance.now();
  const { pid, forkMs } = await t.fork({
    holder: init,
    workdir,
    connectionFile,
    runAs: owner ?? null,
    limits: limitsOf(plan.args.slice(end + 1)),
    seccomp: plan.seccomp ? Buffer.from(plan.seccomp).toString('base64') : null,
    cgroupProcs: procs,
  });
  const phases = { plan: t1 - t0, holder: t2 - t1, fork: performance.now() - t2 };
  const client = new KernelClient(conn, { heartbeatIntervalMs: 0 });
  client.connect();
  return { holder, holderExited, cgroup, pid, forkMs, phases, workdir, runtime, client, conn };
}

/** kernel_info until it answers, then the prelude installed (the module is the template's) */
async function makeReady(k: Forked): Promise<void> {
  const inc = { n: 1, proc: { exited: k.holderExited.then(() => ({})) } as unknown as KernelProcess, client: k.client };
  for (let i = 0; ; i++) {
    const { reply } = k.client.request('shell', 'kernel_info_request', {});
    const r = await Promise.race([reply.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 100))]);
    if (r) break;
    const why = (() => {
      try {
        return readFileSync(path.join(k.workdir, '.fork-error'), 'utf8');
      } catch {
        return undefined;
      }
    })();
    if (why || i > 300) {
      const alive = (() => {
        try {
          return readFileSync(`/proc/${k.pid}/status`, 'utf8')
            .split('\n')
            .filter((l) => /^(State|NSpid|Threads)/.test(l))
            .join('; ');
        } catch {
          return 'gone';
        }
      })();
      const sockets = (() => {
        try {
          return readdirSync(path.dirname(k.conn.ip)).join(' ');
        } catch (e) {
          return (e as Error).message;
        }
      })();
      throw new Error(
        `the forked kernel did not answer kernel_info: ${why ?? 'nothing within 30 s'} (kernel ${k.pid}: ${alive}; its folder: ${sockets})`,
      );
    }
  }
  const config = {
    workdir: k.workdir,
    memoryLimitMb: null,
    maxOutputBytes: 1 << 20,
    expressionImageFormat: 'jpeg',
    orphanCleanup: [],
    quietBusy: true,
    fastPaths: true,
    watchParent: true,
  };
  const code = `import _codedance as _cd_m\n_cd_m.install("${Buffer.from(JSON.stringify(config)).toString('base64')}")\ndel _cd_m`;
  const out = await executeRequest(inc, code, { onMessage: () => undefined, timeoutMs: 30_000 });
  const status = out.kind === 'done' ? (out.reply?.content as { status?: string })?.status : out.kind;
  if (status !== 'ok') throw new Error(`the prelude did not install in the forked kernel: ${status}`);
}

async function closeForked(k: Forked): Promise<void> {
  k.client.close();
  k.holder.kill('SIGKILL');
  await k.holderExited;
  await k.cgroup?.killAll(5000);
  await k.cgroup?.remove();
  rmSync(k.workdir, { recursive: true, force: true });
  rmSync(k.runtime, { recursive: true, force: true });
}

export interface ForkedStarts extends Started {
  /** the template's start (imports, prelude), ms, and its own USS, MB */
  templateMs: number;
  templateUssMb: number;
  /** the fork alone (template side), ms */
  forkMs: number[];
  /** per kernel, ms: launch plan and folders, holder sandbox up, fork answered, then kernel_info and the prelude */
  phases: Array<{ plan: number; holder: number; fork: number; ready: number }>;
  /** the kernel's process is in its own cgroup, and in no other kernel's */
  inOwnCgroup: boolean[];
}

/** The prototype: a template, then `n` forked kernels one after another, all held, then measured. */
export async function forkedStarts(
  python: string,
  n: number,
  probe?: { other: (dirs: string[]) => string; port: number },
): Promise<ForkedStarts> {
  const plan = await planKernelLaunch({ python, args: [], env: kernelEnv(undefined), workdir: os.tmpdir(), network: false });
  const t = Template.start(python, plan.env);
  const held: Forked[] = [];
  const ms: number[] = [];
  const forkMs: number[] = [];
  const phases: ForkedStarts['phases'] = [];
  try {
    const templateMs = await t.readyMs;
    const templateCpu = cpuMs([t.proc.pid!]);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const k = await forkOne(t, python);
      held.push(k);
      forkMs.push(k.forkMs);
      const tr = performance.now();
      await makeReady(k);
      ms.push(performance.now() - t0);
      phases.push({ ...k.phases, ready: performance.now() - tr });
    }
    const uss = held.map((k) => ussMb([...processTree(k.holder.pid!), k.pid]));
    // the template's forks (the first fork is its child, reaped: in its cutime) shared out per kernel
    const forkShare = (cpuMs([t.proc.pid!]) - templateCpu) / n;
    const cpu = held.map((k) => cpuMs([...processTree(k.holder.pid!), k.pid]) + forkShare);
    const inOwnCgroup = held.map(
      (k) => !!k.cgroup?.pids().includes(k.pid) && held.every((o) => o === k || !o.cgroup?.pids().includes(k.pid)),
    );
    let seen: Record<string, unknown> | undefined;
    if (probe && held.length > 1) seen = await runProbe(held[1], probeCode(probe.other(held.map((k) => k.workdir)), probe.port));
    return { ms, ussMb: uss, cpuMs: cpu, probe: seen, templateMs, templateUssMb: ussMb([t.proc.pid!]), forkMs, phases, inOwnCgroup };
  } finally {
    await Promise.all(held.map(closeForked));
    await t.close();
  }
}

async function runProbe(k: Forked, code: string): Promise<Record<string, unknown>> {
  const inc = { n: 1, proc: { exited: k.holderExited.then(() => ({})) } as unknown as KernelProcess, client: k.client };
  let stdout = '';
  await executeRequest(inc, code, {
    onMessage: (m) => {
      const c = m.content as { name?: string; text?: string };
      if (m.header.msg_type === 'stream' && c.name === 'stdout') stdout += c.text ?? '';
    },
    timeoutMs: 30_000,
  });
  return JSON.parse(stdout);
}
