/**
 * A write that failed because the disk is full (ENOSPC) or the quota on it is used up (EDQUOT),
 * as one error that names the file, the mount point of the disk that holds it, how much is free
 * there, and what to do.
 *
 * Thrown by every writer of results, images and trajectories (atomicWrite.ts, the results file,
 * the image store, the parquet writer), and made by the adapters (`asDiskFull`) out of whatever
 * else reports a full disk: a Node error with code ENOSPC, the kernel's
 * `OSError: [Errno 28] No space left on device: '…'`, or that error's plain-JSON form in a
 * trajectory. Handled by src/cli/errors.ts (its own exit code) and src/extension/errors.ts.
 */
import { readFileSync, realpathSync, statfsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CodeDanceError, diskFullCode, errorKind, type DiskFullCode, type ErrorKind } from '../errors';

/** What the file was: one of the command's outputs, or the kernel's temporary working files. */
export type DiskRole = 'output' | 'work';

export interface DiskFullDetails {
  code: DiskFullCode;
  /** the file (or folder) that could not be written, when known */
  file?: string;
  /** the mount point of the disk that holds it, when known (Linux: /proc/self/mountinfo) */
  mount?: string;
  /** bytes free there for this user, when known (after the failed write was taken back) */
  freeBytes?: number;
  /** the size of what was being written, when known */
  bytes?: number;
  role: DiskRole;
}

export class DiskFullError extends CodeDanceError {
  override name = 'DiskFullError';
  readonly details: DiskFullDetails;

  constructor(details: DiskFullDetails, cause?: unknown) {
    const where = details.mount ?? (details.file ? path.dirname(details.file) : undefined);
    const disk = where ? `the disk mounted at ${where}` : 'a disk CodeDance writes to';
    const free = details.freeBytes !== undefined ? ` (${formatBytes(details.freeBytes)} free)` : '';
    const size = details.bytes !== undefined ? ` (${formatBytes(details.bytes)})` : '';
    const what = details.file ? `cannot write ${details.file}${size}: ` : '';
    const reason =
      details.code === 'EDQUOT' ? `${what}the disk quota on ${disk} is used up${free}` : `${what}no space left on ${disk}${free}`;
    const room = where ? `free space on ${where}` : 'free disk space';
    const fix =
      details.role === 'output'
        ? { text: `${room}, or write the output to a folder on another disk`, setting: 'output.folder' as const }
        : { text: `${room}, or point TMPDIR at a folder on another disk (the kernels' temporary files go there)` };
    super('disk-full', reason, { fix, cause, code: details.code });
    this.details = details;
  }
}

/**
 * The DiskFullError a thrown value stands for (itself, or made from it), or undefined when it
 * does not say the disk is full. `file` is the file being written (else a quoted absolute path
 * in the message, e.g. Python's `…: '/tmp/x/input_image.jpg'`); `role` defaults to 'output'
 * when `file` is given, else to 'work' for a path under the temporary folder (the kernels'
 * files) or no path at all, and 'output' for any other path.
 */
export function asDiskFull(e: unknown, o: { file?: string; role?: DiskRole; bytes?: number } = {}): DiskFullError | undefined {
  if (e instanceof DiskFullError) return e;
  const code = localDiskFullCode(e);
  if (!code) return undefined;
  const file = o.file ?? pathInMessage(e);
  const tmp = path.resolve(os.tmpdir());
  const role = o.role ?? (o.file || (file && file !== tmp && !file.startsWith(`${tmp}/`)) ? 'output' : 'work');
  // no file named: a kernel's temporary files are under the temporary folder; an output's folder is unknown
  const probe = file ?? (role === 'work' ? tmp : undefined);
  if (probe === undefined) return new DiskFullError({ code, role, bytes: o.bytes }, e);
  const mount = mountPointOf(probe);
  return new DiskFullError({ code, file, mount, freeBytes: freeBytes(mount ?? probe), role, bytes: o.bytes }, e);
}

/** What reports a full disk of this machine: a bare error, the kernel's, a Python environment's (a model
 * server or a cluster that says its own disk is full is an error of theirs, with their kind). */
const LOCAL_KINDS: readonly ErrorKind[] = ['internal', 'kernel', 'python-env', 'disk-full'];

/** `diskFullCode` of an error that is about this machine's disks (see LOCAL_KINDS). */
export function localDiskFullCode(e: unknown): DiskFullCode | undefined {
  return LOCAL_KINDS.includes(errorKind(e)) ? diskFullCode(e) : undefined;
}

/** Throws the DiskFullError `e` stands for, else `e` itself. */
export function rethrowDiskFull(e: unknown, file: string, o: { role?: DiskRole; bytes?: number } = {}): never {
  throw asDiskFull(e, { file, role: o.role ?? 'output', bytes: o.bytes }) ?? e;
}

function pathInMessage(e: unknown): string | undefined {
  const message = typeof e === 'string' ? e : (e as { message?: unknown } | null)?.message;
  if (typeof message !== 'string') return undefined;
  return /'(\/[^']+)'/.exec(message)?.[1] ?? /"(\/[^"]+)"/.exec(message)?.[1];
}

/** The nearest folder at or above `p` that exists, links resolved (the file itself may not exist yet). */
function existingAncestor(p: string): string {
  let d = path.resolve(p);
  for (;;) {
    try {
      return realpathSync(d);
    } catch {
      const up = path.dirname(d);
      if (up === d) return d;
      d = up;
    }
  }
}

/** `\040`-style escapes of /proc/self/mountinfo */
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mount point of the filesystem that holds `p` (Linux), or undefined where that cannot be read. */
export function mountPointOf(p: string, mountinfo?: string): string | undefined {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  const target = mountinfo === undefined ? existingAncestor(p) : path.resolve(p);
  let best: string | undefined;
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const point = unescapeMount(mp);
    const inside = point === '/' || target === point || target.startsWith(`${point}/`);
    if (inside && (!best || point.length >= best.length)) best = point;
  }
  return best;
}

function freeBytes(p: string): number | undefined {
  try {
    const s = statfsSync(existingAncestor(p));
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
