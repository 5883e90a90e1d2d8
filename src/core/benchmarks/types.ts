/**
 * The benchmark catalog's data: an entry names a Hugging Face dataset repository pinned to a
 * commit, the files to fetch from it, the expected row count, the scoring route (the
 * `data_source` written into each row, which the seed's `compute_score` routes) and where each
 * choice comes from. Entries are plain JSON (a user's own entries are the same object plus a
 * column mapping, see userEntries.ts); the conversion of the built-in sets lives in converters.ts.
 */
import { CodeDanceError } from '../errors';

export interface BenchmarkEntry {
  /** the catalog name: 'vstar', 'hrbench4k', … (lower case, digits, '_') */
  name: string;
  title: string;
  /** the Hub dataset repository, e.g. 'craigwu/vstar_bench' */
  repo: string;
  /** the 40-hex commit it is pinned to; an unpinned built-in holds a sentence saying how to pin it (isPinned is false) */
  revision: string;
  /** repo paths to download (exact paths in that revision) */
  files: string[];
  /**
   * Files named inside a downloaded file, to download after `files`: V*'s `test_questions.jsonl`
   * names its 191 images in its `image` field. `referencedFiles(entry, files)` lists them.
   */
  references?: { file: string; field: string };
  /** the licence line from the dataset card (or 'unverified: …') */
  license: string;
  /** expected row count; a different count is an error */
  rows: number;
  /** the seed's route, via dataSource */
  scoring: 'judge' | 'math';
  /** the data_source written into each row ('thinklite_eureka' and 'xince' get the math check, all else the judge) */
  dataSource: string;
  /** the split the rows come from (written as extra_info.split) */
  split: string;
  /** how to get access, when gated */
  gated?: string;
  /** where each choice comes from (repo:file:line@rev), and what is unverified */
  sources: string[];
  /** a user entry's column mapping (built-in entries have their own converters) */
  columns?: ColumnMapping;
}

/**
 * How a user entry's rows become eval rows. Each value names a column (parquet) or a key
 * (JSON Lines) of the source rows.
 */
export interface ColumnMapping {
  question: string;
  answer: string;
  /** an image: a Hub image struct {bytes, path}, raw bytes, base64 text, or a path inside the repository */
  image: string;
  /** answer options: one column holding a list, or one column per option ('A', 'B', …); lettered A., B., … */
  options?: string | string[];
  /** the question text: `{question}`, `{options}` (the lettered lines) and any `{column}`; default `{question}` then the options */
  prompt?: string;
  /** the row's own id (kept as extra_info.id) */
  id?: string;
}

/** Where the downloaded files lie: the local path of a repository path. */
export interface BenchmarkFiles {
  path(repoPath: string): string;
}

/** One eval row as the seed's rows hold it (the parquet `writeBenchmarkParquet` writes). */
export interface SeedEvalRow {
  data_source: string;
  /** the user turn as the CodeDance-RL rows have it: `<image>` then the question */
  prompt: { role: 'user'; content: string }[];
  images: { bytes: Uint8Array; path: string | null }[];
  ability: string;
  reward_model: { ground_truth: string; style: string };
  extra_info: {
    question: string;
    answer: string;
    /** zero-based position in the converted set */
    index: bigint;
    split: string;
    /** the catalog name */
    benchmark: string;
    /** the set's own id of the row (pid, question_id, index, …), as text */
    id: string;
  };
}

/**
 * Thrown when a benchmark cannot be converted or looked up: a row count that differs from the
 * expected one, a file or column missing, an unknown name, an invalid user entry, an entry not
 * pinned to a commit. The message names the set, the file and what to do.
 */
export class BenchmarkError extends CodeDanceError {
  override name = 'BenchmarkError';
  constructor(reason: string, fix: string) {
    super('dataset', reason, { fix });
  }
}
