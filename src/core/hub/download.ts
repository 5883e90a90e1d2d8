/**
 * Files of a Hub repository at a revision, into the standard Hugging Face cache (cacheLayout.ts),
 * so that what CodeDance downloads, Python's huggingface_hub finds, and the other way round.
 * A pinned commit whose files are in the cache costs no request. Before downloading, the free
 * space is checked against what is still missing; each file is resumed from what an earlier try
 * left and checked against the Hub's hash (blob.ts). With HF_HUB_OFFLINE only the cache is read,
 * and a missing file is an error that names it and says how to get it.
 */
import { promises as fs, realpathSync } from 'node:fs';
import path from 'node:path';
import { mountPointOf } from '../files/diskFull';
import { downloadBlob, hashFile, withBlobLock } from './blob';
import {
  blobPath,
  COMMIT,
  exists,
  linkPointer,
  pointerPath,
  readRef,
  repoFolder,
  snapshotFiles,
  writeRef,
  type RepoRef,
} from './cacheLayout';
import { diskSpaceError, HubError } from './errors';
import { describeFiles, fileUrl, listRepoFiles, resolveCommit, type HubContext, type RemoteFile } from './hubCalls';
import { SpeedMeter, type OnHubProgress } from './progress';
import type { HubSettings } from './settings';

export interface FetchOptions {
  settings: HubSettings;
  signal?: AbortSignal;
  onProgress?: OnHubProgress;
  /** hash the files already in the cache too; a damaged one is deleted and fetched again (offline: an error) */
  verifyCached?: boolean;
  /** how to get a missing file when offline, for the error (a command, in the caller's words) */
  offlineHint?: string;
  log?: (line: string) => void;
}

export interface FetchedFile {
  /** its path in the repository */
  path: string;
  /** the file in the cache (the snapshot's link to its blob) */
  file: string;
  size: number;
}

export interface Fetched {
  repo: RepoRef;
  commit: string;
  /** the snapshot folder: the repository's files at `commit`, laid out as in the repository */
  snapshot: string;
  files: FetchedFile[];
  /** bytes downloaded by this call (0: all were in the cache) */
  downloaded: number;
}

/** `paths` (or every file, 'all') of `repo` at `revision` (a commit, branch or tag), from the cache or the Hub. */
export async function fetchFiles(repo: RepoRef, revision: string, paths: string[] | 'all', o: FetchOptions): Promise<Fetched> {
  const folder = repoFolder(o.settings.cacheDir, repo);
  if (o.settings.offline) return fromCache(repo, revision, paths, o);
  const ctx: HubContext = { settings: o.settings, repo, signal: o.signal };
  const commit = COMMIT.test(revision) ? revision : await resolveCommit(ctx, revision);
  const snapshot = path.join(folder, 'snapshots', commit);
  if (paths !== 'all' && !o.verifyCached) {
    const cached = await cachedFiles(folder, commit, paths);
    if (cached) return { repo, commit, snapshot, files: cached, downloaded: 0 };
  }
  const remote = paths === 'all' ? await listRepoFiles(ctx, commit) : await describeFiles(ctx, commit, paths);
  const downloaded = await fetchRemote(ctx, folder, commit, remote, o);
  await writeRef(folder, revision, commit);
  return {
    repo,
    commit,
    snapshot,
    files: remote.map((f) => ({ path: f.path, file: pointerPath(folder, commit, f.path), size: f.size })),
    downloaded,
  };
}

/** The files when every one is in the snapshot already, else undefined. */
async function cachedFiles(folder: string, commit: string, paths: string[]): Promise<FetchedFile[] | undefined> {
  const out: FetchedFile[] = [];
  for (const p of paths) {
    const file = pointerPath(folder, commit, p);
    const st = await fs.stat(file).catch(() => undefined); // not there: fetch
    if (!st) return undefined;
    out.push({ path: p, file, size: st.size });
  }
  return out;
}

interface Plan {
  file: RemoteFile;
  blob: string;
  pointer: string;
  /** already in the cache (its blob) */
  have: boolean;
  /** bytes of `<blob>.incomplete` (a resume) */
  partial: number;
}

async function plan(ctx: HubContext, folder: string, commit: string, f: RemoteFile, o: FetchOptions): Promise<Plan> {
  const blob = blobPath(folder, f.etag);
  const pointer = pointerPath(folder, commit, f.path);
  let have = await exists(blob);
  if (have && o.verifyCached && (await hashFile(blob, f, o.signal)) !== f.etag) {
    o.log?.(`${f.path}: the cached blob ${blob} does not match the Hub's ${f.hash}; deleting it and downloading again`);
    await fs.rm(blob, { force: true });
    have = false;
  }
  const partial = have
    ? 0
    : await fs.stat(`${blob}.incomplete`).then(
        (s) => Math.min(s.size, f.size),
        () => 0,
      ); // no partial file
  return { file: f, blob, pointer, have, partial };
}

