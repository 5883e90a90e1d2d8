/**
 * The folders a local kernel session uses on the host, laid out so that the host never acts on a
 * path the sandboxed code can change (issue #21):
 *
 *   <tmp>/codedance-rt-XXXXXX/   private (0700), NEVER bound into the sandbox
 *     owner.json                 which Node process owns the session (for sweepStaleFolders)
 *     in/                        staged input images, bound READ-ONLY (files created O_EXCL)
 *     k-<n>/                     one kernel incarnation: its connection file and ipc sockets;
 *                                a new folder each launch, bound writable, never reused
 *     links-<n>/                 hard links to k-<n>'s sockets, made once the kernel has bound
 *                                them and checked to be sockets: the host connects only here
 *   <workRoot>/codedance-XXXXXX/ the code's working folder, bound writable; deleted only once
 *                                every process of the sandbox is gone (process.ts)
 *
 * Whatever the code does inside k-<n> or the working folder (plant symlinks, swap folders,
 * rewrite files) the host never writes, reads back or deletes through it while the code runs:
 * files the host creates are created with O_CREAT|O_EXCL|O_NOFOLLOW in folders it just made,
 * ownership is changed on open descriptors, and the ownership record lives where the code
 * cannot reach it.
 */
import {
  closeSync,
  constants,
  fchownSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const RUNTIME_PREFIX = 'codedance-rt-';
export const WORKDIR_PREFIX = 'codedance-';
const OWNER_FILE = 'owner.json';
const NOBODY = 65534;
const { O_CREAT, O_EXCL, O_NOFOLLOW, O_WRONLY, O_RDONLY, O_DIRECTORY } = constants;

/** Creates `file` (it must not exist; a symlink there is an error, never followed) and writes `data`. */
export function writeExclusive(file: string, data: string | Uint8Array, mode = 0o600, owner?: { uid: number; gid: number }): void {
  const fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
    if (owner) fchownSync(fd, owner.uid, owner.gid);
  } finally {
    closeSync(fd);
  }
}

/** Makes `dir` (it must not exist yet) and, when given, hands it to `owner` through its descriptor. */
export function makeFreshDir(dir: string, mode = 0o700, owner?: { uid: number; gid: number }): string {
  mkdirSync(dir, { mode });
  if (owner) {
    const fd = openSync(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      fchownSync(fd, owner.uid, owner.gid);
    } finally {
      closeSync(fd);
    }
  }
  return dir;
}

/** A session's private runtime folder with its ownership record and its (empty) inputs folder. */
export function makeRuntimeDir(workdir: string): string {
  const rt = mkdtempSync(path.join(os.tmpdir(), RUNTIME_PREFIX)); // 0700
  writeExclusive(path.join(rt, OWNER_FILE), JSON.stringify({ nodePid: process.pid, workdir }));
  makeFreshDir(inputsDir(rt), 0o755);
  return rt;
}

/** where staged input images live (bound read-only into the sandbox) */
export function inputsDir(runtimeDir: string): string {
  return path.join(runtimeDir, 'in');
}

/** whether every path exists (any kind of file) */
export function allPresent(paths: string[]): boolean {
  return paths.every((p) => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Hard-links each socket `from[i]` to `to[i]` (in a folder only the host can write) and checks
 * that what was linked is a socket owned by `uid`: a symlink or a planted file is refused (link()
 * never follows a symlink; a hard link across mounts fails). The host then connects through
 * `to` only, so nothing the code renames afterwards changes where the host connects.
 */
export function linkSockets(from: string[], to: string[], uid: number | undefined): void {
  from.forEach((src, i) => {
    linkSync(src, to[i]);
    const st = lstatSync(to[i]);
    if (!st.isSocket() || (uid !== undefined && st.uid !== uid)) {
      unlinkSync(to[i]);
      throw new Error(
        `${src} is not a socket the kernel made (${st.isSymbolicLink() ? 'a symbolic link' : st.isSocket() ? `owned by uid ${st.uid}` : 'not a socket'})`,
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// stale folders of a Node process that was killed outright
// ---------------------------------------------------------------------------------------------

/** Once per process (module state on purpose): the stale folders are swept at the first kernel start. */
let swept = false;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** a real folder (not a link) owned by `uids`, private to its owner when `priv` */
function ownedDir(p: string, uids: number[], priv: boolean): boolean {
  try {
    const st = lstatSync(p);
    return st.isDirectory() && uids.includes(st.uid) && (!priv || (st.mode & 0o077) === 0);
  } catch {
    return false;
  }
}

/** reads owner.json without following a link, from a folder already checked to be private */
function readOwner(rt: string): { nodePid: number; workdir: string } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path.join(rt, OWNER_FILE), O_RDONLY | O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) return undefined;
    const o = JSON.parse(readFileSync(fd, 'utf8')) as { nodePid: unknown; workdir: unknown };
    return typeof o.nodePid === 'number' && typeof o.workdir === 'string' ? { nodePid: o.nodePid, workdir: o.workdir } : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Removes the folders of sessions whose Node process is gone (it was SIGKILLed: no 'exit'
 * handler ran; the sandbox died with it). Only runtime folders private to this user are read,
 * and a working folder is removed only when it is a real folder named codedance-* owned by this
 * user (or by nobody, whom the code runs as when CodeDance runs as root). Runs once per process.
 */
export function sweepStaleFolders(root = os.tmpdir(), force = false): number {
  if (swept && !force) return 0;
  swept = true;
  const me = process.getuid?.() ?? -1;
  let removed = 0;
  let entries: string[];
  try {
    entries = readdirSync(root).filter((n) => n.startsWith(RUNTIME_PREFIX));
  } catch {
    return 0;
  }
  for (const name of entries) {
    const rt = path.join(root, name);
    if (!ownedDir(rt, [me], true)) continue;
    const owner = readOwner(rt);
    if (!owner || owner.nodePid === process.pid || pidAlive(owner.nodePid)) continue;
    const wd = owner.workdir;
    const workUids = me === 0 ? [0, NOBODY] : [me];
    if (
      path.isAbsolute(wd) &&
      path.basename(wd).startsWith(WORKDIR_PREFIX) &&
      !path.basename(wd).startsWith(RUNTIME_PREFIX) &&
      ownedDir(wd, workUids, false)
    ) {
      rmSync(wd, { recursive: true, force: true });
    }
    rmSync(rt, { recursive: true, force: true });
    removed++;
  }
  return removed;
}
