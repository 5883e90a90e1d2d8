/**
 * One control group per kernel sandbox, so that its limits hold for the kernel AND everything
 * it starts (RLIMIT_AS is per process: three children each under an 8 GiB limit held 10.6 GiB;
 * RLIMIT_NPROC counts all of a user's processes), and so that killing a kernel kills every
 * process it left behind, double-forked daemons included (they stay in the cgroup).
 *
 * Where the machine allows it, in this order:
 *  - 'systemd-scope': `systemd-run [--user] --scope -p MemoryMax= -p TasksMax=` (systemd is
 *    init, and its manager delegates the memory/pids controllers; checked by a real probe);
 *  - 'v2': a writable cgroup v2 folder without processes of its own: this process's cgroup, its
 *    parent, or (as root) the root of the hierarchy; kernels get leaves under `<that>/codedance`;
 *  - 'v1': the memory and pids (and freezer, for killing) v1 hierarchies, under this process's
 *    own cgroup in each (root only, in practice);
 *  - 'none': say which limits are only per process (limits.ts).
 * The kernel joins before it runs: `wrap()` prefixes the command with a /bin/sh that writes its
 * own PID to cgroup.procs and execs the command (bwrap), so no fork escapes the cgroup.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { FolderCgroup, type CgroupLimits, type KernelCgroup, killPids, MiB, rmdirQuiet, ScopeCgroup, type ScopeSpec } from './cgroupHandle';
import { type CgroupMount, ownV1, ownV2, readLayout, readPids, readText, writeControl } from './cgroupHost';
import { findOnPath } from './sandboxHost';

export type { CgroupEvents, CgroupLimits, KernelCgroup } from './cgroupHandle';

export type CgroupKind = 'v2' | 'v1' | 'systemd-scope' | 'none';

export interface CgroupSupport {
  kind: CgroupKind;
  /** what holds the limits, or why no cgroup can (in words, for notices and logs) */
  reason: string;
  /** a kernel's memory is limited per sandbox */
  memory: boolean;
  /** a kernel's process count is limited per sandbox */
  pids: boolean;
}

const LEAF_PREFIX = 'k-';
const BASE = 'codedance';

interface Backend {
  support: CgroupSupport;
  v2?: { base: string };
  v1?: { memory?: string; pids?: string; freezer?: string };
  scope?: ScopeSpec;
}

// Process-wide on purpose (module state): what this machine's cgroups allow is probed once, and
// `seq` numbers this process's cgroups so that no two share a name.
let cached: Backend | undefined;
let seq = 0;

/** What this machine allows (asked once; `refresh` asks again). */
export function cgroupSupport(refresh = false): CgroupSupport {
  if (!cached || refresh) cached = detect();
  return cached.support;
}

function detect(): Backend {
  if (process.platform !== 'linux') return none(`control groups exist only on Linux (this is ${process.platform})`);
  const layout = readLayout();
  const why: string[] = [];
  const scope = trySystemdScope(
    layout.mounts.find((m) => m.version === 2),
    why,
  );
  if (scope) return scope;
  const v2 = ownV2(layout);
  if (v2) {
    const candidates = [v2.dir, path.dirname(v2.dir), ...(process.getuid?.() === 0 ? [v2.mount.mountPoint] : [])];
    for (const p of [...new Set(candidates)].filter((d) => d.startsWith(v2.mount.mountPoint))) {
      const r = tryV2(p);
      if (typeof r === 'string') why.push(`cgroup v2 ${p}: ${r}`);
      else
        return {
          support: { kind: 'v2', reason: `a cgroup v2 per sandbox under ${r.base}`, memory: r.memory, pids: r.pids },
          v2: { base: r.base },
        };
    }
  } else why.push('no cgroup v2 hierarchy holds this process');
  const bases: Record<string, string | undefined> = {};
  for (const c of ['memory', 'pids', 'freezer']) {
    const own = ownV1(layout, c);
    if (!own) {
      if (c !== 'freezer') why.push(`no cgroup v1 ${c} hierarchy`);
      continue;
    }
    const r = tryBase(path.join(own, BASE), c === 'memory' ? { 'memory.limit_in_bytes': '-1' } : c === 'pids' ? { 'pids.max': 'max' } : {});
    if (r) why.push(`cgroup v1 ${c} ${own}: ${r}`);
    else bases[c] = path.join(own, BASE);
  }
  if (bases.memory || bases.pids) {
    const what = [bases.memory && 'memory', bases.pids && 'pids'].filter(Boolean).join(' and ');
    return {
      support: { kind: 'v1', reason: `cgroup v1 ${what} controllers per sandbox`, memory: !!bases.memory, pids: !!bases.pids },
      v1: bases,
    };
  }
  return none(`no usable cgroup (${why.join('; ')})`);
}