/** Free space for what is still missing, or an error naming the bytes needed and free. */
async function checkSpace(folder: string, plans: Plan[], repo: RepoRef): Promise<void> {
  const missing = plans.filter((p) => !p.have);
  const needed = missing.reduce((n, p) => n + p.file.size - p.partial, 0);
  if (!needed) return;
  const dir = path.join(folder, 'blobs');
  const s = await fs.statfs(dir);
  const free = Number(s.bavail) * Number(s.bsize);
  if (free < needed) {
    const what =
      missing.length === 1 ? `${missing[0].file.path} of ${repo.type}s/${repo.id}` : `${missing.length} files of ${repo.type}s/${repo.id}`;
    throw diskSpaceError({ what, needed, free, dir: folder, mount: mountPointOf(realpathSync(dir)) });
  }
}

/** Downloads of this process in flight, by blob: a second request for the same blob waits for the first. */
const inFlight = new Map<string, Promise<boolean>>();

/** `run` for `blob` unless this process is at it already (then its outcome, false: not downloaded by this call). */
async function once(blob: string, run: () => Promise<boolean>): Promise<boolean> {
  const running = inFlight.get(blob);
  if (running) return running.then(() => false);
  const p = run().finally(() => inFlight.delete(blob));
  inFlight.set(blob, p);
  return p;
}

/** Downloads what is missing (sizes checked first), links every file into the snapshot; returns the bytes downloaded. */
async function fetchRemote(ctx: HubContext, folder: string, commit: string, remote: RemoteFile[], o: FetchOptions): Promise<number> {
  await fs.mkdir(path.join(folder, 'blobs'), { recursive: true });
  const plans: Plan[] = [];
  for (const f of remote) plans.push(await plan(ctx, folder, commit, f, o));
  await checkSpace(folder, plans, ctx.repo);
  const total = remote.reduce((n, f) => n + f.size, 0);
  const meter = new SpeedMeter();
  let before = plans.filter((p) => p.have).reduce((n, p) => n + p.file.size, 0);
  let filesDone = plans.filter((p) => p.have).length;
  let downloaded = 0;
  const report = (file: string, bytes: number) =>
    o.onProgress?.({ file, bytes, total, bytesPerSec: meter.sample(bytes), filesDone, files: plans.length });
  for (const p of plans) {
    if (!p.have) {
      const start = p.partial;
      const got = await once(p.blob, () =>
        withBlobLock(
          p.blob,
          ctx.signal,
          (pid) => o.log?.(`${p.file.path}: waiting for process ${pid}, which is downloading it`),
          async () => {
            if (await exists(p.blob)) return false; // the other process finished it
            await downloadBlob({
              ctx,
              file: p.file,
              blob: p.blob,
              url: () => fileUrl(ctx, commit, p.file),
              onBytes: (n) => report(p.file.path, before + n),
            });
            return true;
          },
        ),
      );
      if (got) downloaded += p.file.size - start;
      before += p.file.size;
      filesDone++;
    }
    await linkPointer(p.blob, p.pointer);
  }
  report(plans.at(-1)?.file.path ?? '', total);
  return downloaded;
}

/** HF_HUB_OFFLINE: the files from the cache only (a branch through refs/), each checked when asked; a missing one is an error. */
async function fromCache(repo: RepoRef, revision: string, paths: string[] | 'all', o: FetchOptions): Promise<Fetched> {
  const folder = repoFolder(o.settings.cacheDir, repo);
  const hint = o.offlineHint ?? 'unset HF_HUB_OFFLINE and fetch it once with the network on';
  const commit = COMMIT.test(revision) ? revision : await readRef(folder, revision);
  const miss = (what: string) =>
    new HubError('offline-miss', `HF_HUB_OFFLINE is set and ${what} is not in the Hugging Face cache (${folder})`, { fix: hint });
  if (!commit) throw miss(`revision '${revision}' of ${repo.type}s/${repo.id} (no refs/${revision})`);
  const snapshot = path.join(folder, 'snapshots', commit);
  const list = paths === 'all' ? await snapshotFiles(folder, commit).catch(() => []) : paths; // no snapshot: nothing cached
  if (!list.length) throw miss(`${repo.type}s/${repo.id} at ${commit}`);
  const files: FetchedFile[] = [];
  for (const p of list) {
    const file = pointerPath(folder, commit, p);
    const st = await fs.stat(file).catch(() => undefined); // missing: reported below
    if (!st) throw miss(`${p} of ${repo.type}s/${repo.id} at ${commit} (${file})`);
    if (o.verifyCached) await verifyOffline(file, p, st.size, o.signal);
    files.push({ path: p, file, size: st.size });
  }
  return { repo, commit, snapshot, files, downloaded: 0 };
}

/** A cached file against the hash its blob is named by. */
async function verifyOffline(file: string, repoPath: string, size: number, signal?: AbortSignal): Promise<void> {
  const blob = realpathSync(file);
  const etag = path.basename(blob);
  const hash = etag.length === 64 ? 'sha256' : 'git-sha1';
  if (!/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(etag)) return; // a copied file (no symlinks): nothing to check it against
  if ((await hashFile(blob, { path: repoPath, size, etag, hash }, signal)) !== etag)
    throw new HubError('integrity', `the cached ${repoPath} (${blob}) does not match its ${hash}: it is damaged`, {
      fix: 'delete it, unset HF_HUB_OFFLINE and fetch it again',
    });
}
