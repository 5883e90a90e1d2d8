/**
 * What cgroup.ts needs to know about this machine's control groups: where the hierarchies are
 * mounted (/proc/self/mountinfo), where this process sits in each (/proc/self/cgroup), and
 * small file helpers that never throw. Pure parsing is exported for unit tests.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CgroupMount {
  /** the mount point, e.g. /sys/fs/cgroup or /sys/fs/cgroup/memory */
  mountPoint: string;
  /** the hierarchy path mounted there ('/' unless a container bound a sub-tree) */
  root: string;
  /** 'cgroup2', or the v1 controllers of the hierarchy (memory, pids, freezer, name=systemd…) */
  version: 1 | 2;
  controllers: string[];
}

/** mountinfo escapes space, tab, newline and backslash as \ooo */
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** the cgroup mounts listed in a /proc/<pid>/mountinfo text */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const pre = line.slice(0, dash).split(' ');
    const [fstype, , superOpts = ''] = line.slice(dash + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    const known = [
      'memory',
      'pids',
      'freezer',
      'cpu',
      'cpuacct',
      'cpuset',
      'devices',
      'blkio',
      'net_cls',
      'net_prio',
      'perf_event',
      'hugetlb',
      'rdma',
      'misc',
    ];
    const controllers = fstype === 'cgroup2' ? [] : superOpts.split(',').filter((o) => known.includes(o) || o.startsWith('name='));
    out.push({ mountPoint: unescape(pre[4]), root: unescape(pre[3]), version: fstype === 'cgroup2' ? 2 : 1, controllers });
  }
  return out;
}

/** this process's place in each hierarchy, from /proc/<pid>/cgroup: '' for v2, else each v1 controller -> path */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') out.set('', m[3]);
    else for (const c of m[2].split(',')) out.set(c, m[3]);
  }
  return out;
}

/** the folder of cgroup `cg` (a path in the hierarchy) under `mount`, or undefined if the mount does not show it */
export function cgroupDir(mount: CgroupMount, cg: string): string | undefined {
  const root = mount.root === '/' ? '' : mount.root.replace(/\/$/, '');
  // the mount shows only a sub-tree (a container's) that does not hold this cgroup
  if (cg.startsWith('/..') || (root && cg !== root && !cg.startsWith(`${root}/`))) return undefined;
  const rel = cg.slice(root.length).replace(/^\/+/, '');
  return rel ? path.join(mount.mountPoint, rel) : mount.mountPoint;
}

export interface CgroupLayout {
  mounts: CgroupMount[];
  own: Map<string, string>;
}

export function readLayout(pid: number | 'self' = 'self'): CgroupLayout {
  const mi = readText(`/proc/${pid}/mountinfo`) ?? '';
  const cg = readText(`/proc/${pid}/cgroup`) ?? '';
  return { mounts: parseCgroupMounts(mi), own: parseProcCgroup(cg) };
}

/** the v2 folder this process sits in, and its mount, or undefined */
export function ownV2(layout: CgroupLayout): { mount: CgroupMount; dir: string } | undefined {
  const mount = layout.mounts.find((m) => m.version === 2);
  const own = layout.own.get('');
  if (!mount || own === undefined) return undefined;
  const dir = cgroupDir(mount, own);
  return dir && existsSync(dir) ? { mount, dir } : undefined;
}

/** the v1 folder this process sits in for `controller`, or undefined */
export function ownV1(layout: CgroupLayout, controller: string): string | undefined {
  const mount = layout.mounts.find((m) => m.version === 1 && m.controllers.includes(controller));
  const own = layout.own.get(controller);
  if (!mount || own === undefined) return undefined;
  const dir = cgroupDir(mount, own);
  return dir && existsSync(dir) ? dir : undefined;
}

export function readText(p: string): string | undefined {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return undefined;
  }
}

/** writes `value` to a cgroup control file; the error's message, or undefined on success */
export function writeControl(p: string, value: string): string | undefined {
  try {
    writeFileSync(p, value);
    return undefined;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return `${path.basename(p)}: ${err.code ?? err.message}`;
  }
}

/** the PIDs listed in a cgroup.procs file */
export function readPids(procsFile: string): number[] {
  return (readText(procsFile) ?? '')
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** "key value" lines (memory.events, pids.events, memory.oom_control) as numbers */
export function readKeyed(p: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (readText(p) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}
