/**
 * Where model-written code runs: a kernel launch (interpreter, arguments, environment, working
 * folder, runtime folder) turned into the command that starts it.
 *
 * Sandboxed (Linux with bubblewrap, the default where it works): `bwrap` with a PID namespace
 * (no view of the parent or its /proc/<pid>/environ), its own network namespace (no network:
 * ZeroMQ then talks over `ipc` sockets in the runtime folder, bound into the sandbox), the
 * filesystem read-only, /home, /root, /tmp, /run and the user's home hidden behind empty tmpfs
 * (only the interpreter's own folders are bound back, read-only), a fresh HOME, the session's
 * working folder and runtime folder writable, `--die-with-parent` (the kernel goes when the
 * process that started it goes, even if it holds Python's GIL in C code), and limits set with
 * `prlimit` before the interpreter starts: address space, CPU seconds, processes.
 *
 * Unsandboxed (macOS, Windows, Linux without a working bwrap, or turned off): the same
 * allow-listed environment, the same limits where `prlimit` exists, and on Linux a supervisor
 * (supervisor.ts: parent-death signal, subreaper) so neither the kernel nor a daemon it starts
 * outlives it.
 *
 * Both: where the machine has a usable cgroup (cgroup.ts), memory and processes are limited for
 * the kernel and everything it starts together (memory.max, pids.max), not per process; the
 * sandbox gets a seccomp filter (seccomp.ts) so the code cannot make user namespaces.
 *
 * The environment is ALWAYS built from an allow-list (never process.env minus some names).
 */
import { execFile } from 'node:child_process';
import { type CgroupLimits, cgroupSupport } from './cgroup';
import type { LimitsInForce } from './limits';
import { seccompFilter } from './seccomp';
import { supervisedArgs, supervisorAvailable } from './supervisor';
import { kernelEnvironment } from './kernelEnvironment';
import { bindWithParents, capArgs, mountArgs, searchableByOthers } from './sandboxMounts';
import path from 'node:path';
import {
  automaticMemoryLimitMb,
  findOnPath,
  matplotlibFontCaches,
  processLimitIsPerSandbox,
  pythonFolders,
  sandboxStatus,
} from './sandboxHost';

export { kernelEnvironment } from './kernelEnvironment';

export { automaticMemoryLimitMb, defaultMemoryLimitMb, sandboxedInterpreterPid, sandboxStatus } from './sandboxHost';

/** 'auto': sandbox where bwrap works, else run unsandboxed and say why; 'on': refuse to run unsandboxed; 'off': never */
export type SandboxMode = 'auto' | 'on' | 'off';

export interface SandboxOptions {
  /** default 'auto' */
  sandbox?: SandboxMode;
  /** let the code reach the network (sandboxed: shares the host's network, ZeroMQ over tcp); default false */
  network?: boolean;
  /** address-space limit, MiB; undefined: automaticMemoryLimitMb(); 0: none */
  memoryLimitMb?: number;
  /** CPU seconds for the kernel process over its whole life (RLIMIT_CPU); default none */
  cpuTimeLimitS?: number;
  /** processes and threads in the sandbox (RLIMIT_NPROC, counted per sandbox: applied only where
   * Linux counts it per user namespace, see processLimitIsPerSandbox); default 1024; 0: none */
  maxProcesses?: number;
  /** names of further host variables the kernel may see (e.g. HF_TOKEN for a tool that downloads weights) */
  passEnv?: string[];
  /** sandboxed kernels start as forks of a template that has imported the prelude's libraries
   * (forkTemplate.ts): ~0.1 s and ~20 MB instead of ~0.8 s and ~80 MB each; default true.
   * false: every kernel is a new interpreter */
  forkedStarts?: boolean;
}

export interface LaunchRequest extends SandboxOptions {
  python: string;
  /** arguments after the interpreter, e.g. ['-m', 'ipykernel_launcher', '-f', conn] */
  args: string[];
  /** the host environment to pick from (default process.env) */
  hostEnv?: Record<string, string | undefined>;
  /** variables the caller sets explicitly (passed as they are, after the allow-list) */
  env?: Record<string, string | undefined>;
  /** the code's working folder (its cwd; bound writable) */
  workdir: string;
  /** further folders bound writable (e.g. the one incarnation's connection-file folder) */
  writable?: string[];
  /** further folders bound read-only (e.g. staged input files) */
  readOnly?: string[];
}

