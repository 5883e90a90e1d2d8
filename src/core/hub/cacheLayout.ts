/**
 * The Hugging Face cache layout, as Python's huggingface_hub writes and reads it
 * (file_download.py, `hf_hub_download` and `try_to_load_from_cache`):
 *
 *   <cache>/datasets--org--name/blobs/<etag>              the bytes (etag: the LFS sha256, else the git blob sha1)
 *   <cache>/datasets--org--name/snapshots/<commit>/<path> a relative symlink to ../../blobs/<etag>
 *   <cache>/datasets--org--name/refs/<branch>             the commit a branch or tag pointed to
 *
 * A partial download is `blobs/<etag>.incomplete` (never read as a blob); it is renamed to the
 * blob only after its size and hash were checked.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { getRepoFolderName } from '@huggingface/hub';
import { HubError } from './errors';

export type RepoType = 'dataset' | 'model';

export interface RepoRef {
  /** org/name */
  id: string;
  type: RepoType;
}

export const COMMIT = /^[0-9a-f]{40}$/;

export function repoFolder(cacheDir: string, repo: RepoRef): string {
  return path.join(cacheDir, getRepoFolderName({ name: repo.id, type: repo.type }));
}

/** A repository path as a relative path that stays inside the snapshot (huggingface_hub#4540: no `..`, no absolute path). */
export function safeRepoPath(p: string): string {
  const norm = path.posix.normalize(p);
  if (!p || path.posix.isAbsolute(p) || norm.startsWith('../') || norm === '..' || p.includes('\\') || p.includes('\0'))
    throw new HubError('not-found', `'${p}' is not a file path inside a repository`, {
      fix: 'give a path such as data/test-00000-of-00001.parquet',
    });
  return norm;
}

export function pointerPath(folder: string, commit: string, repoPath: string): string {
  return path.join(folder, 'snapshots', commit, ...safeRepoPath(repoPath).split('/'));
}

export function blobPath(folder: string, etag: string): string {
  if (!/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(etag))
    throw new HubError('server', `the Hub gave '${etag}' as a file hash: not a sha1 or sha256`);
  return path.join(folder, 'blobs', etag);
}

/** Whether a path exists (a symlink counts only when its target does). */
export async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch {
    return false; // absent (or a dangling link): the caller fetches it
  }
}

/** Points `pointer` at `blob` with a relative symlink, replacing whatever was there in one rename. */
export async function linkPointer(blob: string, pointer: string): Promise<void> {
  await fs.mkdir(path.dirname(pointer), { recursive: true });
  const tmp = `${pointer}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.link`;
  try {
    await fs.symlink(path.relative(path.dirname(pointer), blob), tmp);
  } catch (e) {
    // a filesystem without symlinks (huggingface_hub copies the file then, and so do we)
    if ((e as NodeJS.ErrnoException).code !== 'EPERM' && (e as NodeJS.ErrnoException).code !== 'ENOSYS') throw e;
    await fs.copyFile(blob, tmp);
  }
  await fs.rename(tmp, pointer);
}

/** The commit `refs/<revision>` records, if any. */
export async function readRef(folder: string, revision: string): Promise<string | undefined> {
  try {
    const c = (await fs.readFile(path.join(folder, 'refs', revision), 'utf8')).trim();
    return COMMIT.test(c) ? c : undefined;
  } catch {
    return undefined; // never fetched that branch: the caller says so
  }
}

/** Records that `revision` (a branch or tag) pointed to `commit`, as huggingface_hub does (no newline). */
export async function writeRef(folder: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  const file = path.join(folder, 'refs', ...revision.split('/'));
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, commit);
  await fs.rename(tmp, file);
}

/** Every file of a snapshot (repository paths, `/`-separated), read from the cache. */
export async function snapshotFiles(folder: string, commit: string): Promise<string[]> {
  const root = path.join(folder, 'snapshots', commit);
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(dir, e.name), `${prefix}${e.name}/`);
      else out.push(`${prefix}${e.name}`);
    }
  };
  await walk(root, '');
  return out.sort();
}
