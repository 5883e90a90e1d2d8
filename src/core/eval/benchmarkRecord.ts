/**
 * The catalog benchmark a run evaluates, as its dataset file says it: a parquet converted from the
 * catalog (`writeBenchmarkParquet`: `codedance eval --benchmark`, "Run CodeDance Eval" → "A
 * benchmark from the Hugging Face Hub…", `codedance data benchmark`) names its set in its
 * key-value metadata, `codedance.benchmark` = `{name, repo, revision, version}` (plus
 * `offline_copy: true` when it was converted from a folder, whose revision cannot be checked).
 * The run manifest records it as `benchmark`, so the results table gives each set its own row
 * (MathVista, MathVerse and MATH-Vision all write data_source `thinklite_eureka`) and flags two
 * runs of one set at different revisions (tableCompare.ts). Read from the file rather than passed
 * along by the caller, so the record is what the evaluated bytes say (the manifest's sha256 is
 * of the same file), whichever way the run was started.
 */
import { parquetMetadataAsync } from 'hyparquet';
import { fileAsyncBuffer } from '../data/parquet';

/** `RunManifest.benchmark`: the catalog set (or a user entry) and the Hub commit its rows were converted from. */
export interface BenchmarkRecord {
  name: string;
  /** the Hub dataset repository, `owner/name` */
  repo: string;
  /** the commit the files were fetched at (40 hex digits) */
  revision: string;
  /** converted from a local copy laid out as the repository (`--from DIR`): the revision is the entry's, not checked */
  offline_copy?: true;
}

export const BENCHMARK_METADATA_KEY = 'codedance.benchmark';

/** The record in a `codedance.benchmark` metadata value, or why it is not one. */
export function parseBenchmarkMetadata(value: string): BenchmarkRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch (e) {
    return `its ${BENCHMARK_METADATA_KEY} metadata is not JSON (${(e as Error).message})`;
  }
  const o = (v ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === 'string' && o[k] ? (o[k] as string) : undefined);
  const [name, repo, revision] = [str('name'), str('repo'), str('revision')];
  if (!name || !repo || !revision) return `its ${BENCHMARK_METADATA_KEY} metadata lacks a name, repo or revision`;
  return { name, repo, revision, ...(o.offline_copy === true ? { offline_copy: true as const } : {}) };
}

/**
 * `{ benchmark }` for a dataset converted from the catalog, else `{}` (a JSONL file, a parquet
 * written by anything else). Metadata that names a benchmark badly is said through `log` and
 * recorded as none: the run goes on, its rows are the same.
 */
export async function benchmarkOfDataset(
  file: string,
  format: string,
  log: (line: string) => void,
): Promise<{ benchmark?: BenchmarkRecord }> {
  if (format !== 'parquet') return {};
  const meta = await parquetMetadataAsync((await fileAsyncBuffer(file)) as never);
  const kv = meta.key_value_metadata?.find((e) => e.key === BENCHMARK_METADATA_KEY);
  if (kv?.value === undefined) return {};
  const r = parseBenchmarkMetadata(kv.value);
  if (typeof r === 'string') {
    log(`warning: ${file}: ${r}; the run manifest names no benchmark`);
    return {};
  }
  return { benchmark: r };
}
