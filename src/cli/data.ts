/**
 * `codedance data export|verify`: trajectories out as CodeDance-SFT/RL parquet, and SFT rows
 * replayed in fresh kernels to check that their code still does what they record.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolvePython } from '../core/kernel';
import {
  exportTrainingData,
  ExportError,
  itemsFromPath,
  type EvalSelection,
  type ExportItem,
  type TrainingFormat,
} from '../core/training-data';
import { verifySftFile, type VerifyProgress } from '../core/training-data/verify';
import type { VerifyCounts } from '../core/training-data/verifySummary';
import { BENCHMARK_USAGE, runBenchmark } from './benchmark';
import { FETCH_USAGE, runFetch } from './dataFetch';
import { CliError, EXIT } from './errors';
import { onInterrupt } from './interrupt';
import { SANDBOX_ARGS, SANDBOX_USAGE, sandboxFromFlags } from './sandbox';

export const DATA_USAGE = `usage: codedance data <export|verify|benchmark|fetch> [options]

codedance data export --format sft|rl --out FILE SOURCE...
  SOURCE                   an eval results file (result_*.jsonl, images/ beside it), a saved chat
                           conversation (its folder or conversation.json), or a trajectory .json
  --format sft|rl          CodeDance-SFT rows (messages, images) or CodeDance-RL rows (data_source,
                           prompt, images, ability, reward_model, extra_info)
  --out FILE               the .parquet to write (replaced only when the export succeeds)
  --select all|correct|wrong   eval samples to take (default all)
  --indexes LIST           only these eval sample indexes, e.g. 3,7,10-20
  --ground-truth FILE      RL: a JSON object mapping a trajectory id or its question to the correct answer
  --answer TEXT            RL: the correct answer, when exactly one trajectory lacks one
  --data-source NAME       RL data_source (default: the eval sample's, else 'chat')
  --ability NAME           RL ability (default 'visual_reasoning'; the seed never reads it)
  --split NAME             RL extra_info.split (default 'train')
  --prompt-key KEY         RL prompt column: prompt (verl's default, default) or messages (the card's)
  --include-unanswered     SFT: also runs that ended without an answer
  --quiet                  no per-item notes
RL ground truth is never taken from the model: eval samples carry their dataset's answer; chat
questions need --ground-truth or --answer, else the export stops naming the question.

codedance data verify FILE [options]
  FILE                     an SFT .parquet or .jsonl (messages, images)
  --out FILE               results, one JSON line per row (default FILE's name + .verify.jsonl beside it);
                           a rerun with the same --out resumes
  --concurrency N          rows at a time, each in its own kernel (default 2)
  --timeout S              per-cell timeout, seconds (default 30, as eval.py)
  --limit N                only the first N rows
  --python PATH            kernel interpreter (default $CODEDANCE_PYTHON, else python3 with ipykernel)
${SANDBOX_USAGE}
  --json                   print the summary as JSON
  --quiet                  no progress line

${BENCHMARK_USAGE}

${FETCH_USAGE}

exit codes: 0 done, 2 bad usage or input, 3 Python/kernel problem, 5 cluster problem (data fetch --cluster),
74 disk full, 130 interrupted`;

function int(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new CliError(`--${name} must be an integer >= ${min}, got '${v}'`, EXIT.usage);
  return n;
}

/** "3,7,10-12" → {3,7,10,11,12} */
export function parseIndexes(s: string): Set<number> {
  const out = new Set<number>();
  for (const part of s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new CliError(`--indexes: '${part}' is not an index or a range like 10-20`, EXIT.usage);
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (b < a) throw new CliError(`--indexes: the range '${part}' ends before it starts`, EXIT.usage);
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}

async function groundTruthMap(file: string): Promise<Record<string, string>> {
  let v: unknown;
  try {
    v = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new CliError(`--ground-truth ${file} cannot be read as JSON (${(e as Error).message})`, EXIT.usage);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v) || Object.values(v).some((x) => typeof x !== 'string'))
    throw new CliError(
      `--ground-truth ${file} must be a JSON object of strings: {"<trajectory id or question>": "<answer>", …}`,
      EXIT.usage,
    );
  return v as Record<string, string>;
}

