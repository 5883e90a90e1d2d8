/**
 * One table across benchmarks and runs. A run is an eval output folder (what an eval writes under
 * `{save_path}/{model_name}/`: `result_{model}_{dataset}.jsonl` files, each with its
 * `manifest_{model}_{dataset}.json`), or one results file. Its samples are grouped by benchmark:
 * the benchmark its manifest names (`benchmark`: a name, or `{ name }`) when it names one, else the
 * sample's own (`codedance.benchmark`), else its `data_source`; a sample without a data_source (or
 * with the seed's fallback `default`) goes under its dataset file's name. Each results file is
 * read as the report reads it (resultsScan.ts: each sample once, from its last line).
 *
 * Per benchmark and run: accuracy with its 95 % Wilson interval, n, errors, timeouts, tool calls
 * per sample, and the settings that decide comparability (tableCompare.ts). Every run after the
 * first is compared with the first, per benchmark, on the samples both have (matched by index):
 * the difference in accuracy, McNemar's test (tableStats.ts), and the samples that flipped.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CodeDanceError } from '../errors';
import { describeSkippedLines, scanResults } from './resultsScan';
import { manifestSettings, mergeSettings, settingFlags } from './tableCompare';
import { mcnemarTest, wilsonInterval } from './tableStats';
import type {
  BenchmarkComparison,
  CellSettings,
  ResultsTable,
  RunComparison,
  SampleFlip,
  SampleKind,
  SettingFlag,
  TableCell,
  TableRunInfo,
} from './tableTypes';

/** the last row's name: every sample of every benchmark */
export const POOLED_ROW = 'all (pooled)';

/** What the table keeps of one result line. */
interface Sample {
  index: number;
  kind: SampleKind;
  timeout: boolean;
  skipped: boolean;
  tools: number;
  /** the results file and its dataset's name */
  file: string;
  dataset: string;
}

/** One benchmark of one run: its samples and the settings of the files they come from. */
interface Group {
  samples: Sample[];
  files: Set<string>;
  settings: CellSettings[];
}

export interface LoadedTableRun {
  info: TableRunInfo;
  groups: Map<string, Group>;
}

const RUN_FOLDER =
  'a run is what an eval writes: a folder `<save path>/<model name>/` holding result_<model>_<dataset>.jsonl files, each with its manifest_<model>_<dataset>.json (or one such results file)';

/** The results files of a run given as a folder or a file; a clear error when it is neither. */
export function runResultsFiles(p: string): string[] {
  const abs = path.resolve(p);
  if (!existsSync(abs)) throw new CodeDanceError('input', `run folder ${abs} does not exist`, { fix: RUN_FOLDER });
  if (statSync(abs).isFile()) {
    if (!abs.endsWith('.jsonl')) throw new CodeDanceError('input', `${abs} is not a results file (.jsonl)`, { fix: RUN_FOLDER });
    return [abs];
  }
  const files = resultFilesIn(abs);
  if (files.length) return files;
  const inside = readdirSync(abs, { withFileTypes: true })
    .filter((d) => d.isDirectory() && resultFilesIn(path.join(abs, d.name)).length)
    .map((d) => path.join(abs, d.name));
  const hint = inside.length ? ` (it looks like a save path: its run folders are ${inside.join(', ')})` : '';
  throw new CodeDanceError('input', `${abs} has no results file (result_*.jsonl)${hint}`, { fix: RUN_FOLDER });
}

function resultFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^result_.*\.jsonl$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** The manifest beside a results file (undefined when there is none); a damaged one is noted and counts as none. */
function manifestBeside(file: string, notes: string[]): Record<string, unknown> | undefined {
  const m = path.join(path.dirname(file), path.basename(file, '.jsonl').replace(/^result_/, 'manifest_') + '.json');
  if (!existsSync(m)) return undefined;
  try {
    const v = JSON.parse(readFileSync(m, 'utf8')) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    notes.push(`${m} is not a manifest (not a JSON object): its settings count as unknown`);
  } catch (e) {
    notes.push(`${m} is not valid JSON (${(e as Error).message}): its settings count as unknown`);
  }
  return undefined;
}

