/**
 * `convertBenchmark(entry, files)`: a set's downloaded files (or an offline copy laid out as the
 * Hub repository) as the seed's eval rows, streamed one at a time (HR-Bench 8K is a 2.8 GB file).
 * The row count is checked against the entry before the first row and again after the last: a
 * different count is an error, never a warning, so a half-downloaded or wrong revision is caught.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DEFAULT_ABILITY } from '../training-data/export';
import { BUILT_IN_CONVERTERS, type Converter } from './converters';
import { countSourceRows, localFile, repoRelative, sourceRows, text, where } from './sourceRows';
import { BenchmarkError, type BenchmarkEntry, type BenchmarkFiles, type SeedEvalRow } from './types';
import { mappingConverter } from './userEntries';

function converterFor(entry: BenchmarkEntry): Converter {
  if (entry.columns) return mappingConverter(entry.columns);
  const c = BUILT_IN_CONVERTERS[entry.name];
  if (!c)
    throw new BenchmarkError(
      `${entry.name} has no converter: it is not a built-in benchmark and has no column mapping`,
      'give the entry a columns mapping {question, answer, image}',
    );
  return c;
}

function rowCountError(entry: BenchmarkEntry, got: number, detail: string): BenchmarkError {
  return new BenchmarkError(
    `${entry.name} (${entry.repo}@${entry.revision.slice(0, 12)}) has ${got} rows (${detail}), expected ${entry.rows}`,
    'the download is incomplete or not the pinned revision: delete the downloaded copy and fetch it again (for an entry of your own, correct its rows)',
  );
}

/** The local files of an offline copy laid out as the Hub repository under `dir`. */
export function offlineFiles(dir: string): BenchmarkFiles {
  const root = path.resolve(dir);
  return {
    path(repoPath: string): string {
      const rel = repoRelative(repoPath);
      if (!rel) throw new BenchmarkError(`'${repoPath}' is not a path inside the repository`, 'name a file of the repository');
      return path.join(root, ...rel.split('/'));
    },
  };
}

/**
 * The files an entry's `references` names (V*'s images, listed in test_questions.jsonl), read
 * from the already downloaded file: fetch `entry.files`, then these. Sorted, each once.
 */
export async function referencedFiles(entry: BenchmarkEntry, files: BenchmarkFiles): Promise<string[]> {
  if (!entry.references) return [];
  const { file: from, field } = entry.references;
  const local = await localFile(entry, files, from);
  const out = new Set<string>();
  let lineNo = 0;
  for await (const line of createInterface({ input: createReadStream(local), crlfDelay: Infinity })) {
    lineNo++;
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = (JSON.parse(line) as Record<string, unknown>)[field];
    } catch (e) {
      throw new BenchmarkError(`${where(entry, from)} line ${lineNo} is not JSON (${(e as Error).message})`, 'download the set again');
    }
    const rel = repoRelative(text(v) ?? '');
    if (!rel)
      throw new BenchmarkError(
        `${where(entry, from)} line ${lineNo}: '${field}' is not a path inside the repository`,
        'download the set again',
      );
    out.add(rel);
  }
  return [...out].sort();
}

/** The seed's eval rows of the set (see the module comment). */
export async function* convertBenchmark(entry: BenchmarkEntry, files: BenchmarkFiles): AsyncGenerator<SeedEvalRow> {
  const converter = converterFor(entry);
  const { total, per } = await countSourceRows(entry, files);
  if (total !== entry.rows) throw rowCountError(entry, total, per.join(', '));
  let index = 0;
  for await (const r of sourceRows(entry, files, converter.columns)) {
    const c = await converter.row(r, { entry, files, index });
    yield {
      data_source: entry.dataSource,
      prompt: [{ role: 'user', content: `<image>${c.question}` }],
      images: [{ bytes: c.image.bytes, path: c.image.path }],
      ability: DEFAULT_ABILITY,
      reward_model: { ground_truth: c.answer, style: 'rule' },
      extra_info: { question: c.question, answer: c.answer, index: BigInt(index), split: entry.split, benchmark: entry.name, id: c.id },
    };
    index++;
  }
  if (index !== entry.rows) throw rowCountError(entry, index, 'rows read');
}
