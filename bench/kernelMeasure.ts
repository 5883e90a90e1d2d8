/**
 * Measuring kernels for the bench (kernelStarts.ts): the processes of a kernel's sandbox, their
 * USS and CPU time from /proc, the probe of what a kernel can see and do, and today's pool
 * started one kernel after another, each a new interpreter or a fork of the template (kernel/forkTemplate.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { TEMPLATE_FILE } from '../src/core/kernel/forkTemplate';
import { KernelPool } from '../src/core/kernel/pool';
import type { JupyterKernelSession } from '../src/core/kernel/session';

/** the fields of /proc/<pid>/stat after the command name (state, ppid, …; utime is [11]) */
export function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** every process under `pid` (itself included), from /proc */
export function processTree(pid: number): number[] {
  const kids = new Map<number, number[]>();
  for (const n of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const ppid = Number(statFields(n)[1]);
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

/** CPU time of these processes and of their reaped children, ms (/proc/<pid>/stat: utime, stime, cutime, cstime) */
export function cpuMs(pids: number[]): number {
  const tick = 100; // USER_HZ
  let t = 0;
  for (const p of pids) {
    try {
      const f = statFields(p);
      t += ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / tick;
    } catch {
      // gone meanwhile
    }
  }
  return t;
}

/** What a kernel can see and do (the same code in a pool kernel and a forked one). */
export const probeCode = (other: string, port: number) => `
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
  /** CPU time each kernel's processes used to start, ms (forked: with its share of the template's forks) */
  cpuMs: number[];
  /** what the probe printed in the second kernel */
  probe?: Record<string, unknown>;
  /** forked: the template's own USS, MB (once, whatever the number of kernels) */
  templateUssMb?: number;
}

/** kernels of a pool that starts on demand, one start at a time: `n` started one after another, all held, then measured.
 * forked: started as forks of the template (the default), else each a new interpreter. */
export async function poolStarts(
  python: string,
  n: number,
  forked: boolean,
  probe?: { other: (dirs: string[]) => string; port: number },
): Promise<Started> {
  const pool = new KernelPool({ python, size: 0, maxConcurrentStarts: 1, forkedStarts: forked });
  const held: JupyterKernelSession[] = [];
  const ms: number[] = [];
  // the template's CPU once the first kernel is up (its own start is not a later kernel's cost)
  let templateCpu0 = 0;
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      held.push(await pool.acquire());
      ms.push(performance.now() - t0);
      if (i === 0) templateCpu0 = cpuMs(templatePids());
    }
    // a later kernel's work done in the template (its fork), shared out over kernels 2…n
    const forkShare = forked ? (cpuMs(templatePids()) - templateCpu0) / Math.max(1, n - 1) : 0;
    const uss = held.map((s) => ussMb(kernelProcesses(s)));
    const cpu = held.map((s) => cpuMs(kernelProcesses(s)) + forkShare);
    let seen: Record<string, unknown> | undefined;
    if (probe && held.length > 1) {
      const r = await held[1].execute(probeCode(probe.other(held.map((s) => s.workdir)), probe.port));
      seen = JSON.parse(r.stdout);
    }
    return { ms, ussMb: uss, cpuMs: cpu, probe: seen, templateUssMb: forked ? ussMb(templatePids()) : undefined };
  } finally {
    await Promise.all(held.map((s) => s.dispose()));
    await pool.dispose();
  }
}

/** the fork templates this process runs (their command line is `python -c <template>`) */
/** the fork templates this process started (kernel/forkTemplate.ts), among `tree` */
export function templatePids(tree = processTree(process.pid)): number[] {
  return tree.filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(TEMPLATE_FILE) && parentOf(p) === process.pid;
    } catch {
      return false;
    }
  });
}

/** a kernel's processes: its sandbox's (bwrap and everything under it) and, forked, the kernel and its waiter */
function kernelProcesses(s: JupyterKernelSession): number[] {
  const proc = (s as unknown as { inc?: { proc: { child: ChildProcess; pid?: number } } }).inc?.proc;
  const bwrap = proc?.child.pid;
  if (!bwrap) throw new Error('the session has no kernel process');
  const tree = processTree(bwrap);
  const kernel = proc.pid;
  if (kernel === undefined || tree.includes(kernel)) return tree;
  return [...tree, ...processTree(parentOf(kernel))];
}

function parentOf(pid: number): number {
  return Number(statFields(pid)[1]);
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