/** The benchmark the manifest names (`benchmark: "vstar"` or `{ name: "vstar" }`), if any. */
function manifestBenchmark(m: Record<string, unknown> | undefined): string | undefined {
  const b = m?.benchmark as unknown;
  if (typeof b === 'string' && b) return b;
  const name = (b as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && name ? name : undefined;
}

/** What the table keeps of a line, its benchmark (without the manifest's) and the format its trajectory names. */
function pick(r: Record<string, unknown>, index: number) {
  const c = (r.codedance ?? {}) as Record<string, unknown>;
  const kind: SampleKind = r.status === 'error' ? 'error' : r.acc === 1 ? 'correct' : 'wrong';
  const source = typeof c.benchmark === 'string' && c.benchmark ? c.benchmark : c.data_source;
  const protocol = (c.trajectory as { protocol?: unknown } | undefined)?.protocol;
  return {
    index,
    kind,
    timeout: c.outcome === 'timeout',
    skipped: c.skipped === true,
    tools: typeof r.tool_call_count === 'number' ? r.tool_call_count : 0,
    source: typeof source === 'string' && source && source !== 'default' ? source : undefined,
    protocol: typeof protocol === 'string' ? protocol : undefined,
  };
}

/** The dataset's name: the manifest's, else the file's name less `result_<model>_`. */
function datasetName(file: string, m: Record<string, unknown> | undefined): string {
  const stem = (m?.dataset as { stem?: unknown } | undefined)?.stem;
  if (typeof stem === 'string' && stem) return stem;
  const base = path.basename(file, '.jsonl').replace(/^result_/, '');
  const model = m?.model_name;
  return typeof model === 'string' && base.startsWith(`${model}_`) ? base.slice(model.length + 1) : base;
}

/** Reads one run (a folder or a results file): its samples by benchmark. */
export async function loadTableRun(p: string, label: string): Promise<LoadedTableRun> {
  const files = runResultsFiles(p);
  const notes: string[] = [];
  const groups = new Map<string, Group>();
  for (const file of files) {
    const manifest = manifestBeside(file, notes);
    const scan = await scanResults(file, pick);
    const skippedLines = describeSkippedLines(scan.skipped);
    if (skippedLines) notes.push(`${file}: ${skippedLines}`);
    const dataset = datasetName(file, manifest);
    const named = manifestBenchmark(manifest);
    const byBenchmark = new Map<string, { samples: Sample[]; protocols: Set<string> }>();
    for (const s of scan.byIndex.values()) {
      const benchmark = named ?? s.source ?? dataset;
      const g = byBenchmark.get(benchmark) ?? { samples: [], protocols: new Set<string>() };
      byBenchmark.set(benchmark, g);
      g.samples.push({ index: s.index, kind: s.kind, timeout: s.timeout, skipped: s.skipped, tools: s.tools, file, dataset });
      if (s.protocol) g.protocols.add(s.protocol);
    }
    for (const [benchmark, g] of byBenchmark) {
      const group = groups.get(benchmark) ?? { samples: [], files: new Set<string>(), settings: [] };
      groups.set(benchmark, group);
      group.samples.push(...g.samples);
      group.files.add(file);
      group.settings.push(manifestSettings(manifest, g.protocols));
    }
  }
  return { info: { label, path: p, files, notes }, groups };
}

/** Loads every run (labels: each folder's name, made unique) and builds the table. */
export async function loadResultsTable(paths: readonly string[]): Promise<ResultsTable> {
  const labels = runLabels(paths);
  const runs = await Promise.all(paths.map((p, i) => loadTableRun(p, labels[i])));
  return buildResultsTable(runs);
}

/** Each run's name: its folder's (a results file: the folder it is in), with `#2`, `#3` on repeats. */
export function runLabels(paths: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return paths.map((p) => {
    const abs = path.resolve(p);
    const base = abs.endsWith('.jsonl') ? path.basename(path.dirname(abs)) : path.basename(abs);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n > 1 ? `${base}#${n}` : base;
  });
}

/** The table of loaded runs (the first is the baseline of every comparison). */
export function buildResultsTable(runs: readonly LoadedTableRun[]): ResultsTable {
  const names = [...new Set(runs.flatMap((r) => [...r.groups.keys()]))].sort();
  const pooled = names.length > 1 ? POOLED_ROW : undefined;
  const labels = runs.map((r) => r.info.label);
  // one benchmark of a run from several results files: samples are told apart (and matched) by dataset and index
  const byDataset = new Set(names.filter((b) => runs.some((r) => (r.groups.get(b)?.files.size ?? 0) > 1)));
  const keyed = (b: string, s: Sample) => (byDataset.has(b) ? `${s.dataset}:${s.index}` : String(s.index));
  const rows = names.map((b) => ({
    name: b,
    groups: runs.map((r) => r.groups.get(b)),
    key: (s: Sample) => keyed(b, s),
  }));
  if (pooled)
    rows.push({
      name: pooled,
      groups: runs.map((r) => poolGroups([...r.groups.values()], [...r.groups.keys()])),
      key: (s: Sample) => `${(s as PooledSample).benchmark}\u0000${keyed((s as PooledSample).benchmark, s)}`,
    });
  const cells: TableCell[] = [];
  const flags: SettingFlag[] = [];
  for (const row of rows) {
    row.groups.forEach((g, run) => g && cells.push(cellOf(row.name, run, g)));
    if (row.name !== pooled) {
      const present = new Map(row.groups.flatMap((g, run) => (g ? [[run, mergeSettings(g.settings)] as const] : [])));
      flags.push(...settingFlags(row.name, present, labels));
    }
  }
  const comparisons: RunComparison[] = runs.slice(1).map((_, i) => ({
    a: 0,
    b: i + 1,
    rows: rows.flatMap((row) => {
      const [ga, gb] = [row.groups[0], row.groups[i + 1]];
      return ga && gb ? [compareGroups(row.name, ga, gb, row.key, row.name !== pooled)] : [];
    }),
  }));
  return { runs: runs.map((r) => r.info), benchmarks: rows.map((r) => r.name), ...(pooled ? { pooled } : {}), cells, comparisons, flags };
}

type PooledSample = Sample & { benchmark: string };

function poolGroups(groups: Group[], names: string[]): Group | undefined {
  if (!groups.length) return undefined;
  return {
    samples: groups.flatMap((g, i) => g.samples.map((s): PooledSample => ({ ...s, benchmark: names[i] }))),
    files: new Set(groups.flatMap((g) => [...g.files])),
    settings: groups.flatMap((g) => g.settings),
  };
}

function cellOf(benchmark: string, run: number, g: Group): TableCell {
  const counted = g.samples.filter((s) => !s.skipped);
  const n = counted.length;
  const correct = counted.filter((s) => s.kind === 'correct').length;
  const ci = wilsonInterval(correct, n);
  return {
    run,
    benchmark,
    n,
    correct,
    accuracy: n ? correct / n : 0,
    ...(ci ? { ci } : {}),
    errors: counted.filter((s) => s.kind === 'error').length,
    timeouts: counted.filter((s) => s.timeout).length,
    skipped: g.samples.length - n,
    meanToolCalls: n ? counted.reduce((t, s) => t + s.tools, 0) / n : 0,
    settings: mergeSettings(g.settings),
    files: [...g.files],
  };
}

/** Run B against run A on the samples both counted: accuracies, McNemar's test, the flips (when `listFlips`). */
function compareGroups(benchmark: string, ga: Group, gb: Group, key: (s: Sample) => string, listFlips: boolean): BenchmarkComparison {
  const counted = (g: Group) => new Map(g.samples.filter((s) => !s.skipped).map((s) => [key(s), s]));
  const [ma, mb] = [counted(ga), counted(gb)];
  let paired = 0;
  let rightA = 0;
  let rightB = 0;
  const flips: SampleFlip[] = [];
  for (const [k, sa] of ma) {
    const sb = mb.get(k);
    if (!sb) continue;
    paired++;
    const [ca, cb] = [sa.kind === 'correct', sb.kind === 'correct'];
    rightA += ca ? 1 : 0;
    rightB += cb ? 1 : 0;
    if (ca !== cb) flips.push(flip(k, sa, sb));
  }
  const lost = flips.filter((f) => f.direction === 'correct-to-wrong').length;
  flips.sort((x, y) =>
    x.direction === y.direction ? x.index - y.index || x.key.localeCompare(y.key) : x.direction === 'correct-to-wrong' ? -1 : 1,
  );
  return {
    benchmark,
    paired,
    onlyA: ma.size - paired,
    onlyB: mb.size - paired,
    accA: paired ? rightA / paired : 0,
    accB: paired ? rightB / paired : 0,
    diff: paired ? (rightB - rightA) / paired : 0,
    test: mcnemarTest(lost, flips.length - lost),
    flips: listFlips ? flips : [],
  };
}

function flip(key: string, a: Sample, b: Sample): SampleFlip {
  return {
    key,
    index: a.index,
    direction: a.kind === 'correct' ? 'correct-to-wrong' : 'wrong-to-correct',
    from: a.kind,
    to: b.kind,
    fileA: a.file,
    fileB: b.file,
  };
}
