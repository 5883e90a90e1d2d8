/**
 * A training dataset fetched from the Hub (CodeDance-RL, CodeDance-SFT), on this machine
 * (download.ts) or on a cluster as a job (clusterFetch.ts), and the RL template's
 * `data.train_files` / `data.val_files` filled from the parquet files that were fetched: a file is
 * a validation file when a path segment names the split (`validation`, `val`, `test`, `dev`,
 * `eval`, as `datasets`' `push_to_hub` writes `data/<split>-00000-of-00001.parquet`), a training
 * file when one says `train`; when none says `train`, every other parquet file trains.
 */
import path from 'node:path';

export interface DataFiles {
  train: string[];
  val: string[];
}

const VAL = /(?:^|[/_.-])(?:validation|valid|val|test|dev|eval)(?=[/_.-]|$)/i;
const TRAIN = /(?:^|[/_.-])train(?=[/_.-]|$)/i;

/** The parquet files among `paths` (repository paths), split into training and validation files, each list sorted. */
export function splitDataFiles(paths: readonly string[]): DataFiles {
  const parquet = paths.filter((p) => p.toLowerCase().endsWith('.parquet')).sort();
  const val = parquet.filter((p) => VAL.test(p) && !TRAIN.test(p));
  const rest = parquet.filter((p) => !val.includes(p));
  const named = rest.filter((p) => TRAIN.test(p));
  return { train: named.length ? named : rest, val };
}

/** Each repository path as a file under `root` (posix: the paths go to a cluster or a job template). */
export function underRoot(root: string, files: readonly string[]): string[] {
  return files.map((f) => path.posix.join(root.replace(/\\/g, '/'), f));
}

/** What `codedance jobs submit` takes for these files, and a note when no validation file was fetched. */
export function templateFlags(f: DataFiles): { flags: string[]; note?: string } {
  const flags = [`--train-files ${f.train.join(',')}`];
  if (f.val.length) flags.push(`--val-files ${f.val.join(',')}`);
  return {
    flags,
    note: f.val.length
      ? undefined
      : "no validation split was fetched: data.val_files keeps the template's (the seed's six validation sets under DATA_ROOT) unless you pass --val-files",
  };
}
