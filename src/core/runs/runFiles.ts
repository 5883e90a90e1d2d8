/**
 * Where a run's files are read from: a local or mounted folder, or the cluster over the profile's
 * SSH connection (the one the Slurm backend already holds: no second login). Paths are the
 * cluster's (POSIX); `~/…` is the remote home.
 *
 * Over SSH, files are read over the connection's SFTP session (`SshConnection.sftp()`): a folder
 * listed, a file read whole or from a byte offset (reads at that position, many in flight at
 * once), a tree walked a level at a time. No shell: a path with spaces or quotes needs no quoting.
 */
import { open, readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as posix from 'node:path/posix';
import type { FileEntryWithStats, SFTPWrapper, Stats } from 'ssh2';
import { isCodeDanceError } from '../errors';
import { JobsError } from '../jobs/errors';
import type { SshConnection } from '../jobs/SshConnection';
import { shQuote } from '../jobs/slurmText';
import { RunsError } from './errors';

export interface RunFiles {
  /** names in a folder (not paths), unsorted; a RunsError `notFound` when the folder is not there */
  list(dir: string): Promise<string[]>;
  /** a file as UTF-8 text; a RunsError `notFound` when it is not there */
  read(path: string): Promise<string>;
  /** the file from byte `offset` on (a log or dump that grows) */
  readFrom?(path: string, offset: number): Promise<string>;
  /** paths relative to `dir`, down to `depth` levels (`global_step_20/merged_hf/config.json`): one call for a whole tree */
  listDeep?(dir: string, depth: number): Promise<string[]>;
}

function localError(e: unknown, what: string): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    throw new RunsError('notFound', `${what} does not exist`, 'check the path (or wait until the trainer writes it)');
  throw new RunsError('unreadable', `cannot read ${what}: ${(e as Error).message}`, 'check its permissions');
}

async function walk(root: string, rel: string, depth: number, out: string[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(path.join(root, rel), { withFileTypes: true });
  } catch (e) {
    if (rel) return; // a subfolder that vanished while walking: skipped
    localError(e, `folder ${root}`);
  }
  for (const d of entries) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    out.push(r);
    if (depth > 1 && d.isDirectory()) await walk(root, r, depth - 1, out);
  }
}

export function localRunFiles(): RunFiles {
  return {
    async list(dir) {
      try {
        return await readdir(dir);
      } catch (e) {
        localError(e, `folder ${dir}`);
      }
    },
    async read(p) {
      try {
        return await readFile(p, 'utf8');
      } catch (e) {
        localError(e, `file ${p}`);
      }
    },
    async readFrom(p, offset) {
      let fh;
      try {
        fh = await open(p, 'r');
      } catch (e) {
        localError(e, `file ${p}`);
      }
      try {
        const { size } = await fh.stat();
        const len = Math.max(0, size - offset);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        return buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await fh.close();
      }
    },
    async listDeep(dir, depth) {
      const out: string[] = [];
      await walk(dir, '', depth, out);
      return out;
    },
  };
}

/** A remote path for the shell: `~/x` stays the remote home, the rest is quoted. */
export function remoteShellPath(p: string): string {
  if (p === '~') return '"$HOME"';
  if (p.startsWith('~/')) return `"$HOME"/${shQuote(p.slice(2))}`;
  return shQuote(p);
}

/** SFTP's status codes (draft-ietf-secsh-filexfer-02 §7), as ssh2 puts them on `err.code`. */
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

type SftpCall<T> = (cb: (err: Error | undefined | null, value: T) => void) => void;

function call<T>(fn: SftpCall<T>): Promise<T> {
  return new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));
}

/** Reads in flight at once, as ssh2's own fastGet (64 × 32 KiB): a big dump is not one round trip per chunk. */
const READ_CHUNK = 32 * 1024;
const READS_IN_FLIGHT = 64;

/** The file's bytes from `start` to its size now (a file that grows is read again from where this ended). */
async function readRange(sftp: SFTPWrapper, p: string, start: number): Promise<Buffer> {
  const handle = await call<Buffer>((cb) => sftp.open(p, 'r', cb));
  try {
    const { size } = await call<Stats>((cb) => sftp.fstat(handle, cb));
    const total = Math.max(0, size - start);
    const buf = Buffer.alloc(total);
    let next = 0;
    let end = total; // lowered when the file turns out shorter (cut while it was read)
    const worker = async () => {
      while (next < end) {
        const at = next;
        next += READ_CHUNK;
        const want = Math.min(READ_CHUNK, total - at);
        for (let done = 0; done < want;) {
          const n = await call<number>((cb) => sftp.read(handle, buf, at + done, want - done, start + at + done, cb));
          if (n === 0) {
            end = Math.min(end, at + done);
            break;
          }
          done += n;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, Math.ceil(total / READ_CHUNK)) }, worker));
    return buf.subarray(0, end);
  } finally {
    // not awaited: after a failed read its own error is the one to report; a handle left open ends with the session
    sftp.close(handle, () => undefined);
  }
}

