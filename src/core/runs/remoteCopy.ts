/**
 * A file of the cluster (a run's validation parquet) copied to a cache folder on this machine, so
 * that the eval (which reads local files) can use it, over the Slurm profile's own SSH connection:
 * its SFTP session (`SshConnection.sftp()`: a read stream from a byte offset, no shell), or — for a
 * login node without the SFTP subsystem — commands whose output is the bytes as base64 in chunks
 * (`tail -c +OFFSET | head -c N | base64`), checked against the remote `sha256sum` at the end.
 * Either way the bytes are appended to `<file>.part`, so a copy that was interrupted goes on from
 * where it stopped, and renamed into place once whole. The cache is keyed by host and remote path;
 * a copy is reused while the remote file keeps its size and modification time, and one that
 * changed while it was copied is thrown away.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { SFTPWrapper, Stats } from 'ssh2';
import { JobsError } from '../jobs/errors';
import type { SshConnection } from '../jobs/SshConnection';
import { CheckpointError } from './checkpointErrors';
import { remoteShellPath } from './runFiles';

/** What a copy needs of the SSH connection: commands, its SFTP session when it has one, and the host's name for messages. */
export type CommandHost = Pick<SshConnection, 'exec'> & { target: { label: string }; sftp?: () => Promise<SFTPWrapper> };

export interface CopyDownOptions {
  signal?: AbortSignal;
  /** bytes per command when copying without SFTP (default 8 MiB) */
  chunkBytes?: number;
  onProgress?: (done: number, total: number) => void;
}

interface Source {
  remote: string;
  host: string;
  size: number;
  mtime: number;
  /** set once the copy is whole */
  done?: boolean;
}

/** One way of reading the remote file: its size and time, and its bytes from an offset on. */
interface Reader {
  stat(remote: string): Promise<{ size: number; mtime: number } | undefined>;
  /** appends the bytes from `part`'s length on */
  fetch(src: Source, part: string, o: CopyDownOptions): Promise<void>;
  /** undefined: the copy matches; else why not */
  verify(src: Source, part: string): Promise<string | undefined>;
}

const sizeOf = async (f: string) => (existsSync(f) ? (await stat(f)).size : 0);

function cancelled(src: Source, done: number): CheckpointError {
  return new CheckpointError(
    'cancelled',
    `cancelled while copying ${src.remote} (${done} of ${src.size} bytes kept: the next copy goes on from there)`,
  );
}

