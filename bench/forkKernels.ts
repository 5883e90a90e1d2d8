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
 * `probe` runs the same code in a pool kernel and a forked one: what each can see and do.
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
import { KernelPool } from '../src/core/kernel/pool';
import { PRELUDE_PY } from '../src/core/kernel/prelude';
import type { KernelProcess } from '../src/core/kernel/process';
import { executeRequest } from '../src/core/kernel/request';
import { planKernelLaunch } from '../src/core/kernel/sandbox';
import type { JupyterKernelSession } from '../src/core/kernel/session';

const MiB = 1024 * 1024;

/** every process under `pid` (itself included), from /proc */
export function processTree(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const n of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(n)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const k of kids.get(p) ?? []) walk(k);
  };
  walk(pid);
  return out;
}

/** USS of these processes together, MB: the pages only they map */
export function ussMb(pids: number[]): number {
  let kb = 0;
  for (const p of pids) {
    try {
      for (const l of readFileSync(`/proc/${p}/smaps_rollup`, 'utf8').split('\n'))
        if (l.startsWith('Private_Clean:') || l.startsWith('Private_Dirty:')) kb += Number(l.split(/\s+/)[1]);
    } catch {
      // gone meanwhile
    }
  }
  return kb / 1024;
}

/** What a kernel can see and do (the same code in a pool kernel and a forked one). */
const probeCode = (other: string, port: number) => `
import os, json, ctypes, resource, socket
def _reach(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
_libc = ctypes.CDLL(None, use_errno=True)
_st = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)
print(json.dumps({
    "uid": os.getuid(),
    "sees another kernel's folder": os.path.exists(${JSON.stringify(other)}),
    "reaches the host's 127.0.0.1": _reach(${port}),
    "can make a user namespace": _libc.unshare(0x10000000) == 0,
    "seccomp": _st["Seccomp"].strip(), "no_new_privs": _st["NoNewPrivs"].strip(),
    "CapEff": _st["CapEff"].strip(), "CapBnd": _st["CapBnd"].strip(),
    "RLIMIT_AS": resource.getrlimit(resource.RLIMIT_AS)[0],
    "RLIMIT_NPROC": resource.getrlimit(resource.RLIMIT_NPROC)[0],
    "environment": sorted(os.environ),
    "HOME": os.environ.get("HOME"),
    "/tmp": sorted(os.listdir("/tmp")),
    "/home": sorted(os.listdir("/home")),
    "cwd is its folder": os.getcwd() == os.path.realpath("."),
}, sort_keys=True))
`;

export interface Started {
  /** ms from the request to a kernel with the prelude installed */
  ms: number[];
  /** USS of each kernel's processes, MB, measured once all were up */
  ussMb: number[];
  /** what the probe printed in the second kernel */
  probe?: Record<string, unknown>;
}

/** Today's pool: `n` kernels started one after another (a pool that starts on demand, one start at a time), all held, then measured. */
export async function poolStarts(python: string, n: number, probe?: { other: (dirs: string[]) => string; port: number }): Promise<Started> {
  const pool = new KernelPool({ python, size: 0, maxConcurrentStarts: 1 });
  const held: JupyterKernelSession[] = [];
  const ms: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      held.push(await pool.acquire());
      ms.push(performance.now() - t0);
    }
    const uss = held.map((s) => ussMb(processTree(bwrapOf(s))));
    let seen: Record<string, unknown> | undefined;
    if (probe && held.length > 1) {
      const r = await held[1].execute(probeCode(probe.other(held.map((s) => s.workdir)), probe.port));
      seen = JSON.parse(r.stdout);
    }
    return { ms, ussMb: uss, probe: seen };
  } finally {
    await Promise.all(held.map((s) => s.dispose()));
    await pool.dispose();
  }
}

/** the bwrap process of a session (its pid is the interpreter's inside): the parent of the sandbox's init */
function bwrapOf(s: JupyterKernelSession): number {
  const inner = (s as unknown as { inc?: { proc: { child: ChildProcess } } }).inc?.proc.child.pid;
  if (!inner) throw new Error('the session has no kernel process');
  return inner;
}

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
    const inOwnCgroup = held.map(
      (k) => !!k.cgroup?.pids().includes(k.pid) && held.every((o) => o === k || !o.cgroup?.pids().includes(k.pid)),
    );
    let seen: Record<string, unknown> | undefined;
    if (probe && held.length > 1) seen = await runProbe(held[1], probeCode(probe.other(held.map((k) => k.workdir)), probe.port));
    return { ms, ussMb: uss, probe: seen, templateMs, templateUssMb: ussMb([t.proc.pid!]), forkMs, phases, inOwnCgroup };
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

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};

export { MiB };