export interface LaunchPlan {
  command: string;
  args: string[];
  env: Record<string, string>;
  sandboxed: boolean;
  /** ZeroMQ transport the connection file must use */
  transport: 'ipc' | 'tcp';
  /** sandboxed: SIGINT must go to the interpreter inside, not to bwrap (which would die of it) */
  interruptTarget: 'child' | 'sandboxed-grandchild';
  /** the user the sandboxed code runs as when CodeDance runs as root (the launch hands it the
   * work and runtime folders); undefined: the caller's own */
  runAs?: { uid: number; gid: number };
  /** why the kernel runs unsandboxed (undefined when sandboxed or turned off on purpose) */
  unsandboxedReason?: string;
  memoryLimitMb: number;
  /** bwrap reports its PID namespace's init on fd 3 (`--info-fd 3`): process.ts waits for it to end */
  infoFd?: boolean;
  /** a seccomp program for bwrap's fd 4 (`--seccomp 4`): no user namespaces inside */
  seccomp?: Uint8Array;
  /** unsandboxed on Linux: the kernel runs under supervisor.ts (it kills the kernel's leftover
   * descendants, double-forked daemons included); SIGTERM it to stop the kernel */
  supervised?: boolean;
  /** memory and processes of the kernel and all it starts, held by a cgroup (cgroup.ts) where the machine has one */
  cgroupLimits?: CgroupLimits;
  /** what the limits are and what they count, for notices and start failures (limits.ts) */
  limits: LimitsInForce;
  /** the interpreter does not exist: spawning it fails at once (ENOENT), and the launch says so */
  interpreterMissing?: boolean;
}

/** Thrown when the sandbox is required ('on') but cannot be used here. */
export class SandboxUnavailableError extends Error {
  constructor(
    readonly reason: string,
    readonly fix: string,
  ) {
    super(`the kernel sandbox is required but unavailable: ${reason}. Fix: ${fix}`);
    this.name = 'SandboxUnavailableError';
  }
}

const MiB = 1024 * 1024;
export const DEFAULT_MAX_PROCESSES = 1024;
/** home inside the sandbox: an empty folder on the sandbox's own /tmp */
export const SANDBOX_HOME = '/tmp/home';
/** who sandboxed code runs as when CodeDance runs as root */
const NOBODY = 65534;

// ---------------------------------------------------------------------------------------------
// the launch
// ---------------------------------------------------------------------------------------------

/** `prlimit` arguments (or none) for the limits; prlimit sets soft and hard, so the code cannot raise them */
function limitArgs(memoryLimitMb: number, cpuS: number | undefined, nproc: number | undefined): string[] {
  const a: string[] = [];
  if (memoryLimitMb > 0) a.push(`--as=${memoryLimitMb * MiB}`);
  if (cpuS && cpuS > 0) a.push(`--cpu=${Math.ceil(cpuS)}`);
  if (nproc && nproc > 0) a.push(`--nproc=${nproc}`);
  return a;
}

/**
 * The cgroup for a kernel (memory and processes of everything it starts, counted together), when
 * the machine has one (cgroup.ts), and what the limits then count.
 */
function cgroupPlan(memoryLimitMb: number, maxProcesses: number): { cgroupLimits?: CgroupLimits; memory: boolean; pids: boolean } {
  const cg = cgroupSupport();
  if (cg.kind === 'none' || (!cg.memory && !cg.pids)) return { memory: false, pids: false };
  return {
    cgroupLimits: { memoryMb: cg.memory ? memoryLimitMb : 0, maxProcesses: cg.pids ? maxProcesses : 0 },
    memory: cg.memory && memoryLimitMb > 0,
    pids: cg.pids && maxProcesses > 0,
  };
}