/** SFTP takes `~/x` as `x` (relative paths are the home's). */
const sftpPath = (p: string) => (p === '~' ? '.' : p.replace(/^~\//, ''));

function sftpReader(sftp: SFTPWrapper, where: string): Reader {
  return {
    stat: (remote) =>
      new Promise((resolve, reject) =>
        sftp.stat(sftpPath(remote), (err, s: Stats) => {
          if (!err) return resolve(s.isFile() ? { size: s.size, mtime: s.mtime } : undefined);
          if ((err as { code?: number }).code === 2) return resolve(undefined); // SSH_FX_NO_SUCH_FILE
          reject(new CheckpointError('data-failed', `cannot read ${remote} on ${where}: ${err.message}`));
        }),
      ),
    async fetch(src, part, o) {
      let done = await sizeOf(part);
      o.onProgress?.(done, src.size);
      if (done >= src.size) return;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          done += chunk.length;
          o.onProgress?.(done, src.size);
          cb(null, chunk);
        },
      });
      try {
        await pipeline(sftp.createReadStream(sftpPath(src.remote), { start: done }), count, createWriteStream(part, { flags: 'a' }), {
          signal: o.signal,
        });
      } catch (e) {
        if (o.signal?.aborted) throw cancelled(src, await sizeOf(part)); // what reached the disk is what the next copy goes on from
        throw new CheckpointError('data-failed', `copying ${src.remote} from ${where}: ${(e as Error).message}`, 'try again', e);
      }
    },
    async verify(src, part) {
      const now = await this.stat(src.remote);
      if (now?.size !== src.size || now.mtime !== src.mtime) return 'it changed on the cluster while it was copied';
      if ((await sizeOf(part)) !== src.size) return `the copy holds ${await sizeOf(part)} of its ${src.size} bytes`;
      return undefined;
    },
  };
}

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** Without SFTP: commands, their output base64 (a command's output is text). */
function commandReader(conn: CommandHost): Reader {
  const where = conn.target.label;
  return {
    async stat(remote) {
      const f = remoteShellPath(remote);
      const r = await conn.exec(`test -f ${f} || exit 3; stat -L -c '%s %Y' -- ${f}`);
      if (r.code === 3) return undefined;
      const m = /^(\d+) (\d+)/.exec(r.stdout.trim());
      if (r.code !== 0 || !m)
        throw new CheckpointError('data-failed', `cannot read ${remote} on ${where} (exit ${r.code}): ${r.stderr.trim() || 'no message'}`);
      return { size: Number(m[1]), mtime: Number(m[2]) };
    },
    async fetch(src, part, o) {
      const chunk = Math.max(4096, Math.floor(o.chunkBytes ?? 8 * 1024 * 1024));
      const f = remoteShellPath(src.remote);
      let done = await sizeOf(part);
      o.onProgress?.(done, src.size);
      while (done < src.size) {
        if (o.signal?.aborted) throw cancelled(src, done);
        const want = Math.min(chunk, src.size - done);
        const r = await conn.exec(`tail -c +${done + 1} -- ${f} | head -c ${want} | base64 | tr -d '\\n'`);
        const bytes = Buffer.from(r.stdout.trim(), 'base64');
        if (r.code !== 0 || bytes.length !== want)
          throw new CheckpointError(
            'data-failed',
            `copying ${src.remote} from ${where}: expected ${want} bytes at ${done}, got ${bytes.length} (exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''})`,
            'the file may have changed while it was copied: try again',
          );
        await appendFile(part, bytes);
        done += bytes.length;
        o.onProgress?.(done, src.size);
      }
    },
    async verify(src, part) {
      const r = await conn.exec(`sha256sum -- ${remoteShellPath(src.remote)}`);
      const want = /^([0-9a-f]{64})\b/.exec(r.stdout.trim())?.[1];
      return want && want !== (await sha256File(part)) ? 'its sha256 differs from the file on the cluster' : undefined;
    },
  };
}

/** The SFTP session when the connection has one (a login node without the SFTP subsystem: commands). */
async function readerFor(conn: CommandHost): Promise<Reader> {
  if (!conn.sftp) return commandReader(conn);
  try {
    return sftpReader(await conn.sftp(), conn.target.label);
  } catch (e) {
    if (e instanceof JobsError && e.code === 'config') return commandReader(conn); // no SFTP subsystem: the same bytes through commands
    throw e;
  }
}

async function readSource(file: string): Promise<Source | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Source;
  } catch {
    return undefined; // none yet, or damaged: the copy is made again, nothing is lost
  }
}

/**
 * Copies `remote` into `cacheDir` (unless the cached copy is current) and resolves with the local
 * path, which keeps the remote file's name (the eval names its results after it).
 */
export async function copyDown(conn: CommandHost, remote: string, cacheDir: string, o: CopyDownOptions = {}): Promise<string> {
  const host = conn.target.label;
  const key = createHash('sha256').update(`${host}\n${remote}`).digest('hex').slice(0, 16);
  const dir = path.join(cacheDir, key);
  const local = path.join(dir, path.posix.basename(remote));
  const note = path.join(dir, '.source.json');
  const part = `${local}.part`;
  await mkdir(dir, { recursive: true });
  const reader = await readerFor(conn);
  const st = await reader.stat(remote);
  if (!st)
    throw new CheckpointError('no-data', `${remote} does not exist on ${host}`, 'check data.val_files of the run, or pick another dataset');
  const src: Source = { remote, host, ...st };
  const had = await readSource(note);
  const same = had?.remote === remote && had.size === st.size && had.mtime === st.mtime;
  if (same && had.done && (await sizeOf(local)) === st.size) return local; // current
  if (!same) {
    await rm(part, { force: true });
    await rm(local, { force: true });
    await writeFile(note, JSON.stringify(src));
  }
  await reader.fetch(src, part, o);
  const bad = await reader.verify(src, part);
  if (bad) {
    await rm(part, { force: true });
    await rm(note, { force: true });
    throw new CheckpointError('data-failed', `the copy of ${remote} from ${host} was thrown away: ${bad}`, 'try again');
  }
  await rename(part, local);
  await writeFile(note, JSON.stringify({ ...src, done: true } satisfies Source));
  return local;
}
