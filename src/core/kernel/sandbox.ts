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
 * allow-listed environment, the same limits where `prlimit` exists, and a parent-death signal
 * (PR_SET_PDEATHSIG through a one-line Python launcher) so no kernel outlives its parent.
 *
 * The environment is ALWAYS built from an allow-list (never process.env minus some names).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  automaticMemoryLimitMb,
  findOnPath,
  gpuDevices,
  isRealDir,
  matplotlibFontCaches,
  NAMESPACES,
  processLimitIsPerSandbox,
  pythonFolders,
  safeRealpath,
  sandboxStatus,
} from './sandboxHost';

export { automaticMemoryLimitMb, defaultMemoryLimitMb, sandboxedInterpreterPid, sandboxStatus, type SandboxStatus } from './sandboxHost';

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
}

export interface LaunchRequest extends SandboxOptions {
  python: string;
  /** arguments after the interpreter, e.g. ['-m', 'ipykernel_launcher', '-f', conn] */
  args: string[];
  /** the host environment to pick from (default process.env) */
  hostEnv?: Record<string, string | undefined>;
  /** variables the caller sets explicitly (passed as they are, after the allow-list) */
  env?: Record<string, string | undefined>;
  workdir: string;
  /** private folder: connection file and ipc sockets (bound writable into the sandbox) */
  runtimeDir: string;
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
}

