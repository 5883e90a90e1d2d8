/**
 * What the sandbox (sandbox.ts) needs to know about this machine: whether bwrap works here
 * (asked once), the interpreter's own folders, GPU device nodes, the memory default, whether
 * RLIMIT_NPROC is per sandbox, and the host PID of a sandboxed interpreter.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isOtherOrGoneProcEntry } from './pidErrors';

const MiB = 1024 * 1024;

export interface SandboxStatus {
  available: boolean;
  /** when not available: why, in words */
  reason?: string;
  /** when not available: how to get it */
  fix?: string;
}

/** what every sandbox gets (the network namespace unless network is on) */
export const NAMESPACES = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--die-with-parent', '--new-session'];

/** min(8192, half the RAM), MiB */
export function defaultMemoryLimitMb(totalBytes = os.totalmem()): number {
  return Math.max(512, Math.min(8192, Math.floor(totalBytes / 2 / MiB)));
}

/** NVIDIA/DRI device nodes of this machine (bound into the sandbox so CUDA keeps working) */
export function gpuDevices(): string[] {
  if (process.platform !== 'linux') return [];
  try {
    return readdirSync('/dev')
      .filter((n) => /^nvidia/.test(n) || n === 'dri')
      .map((n) => `/dev/${n}`);
  } catch {
    return [];
  }
}

/**
 * The limit when none is set: defaultMemoryLimitMb(), except on a machine with an NVIDIA GPU,
 * where none (CUDA reserves far more address space than it uses, so RLIMIT_AS breaks it).
 */
export function automaticMemoryLimitMb(): number {
  return gpuDevices().some((d) => d === '/dev/nvidiactl') ? 0 : defaultMemoryLimitMb();
}

/** Process-wide cache (module state on purpose): the sandbox probe, a fact of this machine. */
let cachedStatus: SandboxStatus | undefined;

export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter)) {
    const p = path.join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export function sandboxStatus(refresh = false): SandboxStatus {
  if (cachedStatus && !refresh) return cachedStatus;
  cachedStatus = probeSandbox();
  return cachedStatus;
}

function probeSandbox(): SandboxStatus {
  if (process.platform !== 'linux') {
    return {
      available: false,
      reason: `bubblewrap sandboxes exist only on Linux (this is ${process.platform})`,
      fix: 'run CodeDance on Linux (or in a Linux VM/container) to sandbox the code',
    };
  }
  const bwrap = findOnPath('bwrap');
  if (!bwrap)
    return {
      available: false,
      reason: 'bubblewrap (bwrap) is not installed',
      fix: 'install it: sudo apt-get install bubblewrap (Fedora: dnf install bubblewrap)',
    };
  // the same namespaces a kernel gets: user namespaces may be disabled or restricted (AppArmor)
  const caps = process.getuid?.() === 0 ? ['--cap-drop', 'ALL'] : [];
  const args = [
    ...NAMESPACES,
    '--unshare-net',
    ...caps,
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    '--',
    'true',
  ];
  const r = spawnSync(bwrap, args, { encoding: 'utf8', timeout: 10000 });
  if (r.status === 0) return { available: true };
  const why = (r.error?.message ?? r.stderr ?? '').trim().split('\n')[0] || `exit code ${r.status}`;
  return {
    available: false,
    reason: `bwrap cannot create namespaces here (${why})`,
    fix: 'allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or an AppArmor profile for bwrap), or run where bwrap works',
  };
}

export interface PythonFolders {
  executable: string;
  dirs: string[];
  /** site.USER_BASE when the user site-packages folder exists and is enabled */
  userBase?: string;
  /** the interpreter does not exist */
  missing?: boolean;
}

/** Process-wide cache (module state on purpose): each interpreter's folders, a fact of this machine. */
const pythonPathsCache = new Map<string, PythonFolders>();

export async function pythonFolders(python: string, env: Record<string, string>): Promise<PythonFolders> {
  const key = `${python}\0${env.PYTHONPATH ?? ''}\0${env.PYTHONHOME ?? ''}`;
  const hit = pythonPathsCache.get(key);
  if (hit) return hit;
  const code =
    'import sys,json,os,site\n' +
    'u=site.getusersitepackages() if site.ENABLE_USER_SITE else ""\n' +
    'print(json.dumps({"exe":sys.executable,"user":site.USER_BASE if u and os.path.isdir(u) else "","dirs":[sys.prefix,sys.exec_prefix,sys.base_prefix,sys.base_exec_prefix,os.path.dirname(os.path.realpath(sys.executable))]+[p for p in sys.path if p]}))';
  let parsed: { exe: string; user: string; dirs: string[] };
  try {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(python, ['-c', code], { env, encoding: 'utf8', timeout: 30000, windowsHide: true }, (e, stdout) =>
        e ? reject(e) : resolve(stdout),
      ),
    );
    parsed = JSON.parse(out.trim().split('\n').pop()!) as typeof parsed;
  } catch (e) {
    // not runnable: the launch itself then fails and says why (not cached)
    return {
      executable: python,
      dirs: path.isAbsolute(python) ? [path.dirname(python)] : [],
      missing: (e as NodeJS.ErrnoException).code === 'ENOENT',
    };
  }
  const r: PythonFolders = {
    executable: parsed.exe || python,
    dirs: [...parsed.dirs, path.dirname(parsed.exe || python)],
    userBase: parsed.user || undefined,
  };
  pythonPathsCache.set(key, r);
  return r;
}

export function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * RLIMIT_NPROC counts the processes of a user ID. It is a per-sandbox limit only when bwrap
 * makes a user namespace (not setuid, not root) on Linux >= 5.14 (rlimits counted per user
 * namespace); otherwise it would count all of the user's processes (root: not enforced at all).
 */
export function processLimitIsPerSandbox(bwrap: string): boolean {
  if (process.getuid?.() === 0) return false;
  try {
    if (statSync(bwrap).mode & 0o4000) return false;
  } catch {
    return false;
  }
  const [major, minor] = os
    .release()
    .split('.')
    .map((x) => parseInt(x, 10));
  return major > 5 || (major === 5 && minor >= 14);
}

export function isRealDir(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The host PID of the interpreter inside a sandbox started as `bwrapPid` (bwrap -> its init in
 * the PID namespace -> the interpreter), for SIGINT; undefined if not (yet) there. Linux only.
 */
export function sandboxedInterpreterPid(bwrapPid: number): number | undefined {
  const children = new Map<number, number[]>();
  let names: string[];
  try {
    names = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  for (const n of names) {
    try {
      const stat = readFileSync(`/proc/${n}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(Number(n));
    } catch (e) {
      if (!isOtherOrGoneProcEntry(e)) throw e;
    }
  }
  for (const init of children.get(bwrapPid) ?? []) {
    const kids = children.get(init) ?? [];
    if (kids.length) return Math.min(...kids);
  }
  return undefined;
}

/**
 * matplotlib's font caches of the host user (fontlist-v*.json): bound read-only into the fresh
 * home, so that a sandboxed kernel does not rebuild the font list at every start (~0.3 s).
 */
export function matplotlibFontCaches(hostEnv: Record<string, string | undefined>): string[] {
  const home = hostEnv.HOME;
  const dir =
    hostEnv.MPLCONFIGDIR ??
    (hostEnv.XDG_CACHE_HOME ? path.join(hostEnv.XDG_CACHE_HOME, 'matplotlib') : home ? path.join(home, '.cache', 'matplotlib') : undefined);
  if (!dir || !path.isAbsolute(dir)) return [];
  try {
    return readdirSync(dir)
      .filter((n) => /^fontlist-v\d+\.json$/.test(n))
      .map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}