async function runExport(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string' },
      select: { type: 'string', default: 'all' },
      indexes: { type: 'string' },
      'ground-truth': { type: 'string' },
      answer: { type: 'string' },
      'data-source': { type: 'string' },
      ability: { type: 'string' },
      split: { type: 'string' },
      'prompt-key': { type: 'string', default: 'prompt' },
      'include-unanswered': { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  const format = v.format as TrainingFormat;
  if (format !== 'sft' && format !== 'rl')
    throw new CliError(`--format must be 'sft' or 'rl'${v.format ? `, got '${v.format}'` : ''}\n\n${DATA_USAGE}`, EXIT.usage);
  if (!v.out) throw new CliError(`--out FILE.parquet is required\n\n${DATA_USAGE}`, EXIT.usage);
  if (!/\.parquet$/i.test(v.out)) throw new CliError(`--out must name a .parquet file, got '${v.out}'`, EXIT.usage);
  if (!positionals.length)
    throw new CliError(
      `give at least one SOURCE (an eval results .jsonl, a conversation, a trajectory .json)\n\n${DATA_USAGE}`,
      EXIT.usage,
    );
  const select = v.select as EvalSelection;
  if (!['all', 'correct', 'wrong'].includes(select))
    throw new CliError(`--select must be all, correct or wrong, got '${v.select}'`, EXIT.usage);
  const promptKey = v['prompt-key'] as 'prompt' | 'messages';
  if (promptKey !== 'prompt' && promptKey !== 'messages')
    throw new CliError(`--prompt-key must be prompt or messages, got '${v['prompt-key']}'`, EXIT.usage);
  const indexes = v.indexes ? parseIndexes(v.indexes) : undefined;
  const truths = v['ground-truth'] ? await groundTruthMap(v['ground-truth']) : undefined;
  const note = (s: string) => v.quiet || process.stderr.write(`${s}\n`);
  let answerUsedBy: string | undefined;
  const groundTruth = (item: ExportItem): string | undefined => {
    const t = item.trajectory;
    const fromFile = truths?.[t.id] ?? truths?.[t.question];
    if (fromFile !== undefined) return fromFile;
    if (v.answer === undefined) return undefined;
    if (answerUsedBy)
      throw new ExportError(
        `--answer gives one answer, but both ${answerUsedBy} and ${item.origin} need one`,
        'give each its answer with --ground-truth FILE',
      );
    answerUsedBy = item.origin;
    return v.answer;
  };
  async function* items(): AsyncGenerator<ExportItem> {
    for (const p of positionals)
      yield* itemsFromPath(path.resolve(p), { select, indexes, onSkip: (s) => note(`skipped ${s.origin}: ${s.reason}`) });
  }
  const interrupt = onInterrupt('cancelling the export: no file is written');
  try {
    const s = await exportTrainingData({
      format,
      out: path.resolve(v.out),
      items: items(),
      groundTruth,
      dataSource: v['data-source'],
      ability: v.ability,
      split: v.split,
      promptKey,
      includeUnanswered: v['include-unanswered'],
      onSkip: (x) => note(`skipped ${x.origin}: ${x.reason}`),
      signal: interrupt.signal,
    });
    console.log(
      `wrote ${s.rows} ${format.toUpperCase()} row(s) to ${s.file}${s.skipped.length ? ` (${s.skipped.length} skipped)` : ''} in ${(s.ms / 1000).toFixed(2)} s`,
    );
    return EXIT.ok;
  } finally {
    interrupt.dispose();
  }
}

function countsLine(name: string, c: VerifyCounts): string {
  const pct = (x: number | null) => (x === null ? '--' : `${x.toFixed(1)}%`);
  return `${name.padEnd(20)} ${String(c.rows).padStart(6)}  executable ${pct(c.executablePct).padStart(6)}  reproduces ${pct(c.reproducesPct).padStart(6)}  (${c.reproduces} reproduce, ${c.differs} differ, ${c.fails} fail, ${c.no_code} no code, ${c.invalid} invalid)`;
}

async function runVerify(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      concurrency: { type: 'string', default: '2' },
      timeout: { type: 'string', default: '30' },
      limit: { type: 'string' },
      // accepted for old scripts: every row has always a kernel of its own now
      'fresh-kernels': { type: 'boolean', default: false },
      python: { type: 'string' },
      ...SANDBOX_ARGS,
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1) throw new CliError(`give one SFT file (.parquet or .jsonl)\n\n${DATA_USAGE}`, EXIT.usage);
  const file = path.resolve(positionals[0]);
  if (!/\.(parquet|jsonl|ndjson)$/i.test(file)) throw new CliError(`${file}: verify reads a .parquet or .jsonl SFT file`, EXIT.usage);
  await fs.access(file).catch(() => {
    throw new CliError(`SFT file not found: ${file}`, EXIT.usage);
  });
  const out = path.resolve(v.out ?? file.replace(/\.(parquet|jsonl|ndjson)$/i, '') + '.verify.jsonl');
  const concurrency = int(v.concurrency, 'concurrency', 1)!;
  const limit = int(v.limit, 'limit', 1);
  const timeout = Number(v.timeout);
  if (!(timeout > 0)) throw new CliError(`--timeout must be a positive number of seconds, got '${v.timeout}'`, EXIT.usage);
  let python;
  try {
    python = await resolvePython({ explicit: v.python ?? process.env.CODEDANCE_PYTHON });
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.environment);
  }
  const sandbox = sandboxFromFlags(v, v.quiet || v.json);
  const tty = process.stderr.isTTY;
  let last = 0;
  const onProgress = (p: VerifyProgress) => {
    if (v.quiet) return;
    const now = Date.now();
    if (now - last < (tty ? 100 : 2000) && p.done < p.total) return;
    last = now;
    const line = `verify ${p.done}/${p.total}  reproduce ${p.counts.reproduces}  differ ${p.counts.differs}  fail ${p.counts.fails}  invalid ${p.counts.invalid}  ${p.rowsPerSec.toFixed(2)} rows/s  running ${p.inFlight}`;
    process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  const interrupt = onInterrupt('stopping: rows in progress are dropped, finished rows are kept (rerun to resume)');
  try {
    const r = await verifySftFile({
      file,
      out,
      python: python.python,
      concurrency,
      timeoutMs: timeout * 1000,
      limit,
      ...sandbox,
      signal: interrupt.signal,
      onProgress,
    });
    if (tty && !v.quiet) process.stderr.write('\n');
    if (v.json) console.log(JSON.stringify({ out: r.out, ran: r.ran, resumed: r.resumed, cancelled: r.cancelled, ...r.summary }, null, 1));
    else {
      console.log(`results: ${r.out}${r.resumed ? ` (${r.resumed} row(s) from an earlier run)` : ''}`);
      for (const [src, c] of Object.entries(r.summary.bySource)) console.log(countsLine(src, c));
      if (Object.keys(r.summary.bySource).length > 1) console.log(countsLine('all', r.summary.total));
    }
    return r.cancelled ? EXIT.cancelled : EXIT.ok;
  } finally {
    interrupt.dispose();
  }
}

export async function runData(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(DATA_USAGE);
    return EXIT.ok;
  }
  try {
    switch (sub) {
      case 'export':
        return await runExport(rest);
      case 'verify':
        return await runVerify(rest);
      case 'benchmark':
        return await runBenchmark(rest);
      case 'fetch':
        return await runFetch(rest);
      case undefined:
      case '-h':
      case '--help':
        console.log(DATA_USAGE);
        return sub === undefined ? EXIT.usage : EXIT.ok;
      default:
        throw new CliError(`unknown 'data' command '${sub}'\n\n${DATA_USAGE}`, EXIT.usage);
    }
  } catch (e) {
    // parseArgs' own errors (an unknown flag) are usage errors
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      throw new CliError(`${(e as Error).message}\n\n${DATA_USAGE}`, EXIT.usage);
    throw e;
  }
}
