/**
 * Where a run's files are read from: a local or mounted folder, or the cluster over the profile's
 * SSH connection (the one the Slurm backend already holds: no second login). Paths are the
 * cluster's (POSIX); `~/…` is the remote home.
 *
 * Over SSH, each call is one command on the open connection (`ls`, `cat`, `tail -c`, `find`):
 * SshConnection exposes commands, not its ssh2 client, so SFTP is not reachable from here.
 */
import { open, readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
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

/** exit status of the commands below for "not there" */
const MISSING = 3;

export function sshRunFiles(conn: SshConnection): RunFiles {
  const where = conn.target.label;
  async function run(command: string, what: string): Promise<string> {
    const r = await conn.exec(command);
    if (r.code === MISSING)
      throw new RunsError('notFound', `${what} does not exist on ${where}`, 'check the path (or wait until the trainer writes it)');
    if (r.code !== 0)
      throw new RunsError(
        'unreadable',
        `cannot read ${what} on ${where} (exit ${r.code}): ${r.stderr.trim() || 'no message'}`,
        'check its permissions',
      );
    return r.stdout;
  }
  const lines = (out: string) => out.split('\n').filter(Boolean);
  return {
    async list(dir) {
      const d = remoteShellPath(dir);
      return lines(await run(`test -d ${d} || exit ${MISSING}; ls -1A -- ${d}`, `folder ${dir}`));
    },
    read(p) {
      const f = remoteShellPath(p);
      return run(`test -f ${f} || exit ${MISSING}; cat -- ${f}`, `file ${p}`);
    },
    readFrom(p, offset) {
      const f = remoteShellPath(p);
      return run(`test -f ${f} || exit ${MISSING}; tail -c +${Math.max(0, Math.floor(offset)) + 1} -- ${f}`, `file ${p}`);
    },
    async listDeep(dir, depth) {
      const d = remoteShellPath(dir);
      const out = await run(
        `test -d ${d} || exit ${MISSING}; cd -- ${d} && find . -mindepth 1 -maxdepth ${Math.max(1, Math.floor(depth))}`,
        `folder ${dir}`,
      );
      return lines(out).map((l) => l.replace(/^\.\//, ''));
    },
  };
}