export async function planKernelLaunch(req: LaunchRequest): Promise<LaunchPlan> {
  const mode = req.sandbox ?? 'auto';
  const hostEnv = req.hostEnv ?? process.env;
  const memoryLimitMb = req.memoryLimitMb === undefined ? automaticMemoryLimitMb() : Math.max(0, Math.floor(req.memoryLimitMb));
  const prlimit = process.platform === 'linux' ? findOnPath('prlimit') : undefined;
  let unsandboxedReason: string | undefined;
  if (mode !== 'off') {
    const s = sandboxStatus();
    if (s.available) return sandboxedPlan(req, hostEnv, memoryLimitMb, prlimit);
    if (mode === 'on') throw new SandboxUnavailableError(s.reason!, s.fix!);
    unsandboxedReason = s.reason;
  }
  const env = kernelEnvironment(hostEnv, { passEnv: req.passEnv, explicit: { ...req.env, JPY_PARENT_PID: String(process.pid) } });
  const limits = prlimit ? limitArgs(memoryLimitMb, req.cpuTimeLimitS, undefined) : [];
  // Linux: the supervisor (parent-death signal, subreaper: no daemon of the code outlives the kernel)
  const supervised = supervisorAvailable();
  let command = req.python;
  let args = supervised ? supervisedArgs(req.args) : [...req.args];
  if (limits.length) {
    args = [...limits, '--', command, ...args];
    command = prlimit!;
  }
  const maxProcesses = req.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  const cg = process.platform === 'linux' ? cgroupPlan(memoryLimitMb, maxProcesses) : { memory: false, pids: false };
  const inForce: LimitsInForce = {
    memoryLimitMb,
    maxProcesses: cg.pids ? maxProcesses : 0,
    nproc: 'none',
    cpuTimeLimitS: req.cpuTimeLimitS,
  };
  return {
    command,
    args,
    env,
    sandboxed: false,
    transport: 'tcp',
    interruptTarget: 'child',
    unsandboxedReason,
    memoryLimitMb,
    supervised,
    cgroupLimits: cg.cgroupLimits,
    limits: inForce,
  };
}

async function sandboxedPlan(
  req: LaunchRequest,
  hostEnv: Record<string, string | undefined>,
  memoryLimitMb: number,
  prlimit: string | undefined,
): Promise<LaunchPlan> {
  const network = req.network === true;
  const bwrap = findOnPath('bwrap')!;
  const probeEnv = kernelEnvironment(hostEnv, { passEnv: req.passEnv, explicit: req.env });
  const py = await pythonFolders(req.python, probeEnv);
  // nothing to sandbox: spawning it fails at once with ENOENT, which the launch reports
  if (py.missing)
    return {
      command: req.python,
      args: [...req.args],
      env: probeEnv,
      sandboxed: true,
      transport: network ? 'tcp' : 'ipc',
      interruptTarget: 'child',
      memoryLimitMb,
      limits: { memoryLimitMb },
      interpreterMissing: true,
    };
  // packages in the real ~/.local stay importable under the fresh home
  const userBase = py.userBase ? { PYTHONUSERBASE: py.userBase } : {};
  const env = kernelEnvironment(hostEnv, { passEnv: req.passEnv, explicit: { ...userBase, ...req.env }, home: SANDBOX_HOME });
  const {
    args: mounts,
    hidden,
    made,
  } = mountArgs(hostEnv, network, [...py.dirs, ...(probeEnv.PATH ?? '').split(':'), path.dirname(req.python)]);
  // as root, the code runs as nobody when the interpreter works as nobody (setpriv keeps only
  // what it needs to switch, then drops everything); else as root without capabilities
  const setpriv = process.getuid?.() === 0 ? findOnPath('setpriv') : undefined;
  const drop = setpriv
    ? [
        setpriv,
        `--reuid=${NOBODY}`,
        `--regid=${NOBODY}`,
        '--clear-groups',
        '--inh-caps=-all',
        '--bounding-set=-all',
        '--no-new-privs',
        '--',
      ]
    : [];
  const binds = [req.workdir, ...(req.writable ?? [])];
  const reachable = [...binds, ...(req.readOnly ?? [])].every((d) => searchableByOthers(d, hidden));
  const asNobody = setpriv !== undefined && reachable && (await worksAsNobody(bwrap, mounts, drop, py.executable, env));
  const seccomp = seccompFilter();
  const a = ['--info-fd', '3', ...(seccomp ? ['--seccomp', '4'] : []), ...mounts, ...capArgs(asNobody)];
  a.push(...homeArgs(asNobody, hostEnv));
  for (const d of binds) bindWithParents(a, made, d, '--bind');
  for (const d of req.readOnly ?? []) bindWithParents(a, made, d, '--ro-bind');
  a.push('--chdir', req.workdir, '--');
  if (asNobody) a.push(...drop);
  const { cg, limits, inForce } = sandboxLimits(req, memoryLimitMb, prlimit, bwrap, asNobody);
  if (limits.length) a.push(prlimit!, ...limits, '--');
  a.push(py.executable, ...req.args);
  const runAs = asNobody ? { uid: NOBODY, gid: NOBODY } : undefined;
  return {
    command: bwrap,
    args: a,
    env,
    sandboxed: true,
    transport: network ? 'tcp' : 'ipc',
    interruptTarget: 'sandboxed-grandchild',
    memoryLimitMb,
    runAs,
    infoFd: true,
    seccomp,
    cgroupLimits: cg.cgroupLimits,
    limits: inForce,
  };
}