const none = (reason: string): Backend => ({ support: { kind: 'none', reason, memory: false, pids: false } });

/** a cgroup v2 folder `p` that can hold the `codedance` base with memory and pids for its leaves */
function tryV2(p: string): { base: string; memory: boolean; pids: boolean } | string {
  const available = (readText(path.join(p, 'cgroup.controllers')) ?? '').split(/\s+/);
  const want = ['memory', 'pids'].filter((c) => available.includes(c));
  if (!want.length) return 'no memory or pids controller available there';
  const enabled = (readText(path.join(p, 'cgroup.subtree_control')) ?? '').split(/\s+/);
  const missing = want.filter((c) => !enabled.includes(c));
  if (missing.length) {
    const e = writeControl(path.join(p, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
    if (e)
      return e.includes('EBUSY')
        ? 'it holds processes (cgroup v2 allows limits only on folders without them)'
        : `cannot enable ${missing.join(', ')} (${e})`;
  }
  const base = path.join(p, BASE);
  try {
    ensureV2Base(base, want);
  } catch (e) {
    return `cannot prepare ${base} (${(e as Error).message})`;
  }
  const r = tryBase(base, Object.fromEntries(want.map((c) => [`${c}.max`, 'max'])));
  return r ?? { base, memory: want.includes('memory'), pids: want.includes('pids') };
}

/** the `codedance` folder whose leaves get `controllers` (it holds no process, so v2 lets it) */
function ensureV2Base(base: string, controllers: string[]): void {
  mkdirSync(base, { recursive: true });
  const enabled = (readText(path.join(base, 'cgroup.subtree_control')) ?? '').split(/\s+/);
  const missing = controllers.filter((c) => !enabled.includes(c));
  const e = missing.length ? writeControl(path.join(base, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' ')) : undefined;
  if (e) throw new Error(`cannot enable ${missing.join(', ')}: ${e}`);
}

/** creates `base` and a probe leaf in it, writes `controls`, and moves a real process in: undefined when all worked, else why not */
function tryBase(base: string, controls: Record<string, string>): string | undefined {
  const leaf = path.join(base, `probe-${process.pid}`);
  try {
    mkdirSync(leaf, { recursive: true });
  } catch (e) {
    return `cannot create ${leaf} (${(e as NodeJS.ErrnoException).code})`;
  }
  try {
    for (const [f, v] of Object.entries(controls)) {
      const e = writeControl(path.join(leaf, f), v);
      if (e) return `cannot set ${e}`;
    }
    const r = spawnSync('/bin/sh', ['-c', 'echo $$ > "$1"', 'sh', path.join(leaf, 'cgroup.procs')], { encoding: 'utf8', timeout: 5000 });
    if (r.status !== 0) return `a process cannot join it (${(r.stderr || r.error?.message || `exit ${r.status}`).trim()})`;
    return undefined;
  } finally {
    rmdirQuiet(leaf);
    rmdirQuiet(base); // made again for the first kernel; left behind, it would keep its parent from being removed
  }
}

/** systemd-run --scope with MemoryMax/TasksMax that really land in memory.max/pids.max */
function trySystemdScope(mount: CgroupMount | undefined, why: string[]): Backend | undefined {
  if (!existsSync('/run/systemd/system')) {
    why.push('systemd is not the init system');
    return undefined;
  }
  const run = findOnPath('systemd-run');
  const ctl = findOnPath('systemctl');
  if (!run || !ctl || !mount) {
    why.push(!mount ? 'systemd without a cgroup v2 hierarchy' : 'systemd-run or systemctl is not installed');
    return undefined;
  }
  const user = process.getuid?.() !== 0;
  const { memory, pids, failure } = probeScope(run, user, mount);
  if (failure) {
    why.push(failure);
    return undefined;
  }
  const what = [memory && 'MemoryMax', pids && 'TasksMax'].filter(Boolean).join(' and ');
  return {
    support: { kind: 'systemd-scope', reason: `a systemd${user ? ' user' : ''} scope per sandbox (${what})`, memory, pids },
    scope: { run, ctl, user, mount },
  };
}

/** A test scope with small limits: whether they land in its memory.max and pids.max, or why no scope works. */
function probeScope(run: string, user: boolean, mount: CgroupMount): { memory: boolean; pids: boolean; failure?: string } {
  const script = 'p=$(sed -n "s/^0:://p" /proc/self/cgroup); for f in memory.max pids.max; do cat "$1$p/$f" 2>/dev/null || echo none; done';
  const args = [
    ...(user ? ['--user'] : []),
    '--scope',
    '--quiet',
    '--collect',
    '-p',
    `MemoryMax=${256 * MiB}`,
    '-p',
    'TasksMax=64',
    '--',
    '/bin/sh',
    '-c',
    script,
    'sh',
    mount.mountPoint,
  ];
  const r = spawnSync(run, args, { encoding: 'utf8', timeout: 10000 });
  const [mem, pidsMax] = (r.stdout ?? '').trim().split('\n');
  const memory = mem === String(256 * MiB);
  const pids = pidsMax === '64';
  if (r.status === 0 && (memory || pids)) return { memory, pids };
  const err = (r.stderr || r.error?.message || '').trim().split('\n')[0];
  return {
    memory,
    pids,
    failure: `systemd-run${user ? ' --user' : ''} --scope ${r.status !== 0 ? `failed (${err || `exit ${r.status}`})` : 'does not get the memory or pids controller (not delegated)'}`,
  };
}

export function createKernelCgroup(limits: CgroupLimits): KernelCgroup | undefined {
  // another CodeDance process may remove the empty `codedance` folder between its making and the leaf's: once more
  for (let i = 0; i < 3; i++) {
    try {
      return create(limits);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    }
  }
  return undefined;
}

function create(limits: CgroupLimits): KernelCgroup | undefined {
  const support = cgroupSupport();
  const b = cached!;
  // unique in this process even across copies of this module (an extension host loads several bundles)
  const name = `${LEAF_PREFIX}${process.pid}-${++seq}-${randomBytes(4).toString('hex')}`;
  const memBytes = limits.memoryMb && limits.memoryMb > 0 ? String(Math.floor(limits.memoryMb) * MiB) : undefined;
  const nproc = limits.maxProcesses && limits.maxProcesses > 0 ? String(Math.floor(limits.maxProcesses)) : undefined;
  if (b.scope)
    return new ScopeCgroup(
      b.scope,
      `codedance-kernel-${process.pid}-${seq}-${Date.now().toString(36)}.scope`,
      limits,
      support.memory && !!memBytes,
      support.pids && !!nproc,
    );
  if (b.v2) return createV2(b.v2.base, name, support, memBytes, nproc);
  if (b.v1) return createV1(b.v1, name, memBytes, nproc);
  return undefined;
}

/** A leaf under our v2 folder with memory.max (no swap either) and pids.max; undefined (removed) when a limit cannot be set. */
function createV2(
  base: string,
  name: string,
  support: CgroupSupport,
  memBytes: string | undefined,
  nproc: string | undefined,
): KernelCgroup | undefined {
  const leaf = path.join(base, name);
  ensureV2Base(
    base,
    [support.memory && 'memory', support.pids && 'pids'].filter((c): c is string => !!c),
  );
  mkdirSync(leaf);
  const cg = new FolderCgroup('v2', support.memory && !!memBytes, support.pids && !!nproc, [leaf]);
  let fail = cg.memoryLimited ? writeControl(path.join(leaf, 'memory.max'), memBytes!) : undefined;
  // no swap either: the limit cannot be dodged by swapping (best effort: swap may be off)
  if (!fail && cg.memoryLimited) writeControl(path.join(leaf, 'memory.swap.max'), '0');
  if (!fail && cg.pidsLimited) fail = writeControl(path.join(leaf, 'pids.max'), nproc!);
  return fail ? void cg.removeSync() : cg;
}

/** A folder per v1 controller (memory, pids, and the freezer to stop it whole); undefined (removed) when a limit cannot be set. */
function createV1(
  v1: NonNullable<Backend['v1']>,
  name: string,
  memBytes: string | undefined,
  nproc: string | undefined,
): KernelCgroup | undefined {
  const { memory, pids, freezer } = v1;
  const dirs = [memory, pids].filter((d): d is string => !!d).map((d) => path.join(d, name));
  const frz = freezer ? path.join(freezer, name) : undefined;
  for (const d of [...dirs, ...(frz ? [frz] : [])]) {
    mkdirSync(path.dirname(d), { recursive: true });
    mkdirSync(d); // never an existing one: a cgroup holds one kernel, killed whole when it ends
  }
  const cg = new FolderCgroup('v1', !!memory && !!memBytes, !!pids && !!nproc, dirs, frz);
  const memDir = memory && path.join(memory, name);
  let fail = memDir && memBytes ? writeControl(path.join(memDir, 'memory.limit_in_bytes'), memBytes) : undefined;
  // memory + swap too, where swap accounting is on: the limit cannot be dodged by swapping
  if (!fail && memDir && memBytes && existsSync(path.join(memDir, 'memory.memsw.limit_in_bytes')))
    writeControl(path.join(memDir, 'memory.memsw.limit_in_bytes'), memBytes);
  if (!fail && pids && nproc) fail = writeControl(path.join(pids, name, 'pids.max'), nproc);
  return fail ? void cg.removeSync() : cg;
}

/**
 * Kills what is left in, and removes, the cgroups of CodeDance processes that are gone (killed
 * outright: no exit handler ran); returns how many. Cheap (one readdir per hierarchy).
 */
export function sweepStaleCgroups(): number {
  cgroupSupport();
  const b = cached!;
  const bases = [b.v2?.base, b.v1?.memory, b.v1?.pids, b.v1?.freezer].filter((d): d is string => !!d);
  let removed = 0;
  for (const base of bases) {
    let names: string[];
    try {
      names = readdirSync(base).filter((n) => n.startsWith(LEAF_PREFIX));
    } catch {
      continue;
    }
    for (const n of names) {
      const owner = Number(n.slice(LEAF_PREFIX.length).split('-')[0]);
      if (!owner || owner === process.pid || alive(owner)) continue;
      const dir = path.join(base, n);
      for (let i = 0; i < 100 && readPids(path.join(dir, 'cgroup.procs')).length; i++) {
        if (writeControl(path.join(dir, 'cgroup.kill'), '1')) killPids(readPids(path.join(dir, 'cgroup.procs')));
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); // the killed are gone in a few ms
      }
      if (rmdirQuiet(dir)) removed++;
    }
    rmdirQuiet(base); // once empty: it would keep its parent from being removed
  }
  return removed;
}

const SWEEP_EVERY_MS = 60_000;
let lastSweep = -Infinity;

/**
 * sweepStaleCgroups for a session's start: at most once a minute (the first start of a process
 * sweeps). Every start did it before: one readdir and one refused rmdir per hierarchy each time,
 * ~2 ms of the event loop per sample in an eval of many kernels, for what a killed process leaves.
 */
export function sweepStaleCgroupsSometimes(): void {
  const now = performance.now();
  if (now - lastSweep < SWEEP_EVERY_MS) return;
  lastSweep = now;
  sweepStaleCgroups();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