/** Thrown when the sandbox is required ('on') but cannot be used here. */
export class SandboxUnavailableError extends Error {
  constructor(readonly reason: string, readonly fix: string) {
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
const HIDDEN = ['/home', '/root', '/tmp', '/var/tmp', '/run', '/var/run', '/mnt', '/media'];

// ---------------------------------------------------------------------------------------------
// environment: an allow-list
// ---------------------------------------------------------------------------------------------

const ALLOWED_NAMES = new Set([
  'PATH',
  'LANG',
  'LANGUAGE',
  'TZ',
  'PYTHONPATH',
  'PYTHONHOME',
  'LD_LIBRARY_PATH',
  'VIRTUAL_ENV',
  'CONDA_PREFIX',
  'CUDA_VISIBLE_DEVICES',
  'OMP_NUM_THREADS',
  'MKL_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'TMPDIR',
  'SYSTEMROOT', // Windows: Python cannot start without it
  'WINDIR',
  'COMSPEC',
  'PATHEXT',
  'APPDATA',
  'LOCALAPPDATA',
  'TEMP',
  'TMP',
]);

/** The kernel's environment: allow-listed host variables, `passEnv` names, then the caller's explicit ones. */
export function kernelEnvironment(
  hostEnv: Record<string, string | undefined>,
  opts: { passEnv?: string[]; explicit?: Record<string, string | undefined>; home?: string },
): Record<string, string> {
  const out: Record<string, string> = {};
  const extra = new Set(opts.passEnv ?? []);
  for (const [k, v] of Object.entries(hostEnv)) {
    if (v === undefined) continue;
    if (ALLOWED_NAMES.has(k.toUpperCase()) || k.startsWith('LC_') || extra.has(k)) out[k] = v;
  }
  const home = opts.home ?? hostEnv.HOME ?? hostEnv.USERPROFILE;
  if (home) out[process.platform === 'win32' ? 'USERPROFILE' : 'HOME'] = home;
  for (const [k, v] of Object.entries(opts.explicit ?? {})) if (v !== undefined) out[k] = v;
  return out;
}

/** One plain sentence for a notice: whether cells run sandboxed, and if not why and how to fix it. */
export function describeSandbox(mode: SandboxMode = 'auto', network = false): string {
  if (mode === 'off') return 'Python cells run UNSANDBOXED (sandbox turned off): code can read your files and reach the network; the kernel environment is still an allow-list.';
  const s = sandboxStatus();
  if (!s.available) return `Python cells run UNSANDBOXED: ${s.reason}. Code can read your files (e.g. ~/.ssh) and reach the network; the kernel environment is still an allow-list. To sandbox: ${s.fix}.`;
  return `Python cells run in a bubblewrap sandbox (read-only filesystem except the work folder, fresh home, no view of other processes${network ? ', network ON' : ', no network'}).`;
}

// ---------------------------------------------------------------------------------------------
// the launch
// ---------------------------------------------------------------------------------------------

const under = (p: string, root: string) => p === root || p.startsWith(root.endsWith('/') ? root : `${root}/`);

/** the folders among `dirs` that sit under a hidden root, minus those inside another one of them */
function bindBack(dirs: string[], hidden: string[]): string[] {
  const found = new Set<string>();
  for (const d of dirs) {
    if (!path.isAbsolute(d) || !existsSync(d)) continue;
    for (const p of new Set([d, safeRealpath(d)])) if (hidden.some((h) => under(p, h))) found.add(p);
  }
  const sorted = [...found].sort((a, b) => a.length - b.length);
  return sorted.filter((d, i) => !sorted.slice(0, i).some((p) => under(d, p)));
}

/** `prlimit` arguments (or none) for the limits; prlimit sets soft and hard, so the code cannot raise them */
function limitArgs(memoryLimitMb: number, cpuS: number | undefined, nproc: number | undefined): string[] {
  const a: string[] = [];
  if (memoryLimitMb > 0) a.push(`--as=${memoryLimitMb * MiB}`);
  if (cpuS && cpuS > 0) a.push(`--cpu=${Math.ceil(cpuS)}`);
  if (nproc && nproc > 0) a.push(`--nproc=${nproc}`);
  return a;
}

/**
 * Parent-death signal for an unsandboxed kernel: this runs in the interpreter, sets
 * PR_SET_PDEATHSIG (kept across execve), checks the parent did not already go, and execs the
 * real command line. The signal is delivered by the Linux kernel, so it works while the
 * kernel's main thread holds the GIL in C code.
 */
const PDEATHSIG_LAUNCHER = [
  'import ctypes, os, signal, sys',
  'ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)',
  'os.getppid() == int(sys.argv[1]) or os._exit(1)',
  'os.execv(sys.executable, [sys.executable] + sys.argv[2:])',
].join('\n');

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
  let command = req.python;
  let args = process.platform === 'linux' ? ['-c', PDEATHSIG_LAUNCHER, String(process.pid), ...req.args] : [...req.args];
  if (limits.length) {
    args = [...limits, '--', command, ...args];
    command = prlimit!;
  }
  return { command, args, env, sandboxed: false, transport: 'tcp', interruptTarget: 'child', unsandboxedReason, memoryLimitMb };
}

async function sandboxedPlan(req: LaunchRequest, hostEnv: Record<string, string | undefined>, memoryLimitMb: number, prlimit: string | undefined): Promise<LaunchPlan> {
  const network = req.network === true;
  const bwrap = findOnPath('bwrap')!;
  const probeEnv = kernelEnvironment(hostEnv, { passEnv: req.passEnv, explicit: req.env });
  const py = await pythonFolders(req.python, probeEnv);
  // nothing to sandbox: spawning it fails at once with ENOENT, which the launch reports
  if (py.missing) return { command: req.python, args: [...req.args], env: probeEnv, sandboxed: true, transport: network ? 'tcp' : 'ipc', interruptTarget: 'child', memoryLimitMb };
  // packages in the real ~/.local stay importable under the fresh home
  const userBase = py.userBase ? { PYTHONUSERBASE: py.userBase } : {};
  const env = kernelEnvironment(hostEnv, { passEnv: req.passEnv, explicit: { ...userBase, ...req.env }, home: SANDBOX_HOME });
  const { args: mounts, hidden, made } = mountArgs(hostEnv, network, [...py.dirs, ...(probeEnv.PATH ?? '').split(':'), path.dirname(req.python)]);
  // as root, the code runs as nobody when the interpreter works as nobody (setpriv keeps only
  // what it needs to switch, then drops everything); else as root without capabilities
  const setpriv = process.getuid?.() === 0 ? findOnPath('setpriv') : undefined;
  const drop = setpriv ? [setpriv, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'] : [];
  const binds = [req.workdir, req.runtimeDir];
  const reachable = binds.every((d) => searchableByOthers(d, hidden));
  const asNobody = setpriv !== undefined && reachable && (await worksAsNobody(bwrap, mounts, drop, py.executable, env));
  const a = [...mounts, ...capArgs(asNobody)];
  const perms = asNobody ? ['--perms', '01777'] : [];
  a.push(...perms, '--dir', SANDBOX_HOME);
  const fonts = matplotlibFontCaches(hostEnv);
  if (fonts.length) a.push(...perms, '--dir', `${SANDBOX_HOME}/.cache`, ...perms, '--dir', `${SANDBOX_HOME}/.cache/matplotlib`);
  for (const f of fonts) a.push('--ro-bind', f, `${SANDBOX_HOME}/.cache/matplotlib/${path.basename(f)}`);
  for (const d of binds) bindWithParents(a, made, d, '--bind');
  a.push('--chdir', req.workdir, '--');
  if (asNobody) a.push(...drop);
  // RLIMIT_NPROC: per sandbox in a user namespace; as nobody, shared by all sandboxes (root is exempt)
  const nproc = asNobody || processLimitIsPerSandbox(bwrap) ? (req.maxProcesses ?? DEFAULT_MAX_PROCESSES) : undefined;
  const limits = prlimit ? limitArgs(memoryLimitMb, req.cpuTimeLimitS, nproc) : [];
  if (limits.length) a.push(prlimit!, ...limits, '--');
  a.push(py.executable, ...req.args);
  const runAs = asNobody ? { uid: NOBODY, gid: NOBODY } : undefined;
  return { command: bwrap, args: a, env, sandboxed: true, transport: network ? 'tcp' : 'ipc', interruptTarget: 'sandboxed-grandchild', memoryLimitMb, runAs };
}

/** namespaces and the filesystem view: read-only root, hidden folders, the interpreter's bound back */
function mountArgs(hostEnv: Record<string, string | undefined>, network: boolean, pythonDirs: string[]): { args: string[]; hidden: string[]; made: Set<string> } {
  const realHome = hostEnv.HOME && path.isAbsolute(hostEnv.HOME) ? hostEnv.HOME : undefined;
  const hidden = HIDDEN.filter((d) => isRealDir(d));
  if (realHome && !hidden.some((h) => under(realHome, h)) && realHome !== '/') hidden.push(realHome);
  const a: string[] = [...NAMESPACES];
  if (!network) a.push('--unshare-net');
  a.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc');
  for (const d of gpuDevices()) a.push('--dev-bind-try', d, d);
  for (const h of hidden) a.push('--tmpfs', h);
  if (network) {
    // name resolution: /etc/resolv.conf often points into /run (systemd-resolved)
    const resolv = safeRealpath('/etc/resolv.conf');
    if (resolv !== '/etc/resolv.conf' && hidden.some((h) => under(resolv, h))) a.push('--ro-bind-try', path.dirname(resolv), path.dirname(resolv));
  }
  const made = new Set(hidden);
  for (const d of bindBack(pythonDirs.filter((x) => x && path.isAbsolute(x)), hidden)) bindWithParents(a, made, d, '--ro-bind');
  return { args: a, hidden, made };
}

/** binds `d`; the folders above it on a hidden tmpfs are made searchable by anyone (bwrap would make them 0700) */
function bindWithParents(a: string[], made: Set<string>, d: string, how: '--bind' | '--ro-bind'): void {
  const parents: string[] = [];
  if ([...made].some((h) => under(d, h))) for (let p = path.dirname(d); !made.has(p) && p !== path.dirname(p); p = path.dirname(p)) parents.unshift(p);
  for (const p of parents) {
    a.push('--perms', '0755', '--dir', p);
    made.add(p);
  }
  a.push(how, d, d);
}

/** every folder above `d` that keeps its host permissions (not on a hidden tmpfs) lets others search it */
function searchableByOthers(d: string, hidden: string[]): boolean {
  for (let p = path.dirname(d); p !== path.dirname(p); p = path.dirname(p)) {
    if (hidden.some((h) => under(p, h))) continue;
    try {
      if (!(statSync(p).mode & 0o001)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** bwrap run by root keeps root's capabilities inside unless told otherwise */
function capArgs(asNobody: boolean): string[] {
  if (process.getuid?.() !== 0) return [];
  const keep = asNobody ? ['CAP_SETUID', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_DAC_READ_SEARCH'] : [];
  return ['--cap-drop', 'ALL', ...keep.flatMap((c) => ['--cap-add', c])];
}

const nobodyChecks = new Map<string, Promise<boolean>>();

/** whether the interpreter starts ipykernel as nobody in this sandbox (its files may be private to root); asked once per setup */
function worksAsNobody(bwrap: string, mounts: string[], drop: string[], python: string, env: Record<string, string>): Promise<boolean> {
  const key = JSON.stringify([mounts, python, env.PYTHONPATH, env.PYTHONUSERBASE]);
  let hit = nobodyChecks.get(key);
  if (!hit) {
    // through env, as the launch goes through prlimit: a program run as nobody executes the interpreter
    const args = [...mounts, ...capArgs(true), '--perms', '01777', '--dir', SANDBOX_HOME, '--chdir', '/', '--', ...drop, findOnPath('env') ?? '/usr/bin/env', python, '-c', 'import ipykernel'];
    hit = new Promise((resolve) => execFile(bwrap, args, { env, timeout: 60000 }, (e) => resolve(!e)));
    nobodyChecks.set(key, hit);
  }
  return hit;
}

/** Deletes what a folder holds, keeps the folder (a sandbox's bound work folder); returns it. */
export function emptyFolder(dir: string): string {
  for (const name of readdirSync(dir)) rmSync(path.join(dir, name), { recursive: true, force: true });
  return dir;
}