/**
 * The run's files over the SFTP session of `conn` (the connection the Slurm backend already
 * holds, or a Ray profile's jump host): paths go to the server as they are, no shell, no quoting.
 * `~` and `~/…` are the remote home; other relative paths are relative to it too (as in a shell).
 */
export function sshRunFiles(conn: SshConnection): RunFiles {
  const where = conn.target.label;
  const homes = new WeakMap<SFTPWrapper, Promise<string>>();
  /** the session, and `p` as the server should see it */
  async function open(p: string): Promise<[SFTPWrapper, string]> {
    const sftp = await conn.sftp();
    if (p !== '~' && !p.startsWith('~/')) return [sftp, p];
    let home = homes.get(sftp);
    if (!home) homes.set(sftp, (home = call<string>((cb) => sftp.realpath('.', cb))));
    return [sftp, posix.join(await home, p.slice(2))];
  }
  function fail(e: unknown, what: string): never {
    sftpFailure(e, what, where);
  }
  return {
    async list(dir) {
      try {
        const [sftp, d] = await open(dir);
        return (await names(sftp, d)).map((e) => e.filename);
      } catch (e) {
        fail(e, `folder ${dir}`);
      }
    },
    async read(p) {
      try {
        const [sftp, f] = await open(p);
        return (await readRange(sftp, f, 0)).toString('utf8');
      } catch (e) {
        fail(e, `file ${p}`);
      }
    },
    async readFrom(p, offset) {
      try {
        const [sftp, f] = await open(p);
        return (await readRange(sftp, f, Math.max(0, Math.floor(offset)))).toString('utf8');
      } catch (e) {
        fail(e, `file ${p}`);
      }
    },
    async listDeep(dir, depth) {
      try {
        const [sftp, root] = await open(dir);
        return await walkSftp(sftp, root, depth);
      } catch (e) {
        fail(e, `folder ${dir}`);
      }
    },
  };
}

/** An SFTP error as the run's error: not there, unreadable (with the SFTP status), or the connection dropped. */
function sftpFailure(e: unknown, what: string, where: string): never {
  if (isCodeDanceError(e)) throw e;
  const err = e as Error & { code?: unknown };
  if (err.code === SFTP_NO_SUCH_FILE)
    throw new RunsError('notFound', `${what} does not exist on ${where}`, 'check the path (or wait until the trainer writes it)');
  if (typeof err.code === 'number')
    throw new RunsError(
      'unreadable',
      `cannot read ${what} on ${where}: ${err.message}`,
      err.code === SFTP_PERMISSION_DENIED ? 'check its permissions' : 'check that it is a readable file or folder',
    );
  // no SFTP status: the session or the connection broke
  throw new JobsError('connection', `SSH to ${where} dropped while reading ${what}: ${err.message}`);
}

function names(sftp: SFTPWrapper, dir: string): Promise<FileEntryWithStats[]> {
  return call<FileEntryWithStats[]>((cb) => sftp.readdir(dir, cb));
}

/** Every path under `root` down to `depth` levels, relative to it: one level at a time, each level's folders read at once (SFTP requests are pipelined). */
async function walkSftp(sftp: SFTPWrapper, root: string, depth: number): Promise<string[]> {
  const out: string[] = [];
  let level = [''];
  for (let d = 0; d < Math.max(1, Math.floor(depth)) && level.length; d++) {
    const found = await Promise.all(
      level.map(async (rel) => {
        const entries = await names(sftp, rel ? `${root}/${rel}` : root).catch((e: unknown) => {
          if (rel && (e as { code?: unknown }).code === SFTP_NO_SUCH_FILE) return []; // a subfolder that vanished while walking
          throw e;
        });
        return entries.map((e) => ({ rel: rel ? `${rel}/${e.filename}` : e.filename, dir: e.attrs.isDirectory() }));
      }),
    ).then((f) => f.flat());
    out.push(...found.map((f) => f.rel));
    level = found.filter((f) => f.dir).map((f) => f.rel);
  }
  return out;
}
