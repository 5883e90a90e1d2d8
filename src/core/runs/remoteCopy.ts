/**
 * A file of the cluster (a run's validation parquet) copied to a cache folder on this machine, so
 * that the eval (which reads local files) can use it. Over the Slurm profile's own SSH connection:
 * SshConnection exposes commands, not SFTP, and a command's output is text, so the bytes come as
 * base64 in chunks (`tail -c +OFFSET | head -c N | base64`), appended to `<file>.part`: a copy that
 * was interrupted goes on from where it stopped. The cache is keyed by the remote path, and a copy
 * is reused while the remote file keeps its size and modification time; a finished copy is checked
 * against the remote `sha256sum` before it is renamed into place.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { SshConnection } from '../jobs/SshConnection';
import { CheckpointError } from './checkpointErrors';
import { remoteShellPath } from './runFiles';

/** What a copy needs of the SSH connection: a command, and the host's name for messages. */
export type CommandHost = Pick<SshConnection, 'exec'> & { target: { label: string } };

export interface CopyDownOptions {
  signal?: AbortSignal;
  /** bytes per command (default 8 MiB) */
  chunkBytes?: number;
  onProgress?: (done: number, total: number) => void;
}

interface Source {
  remote: string;
  host: string;
  size: number;
  mtime: number;
  sha256?: string;
}

async function remoteStat(conn: CommandHost, remote: string): Promise<{ size: number; mtime: number }> {
  const f = remoteShellPath(remote);
  const r = await conn.exec(`test -f ${f} || exit 3; stat -L -c '%s %Y' -- ${f}`);
  if (r.code === 3)
    throw new CheckpointError(
      'no-data',
      `${remote} does not exist on ${conn.target.label}`,
      'check data.val_files of the run, or pick another dataset',
    );
  const m = /^(\d+) (\d+)/.exec(r.stdout.trim());
  if (r.code !== 0 || !m)
    throw new CheckpointError(
      'data-failed',
      `cannot read ${remote} on ${conn.target.label} (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim() || 'no message'}`,
    );
  return { size: Number(m[1]), mtime: Number(m[2]) };
}

async function readSource(file: string): Promise<Source | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Source;
  } catch {
    return undefined; // none yet, or damaged: the copy is made again, nothing is lost
  }
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

const sizeOf = async (f: string) => (existsSync(f) ? (await stat(f)).size : 0);

/** Appends the remote bytes from the `.part`'s length on. */
async function fetchChunks(conn: CommandHost, src: Source, part: string, o: CopyDownOptions): Promise<void> {
  const chunk = Math.max(4096, Math.floor(o.chunkBytes ?? 8 * 1024 * 1024));
  const f = remoteShellPath(src.remote);
  let done = await sizeOf(part);
  o.onProgress?.(done, src.size);
  while (done < src.size) {
    if (o.signal?.aborted)
      throw new CheckpointError(
        'cancelled',
        `cancelled while copying ${src.remote} (${done} of ${src.size} bytes kept: the next copy goes on from there)`,
      );
    const want = Math.min(chunk, src.size - done);
    const r = await conn.exec(`tail -c +${done + 1} -- ${f} | head -c ${want} | base64 | tr -d '\\n'`);
    const bytes = Buffer.from(r.stdout.trim(), 'base64');
    if (r.code !== 0 || bytes.length !== want)
      throw new CheckpointError(
        'data-failed',
        `copying ${src.remote} from ${conn.target.label}: expected ${want} bytes at ${done}, got ${bytes.length} (exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''})`,
        'the file may have changed while it was copied: try again',
      );
    await appendFile(part, bytes);
    done += bytes.length;
    o.onProgress?.(done, src.size);
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
  const { size, mtime } = await remoteStat(conn, remote);
  const had = await readSource(note);
  const same = had?.remote === remote && had.size === size && had.mtime === mtime;
  if (same && had.sha256 && (await sizeOf(local)) === size) return local; // current
  if (!same) {
    await rm(part, { force: true });
    await rm(local, { force: true });
    await writeFile(note, JSON.stringify({ remote, host, size, mtime } satisfies Source));
  }
  await fetchChunks(conn, { remote, host, size, mtime }, part, o);
  const r = await conn.exec(`sha256sum -- ${remoteShellPath(remote)}`);
  const want = /^([0-9a-f]{64})\b/.exec(r.stdout.trim())?.[1];
  const got = await sha256File(part);
  if (want && want !== got) {
    await rm(part, { force: true });
    throw new CheckpointError(
      'data-failed',
      `the copy of ${remote} does not match the file on ${host} (sha256 differs)`,
      'the file changed while it was copied: try again',
    );
  }
  await rename(part, local);
  await writeFile(note, JSON.stringify({ remote, host, size, mtime, sha256: got } satisfies Source));
  return local;
}
