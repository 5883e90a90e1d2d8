/**
 * A catalog benchmark, ready to evaluate: its files at the pinned commit from the Hugging Face
 * cache (downloaded when missing, download.ts), or from an offline copy laid out as the Hub
 * repository; converted once per revision to the seed's eval rows in the assets cache, the place
 * huggingface_hub gives downstream libraries for files derived from Hub files
 * (`$HF_ASSETS_CACHE/codedance/benchmarks/converted/<name>-<revision>.parquet`), and reused after
 * that. A converted file is written under a temporary name and renamed when whole; a row count
 * other than the catalog's is an error and leaves no file.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  assertPinned,
  BenchmarkError,
  convertBenchmark,
  convertedFileName,
  offlineFiles,
  referencedFiles,
  writeBenchmarkParquet,
  type BenchmarkEntry,
  type BenchmarkFiles,
} from '../benchmarks';
import { rethrowDiskFull } from '../files/diskFull';
import { pointerPath, repoFolder, type RepoRef } from './cacheLayout';
import { fetchFiles, type FetchOptions } from './download';

export interface PrepareOptions extends FetchOptions {
  /** a copy of the repository's files (the same paths under this folder): nothing is downloaded */
  offlineDir?: string;
  /** also write the converted rows here */
  out?: string;
  /** what is happening now ("downloading", "converting"), for a status line */
  onPhase?: (text: string) => void;
}

export interface PreparedBenchmark {
  name: string;
  /** the converted parquet (the cached one, or `out`) */
  parquet: string;
  rows: number;
  revision: string;
  /** the converted file was there already */
  reused: boolean;
  /** bytes downloaded by this call */
  downloaded: number;
  /** where the set's own files were read from */
  source: string;
}

function benchmarkRepo(entry: BenchmarkEntry): RepoRef {
  return { id: entry.repo, type: 'dataset' };
}

/** `$HF_ASSETS_CACHE/codedance/benchmarks/converted/<name>-<revision>.parquet` (huggingface_hub's library/namespace/subfolder) */
function convertedPath(entry: BenchmarkEntry, o: Pick<FetchOptions, 'settings'>, file = convertedFileName(entry)): string {
  return path.join(o.settings.assetsDir, 'codedance', 'benchmarks', 'converted', file);
}

/** The entry's files (and the files they name) at its commit, from the cache or the Hub. */
async function hubFiles(entry: BenchmarkEntry, o: PrepareOptions): Promise<{ files: BenchmarkFiles; downloaded: number }> {
  const repo = benchmarkRepo(entry);
  const folder = repoFolder(o.settings.cacheDir, repo);
  const files: BenchmarkFiles = { path: (p) => pointerPath(folder, entry.revision, p) };
  const opts: FetchOptions = {
    ...o,
    verifyCached: true,
    offlineHint:
      o.offlineHint ??
      `unset HF_HUB_OFFLINE and run \`codedance data benchmark ${entry.name}\` once with the network on, or convert an offline copy with --from DIR`,
  };
  o.onPhase?.(`${entry.name}: ${o.settings.offline ? 'reading the cache' : 'downloading'} (${entry.repo}@${entry.revision.slice(0, 7)})`);
  const first = await fetchFiles(repo, entry.revision, entry.files, opts);
  let downloaded = first.downloaded;
  const more = entry.references ? await referencedFiles(entry, files) : [];
  if (more.length) downloaded += (await fetchFiles(repo, entry.revision, more, opts)).downloaded;
  return { files, downloaded };
}

/** Converts into `target` (written under a temporary name and renamed when whole); the rows written. */
async function convertTo(entry: BenchmarkEntry, files: BenchmarkFiles, target: string, offlineCopy = false): Promise<number> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  // convertBenchmark checks the row count before the first row and after the last
  const rows = await writeBenchmarkParquet(convertBenchmark(entry, files), target, { entry, offlineCopy });
  if (rows !== entry.rows) {
    await fs.rm(target, { force: true });
    throw new BenchmarkError(
      `${entry.name} (${entry.repo}@${entry.revision.slice(0, 12)}): converted ${rows} rows where the catalog expects ${entry.rows}`,
      'the files are not the pinned revision’s, or the catalog entry is wrong',
    );
  }
  return rows;
}

/** A copy of `from` at `to`, whole or not at all. */
async function copyWhole(from: string, to: string): Promise<void> {
  const tmp = path.join(path.dirname(to), `.${path.basename(to)}.${process.pid}.tmp`);
  await fs.mkdir(path.dirname(to), { recursive: true });
  try {
    await fs.copyFile(from, tmp);
    await fs.rename(tmp, to);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    rethrowDiskFull(e, to);
  }
}

/** Converts an offline copy (no download; converted again each time: the copy's revision cannot be checked). */
async function prepareFromDir(entry: BenchmarkEntry, dir: string, o: PrepareOptions): Promise<PreparedBenchmark> {
  const root = path.resolve(dir);
  const st = await fs.stat(root).catch(() => undefined); // missing: said below
  if (!st?.isDirectory())
    throw new BenchmarkError(`--from ${dir}: not a folder`, `give a folder laid out as ${entry.repo} (its files at the same paths)`);
  const files = offlineFiles(root);
  const tag = createHash('sha1').update(root).digest('hex').slice(0, 12);
  const target = o.out ? path.resolve(o.out) : convertedPath(entry, o, `${entry.name}-from-dir-${tag}.parquet`);
  o.onPhase?.(`${entry.name}: converting the copy in ${root}`);
  const rows = await convertTo(entry, files, target, true);
  return { name: entry.name, parquet: target, rows, revision: entry.revision, reused: false, downloaded: 0, source: root };
}

/** The benchmark's converted parquet: reused when converted before, else fetched (or read from `offlineDir`) and converted. */
export async function prepareBenchmark(entry: BenchmarkEntry, o: PrepareOptions): Promise<PreparedBenchmark> {
  if (o.offlineDir) return prepareFromDir(entry, o.offlineDir, o);
  assertPinned(entry);
  const cached = convertedPath(entry, o);
  const source = `${entry.repo}@${entry.revision}`;
  const done = await fs.stat(cached).catch(() => undefined); // not converted yet
  if (done) {
    if (o.out) await copyWhole(cached, path.resolve(o.out));
    return {
      name: entry.name,
      parquet: o.out ? path.resolve(o.out) : cached,
      rows: entry.rows,
      revision: entry.revision,
      reused: true,
      downloaded: 0,
      source,
    };
  }
  const { files, downloaded } = await hubFiles(entry, o);
  o.onPhase?.(`${entry.name}: converting ${entry.rows} rows`);
  const rows = await convertTo(entry, files, cached);
  if (o.out) await copyWhole(cached, path.resolve(o.out));
  return {
    name: entry.name,
    parquet: o.out ? path.resolve(o.out) : cached,
    rows,
    revision: entry.revision,
    reused: false,
    downloaded,
    source,
  };
}
