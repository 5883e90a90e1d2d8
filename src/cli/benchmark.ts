/**
 * `codedance data benchmark`: the benchmark catalog, and a set fetched from the Hub (or read
 * from an offline copy) and converted to the seed's eval rows; `codedance eval --benchmark a,b`
 * goes through the same `prepareBenchmarks`. Progress (size, speed) on stderr; Ctrl+C keeps
 * what was downloaded (run it again to resume).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CATALOG, findBenchmark, isPinned, loadUserBenchmarks, type BenchmarkEntry } from '../core/benchmarks';
import { hubSettings, prepareBenchmark, progressText, type HubProgress, type HubSettings, type PreparedBenchmark } from '../core/hub';
import { CliError, EXIT } from './errors';
import { onInterrupt } from './interrupt';

export const BENCHMARK_USAGE = `codedance data benchmark --list [--json]
codedance data benchmark NAME [--from DIR] [--out FILE.parquet] [options]
  --list                   the catalog: name, Hub repository, pinned revision (null: not pinned yet), rows, scoring
  NAME                     fetch the set at its pinned revision into the Hugging Face cache (resumable,
                           checked against the Hub's sha256) and convert it once to the seed's eval rows
  --from DIR               convert an offline copy instead (the repository's files at the same paths)
  --out FILE.parquet       also write the converted rows there
  --benchmarks FILE        your own entries (a JSON list: the catalog's fields plus a columns mapping)
  --hub-url URL            the Hub or a mirror (default $HF_ENDPOINT, else https://huggingface.co)
  --offline                read only the cache (as HF_HUB_OFFLINE=1)
  --json                   print the result (or the list) as JSON
  --quiet                  no progress line
Token: $HF_TOKEN (or the token file huggingface-cli login writes); cache: $HF_HUB_CACHE / $HF_HOME.`;

export const BENCHMARK_OPTIONS = {
  list: { type: 'boolean', default: false },
  from: { type: 'string' },
  out: { type: 'string' },
  benchmarks: { type: 'string' },
  'hub-url': { type: 'string' },
  offline: { type: 'boolean' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} as const;

/** The catalog with the user's entries (`--benchmarks FILE`). */
export function benchmarkEntries(file?: string): BenchmarkEntry[] {
  if (!file) return [...CATALOG];
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`--benchmarks ${file} cannot be read as JSON (${(e as Error).message})`, EXIT.usage);
  }
  return [...CATALOG, ...loadUserBenchmarks(json)];
}

/** The progress line on stderr: redrawn in place on a terminal (every 200 ms at most), a line every 5 s otherwise. */
export function downloadPrinter(quiet: boolean): { progress: (p: HubProgress) => void; phase: (s: string) => void; end: () => void } {
  const tty = !!process.stderr.isTTY;
  let last = 0;
  let drawn = false;
  return {
    progress: (p) => {
      const now = Date.now();
      if (quiet || (now - last < (tty ? 200 : 5000) && p.bytes < p.total)) return;
      last = now;
      const line = `  ${p.file}: ${progressText(p)}`;
      process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
      drawn = tty;
    },
    phase: (s) => {
      if (quiet) return;
      process.stderr.write(`${drawn ? '\n' : ''}${s}\n`);
      drawn = false;
    },
    end: () => {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

/** Each named set, fetched (or reused) and converted; in order. */
export async function prepareBenchmarks(
  names: string[],
  o: { settings: HubSettings; entries: BenchmarkEntry[]; signal: AbortSignal; quiet: boolean; from?: string; out?: string },
): Promise<PreparedBenchmark[]> {
  const entries = names.map((n) =>
    findBenchmark(
      n,
      o.entries.filter((e) => !CATALOG.includes(e)),
    ),
  );
  const out: PreparedBenchmark[] = [];
  const printer = downloadPrinter(o.quiet);
  try {
    for (const entry of entries)
      out.push(
        await prepareBenchmark(entry, {
          settings: o.settings,
          signal: o.signal,
          offlineDir: o.from,
          out: o.out,
          onProgress: printer.progress,
          onPhase: printer.phase,
          log: (l) => printer.phase(`  ${l}`),
        }),
      );
  } finally {
    printer.end();
  }
  return out;
}

function printList(entries: BenchmarkEntry[], json: boolean): void {
  // revision: the 40-hex commit; null for an entry not pinned yet (it cannot be fetched until it is)
  const rows = entries.map((e) => ({
    name: e.name,
    repo: e.repo,
    revision: isPinned(e) ? e.revision : null,
    rows: e.rows,
    scoring: e.scoring,
  }));
  if (json) {
    console.log(JSON.stringify(rows, null, 1));
    return;
  }
  const table = [
    ['NAME', 'ROWS', 'SCORING', 'REPOSITORY', 'REVISION', 'ACCESS'],
    ...entries.map((e) => [
      e.name,
      String(e.rows),
      e.scoring,
      e.repo,
      isPinned(e) ? e.revision.slice(0, 12) : 'not pinned',
      e.gated ? 'gated' : 'open',
    ]),
  ];
  const w = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
  for (const r of table)
    console.log(
      r
        .map((c, i) => c.padEnd(w[i]))
        .join('  ')
        .trimEnd(),
    );
}

export async function runBenchmark(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: BENCHMARK_OPTIONS });
  const entries = benchmarkEntries(v.benchmarks);
  if (v.list) {
    printList(entries, v.json);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new CliError(`give one benchmark NAME (or --list)\n\n${BENCHMARK_USAGE}`, EXIT.usage);
  if (v.out && !/\.parquet$/i.test(v.out)) throw new CliError(`--out must name a .parquet file, got '${v.out}'`, EXIT.usage);
  const settings = hubSettings({ endpoint: v['hub-url'], offline: v.offline });
  const interrupt = onInterrupt('cancelling: what was downloaded is kept (run it again to resume)');
  try {
    const [r] = await prepareBenchmarks(positionals, {
      settings,
      entries,
      signal: interrupt.signal,
      quiet: v.quiet || v.json,
      from: v.from,
      out: v.out,
    });
    if (v.json) console.log(JSON.stringify(r, null, 1));
    else
      console.log(
        `${r.name}: ${r.rows} rows in ${r.parquet} (${r.reused ? 'converted earlier' : 'converted now'} from ${r.source}${r.downloaded ? `; ${r.downloaded} bytes downloaded` : ''})`,
      );
    return EXIT.ok;
  } finally {
    interrupt.dispose();
  }
}

/** `codedance eval --benchmark a,b`: each set's converted parquet (fetched and converted first when needed). */
export async function benchmarkDataPaths(list: string, quiet: boolean, signal: AbortSignal): Promise<string[]> {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length)
    throw new CliError('--benchmark: give one or more names, e.g. vstar,hrbench4k (codedance data benchmark --list)', EXIT.usage);
  const done = await prepareBenchmarks(names, { settings: hubSettings(), entries: benchmarkEntries(), signal, quiet });
  return done.map((d) => d.parquet);
}
