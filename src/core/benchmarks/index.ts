/**
 * The benchmark catalog (issue #24 §1): the public sets CodeDance is measured on, each pinned to
 * a Hub commit, and their conversion to the seed's eval rows.
 *
 *  - `CATALOG`, `findBenchmark(name)`: the built-in entries (docs/benchmarks.md says where every
 *    choice comes from); `isPinned` / `assertPinned`: an entry not pinned to a commit is refused
 *    before fetching, with how to pin it.
 *  - Fetching: download `entry.files` at `entry.revision`; when `entry.references` is set (V*),
 *    then also `await referencedFiles(entry, files)` (paths named inside a downloaded file).
 *  - `convertBenchmark(entry, files)` returns an **AsyncIterable** of `SeedEvalRow` (streamed: a
 *    set can be gigabytes); the row count is checked before the first row and after the last,
 *    and a mismatch throws a `BenchmarkError`. `offlineFiles(dir)` reads a copy laid out as the
 *    Hub repository.
 *  - `writeBenchmarkParquet(rows, file, {entry})` writes them (no file when conversion fails);
 *    `convertedFileName(entry)` names it once per pinned revision.
 *  - `loadUserBenchmarks(json)`: a user's own entries (same fields plus `columns`), valibot-checked.
 */
export { CATALOG, assertPinned, convertedFileName, findBenchmark, isPinned } from './catalog';
export { convertBenchmark, offlineFiles, referencedFiles } from './convert';
export { MATH_DATA_SOURCES, loadUserBenchmarks } from './userEntries';
export { writeBenchmarkParquet } from './write';
export { BenchmarkError, type BenchmarkEntry, type BenchmarkFiles, type SeedEvalRow } from './types';