/** the fresh home (writable by nobody when the code runs as nobody), with matplotlib's font caches bound in read-only */
function homeArgs(asNobody: boolean, hostEnv: Record<string, string | undefined>): string[] {
  const perms = asNobody ? ['--perms', '01777'] : [];
  const a = [...perms, '--dir', SANDBOX_HOME];
  const fonts = matplotlibFontCaches(hostEnv);
  if (fonts.length) a.push(...perms, '--dir', `${SANDBOX_HOME}/.cache`, ...perms, '--dir', `${SANDBOX_HOME}/.cache/matplotlib`);
  for (const f of fonts) a.push('--ro-bind', f, `${SANDBOX_HOME}/.cache/matplotlib/${path.basename(f)}`);
  return a;
}

/**
 * The sandbox's limits: processes by the cgroup's pids.max where there is one (per sandbox); else
 * RLIMIT_NPROC, per sandbox in a user namespace, but as nobody shared by all sandboxes (root is
 * exempt); memory and CPU time by prlimit. `limits`: prlimit's arguments; `inForce`: what holds, for the notice.
 */
function sandboxLimits(
  req: LaunchRequest,
  memoryLimitMb: number,
  prlimit: string | undefined,
  bwrap: string,
  asNobody: boolean,
): { cg: ReturnType<typeof cgroupPlan>; limits: string[]; inForce: LimitsInForce } {
  const maxProcesses = req.maxProcesses ?? DEFAULT_MAX_PROCESSES;
  const cg = cgroupPlan(memoryLimitMb, maxProcesses);
  const perSandbox = processLimitIsPerSandbox(bwrap);
  const nproc = !cg.pids && (asNobody || perSandbox) ? maxProcesses : undefined;
  const limits = prlimit ? limitArgs(memoryLimitMb, req.cpuTimeLimitS, nproc) : [];
  const inForce: LimitsInForce = {
    memoryLimitMb,
    maxProcesses: cg.pids || (nproc && prlimit) ? maxProcesses : 0,
    nproc: cg.pids ? undefined : nproc && prlimit ? (perSandbox && !asNobody ? 'per-sandbox' : 'per-user') : 'none',
    runAsUser: asNobody ? 'nobody' : undefined,
    cpuTimeLimitS: req.cpuTimeLimitS,
  };
  return { cg, limits, inForce };
}

/** Process-wide cache (module state on purpose): one check per interpreter and sandbox setup, a fact of this machine. */
const nobodyChecks = new Map<string, Promise<boolean>>();

/** whether the interpreter starts ipykernel as nobody in this sandbox (its files may be private to root); asked once per setup */
function worksAsNobody(bwrap: string, mounts: string[], drop: string[], python: string, env: Record<string, string>): Promise<boolean> {
  const key = JSON.stringify([mounts, python, env.PYTHONPATH, env.PYTHONUSERBASE]);
  let hit = nobodyChecks.get(key);
  if (!hit) {
    // through env, as the launch goes through prlimit: a program run as nobody executes the interpreter
    const args = [
      ...mounts,
      ...capArgs(true),
      '--perms',
      '01777',
      '--dir',
      SANDBOX_HOME,
      '--chdir',
      '/',
      '--',
      ...drop,
      findOnPath('env') ?? '/usr/bin/env',
      python,
      '-c',
      'import ipykernel',
    ];
    hit = new Promise((resolve) => execFile(bwrap, args, { env, timeout: 60000 }, (e) => resolve(!e)));
    nobodyChecks.set(key, hit);
  }
  return hit;
}
