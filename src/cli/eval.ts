/**
 * `codedance eval`: the seed's eval/eval.py on the CodeDance core. Same flags (the seed's
 * underscore spellings work too), same output files, plus resume, a live progress line and a
 * run manifest.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DatasetError } from '../core/data/types';
import { isCodeDanceError } from '../core/errors';
import { asDiskFull } from '../core/files/diskFull';
import {
  EvalManifestError,
  HttpJudge,
  judgeEndpointsFrom,
  runEval,
  safeName,
  type EvalProgress,
  type EvalSummary,
  type JudgeCacheScope,
} from '../core/eval';
import { resolvePython, type ResolvedPython } from '../core/kernel';
import { displayUrl, startRemoteKernelSession } from '../core/kernel/remote';
import { createChatModel, parseEndpoints, resolveModelName, type ModelClient } from '../core/model';
import { isProtocolId, protocolIds } from '../core/protocol';
import { JUDGE_STYLES, type JudgeStyle } from '../core/reward/deepeyesJudge';
import { processSecrets } from '../core/secrets';
import { benchmarkDataPaths } from './benchmark';
import { CliError, EXIT, observationTokensFlag } from './errors';
import { onInterrupt } from './interrupt';
import { printSummary } from './printSummary';
import { cellHostOf, SANDBOX_ARGS, SANDBOX_USAGE, sandboxFromFlags } from './sandbox';
import { KERNEL_HOSTS_ARGS, KERNEL_HOSTS_USAGE, openEvalKernelHosts, type EvalKernelHosts } from './kernelHostsEval';

export { mathLine, skippedLine } from './printSummary';

export const EVAL_USAGE = `usage: codedance eval --data-path FILE --api-url URL[,URL] [options]

  --model-name NAME        names the output (result_NAME_<dataset>.jsonl, stats_NAME.json); default 'qwen' like the seed
  --api-url URL[,URL]      model endpoint(s), comma-separated, balanced by requests in flight (default $CODEDANCE_BASE_URL or http://127.0.0.1:8000/v1)
  --eval-model-name NAME   model name sent to the server (default: the first id of GET /models, as the seed)
  --data-path FILE         .parquet or .jsonl dataset
  --benchmark A[,B]        catalog benchmark(s) instead (codedance data benchmark --list): each fetched from the
                           Hub at its pinned revision (or the cache), converted once, then evaluated in turn
  --save-path DIR          results go to DIR/NAME/ (default ./save/)
  --num-workers N          samples at a time (default 8; each has its own Python kernel session)
  --data-source NAME       fallback data_source for rows without one (default 'default')
  --limit N                only the first N rows
  --judge-url URL[,URL]    LLM-as-judge endpoint(s) (default $LLM_AS_A_JUDGE_BASE)
  --judge-model NAME       judge model name (default 'judge', as the seed)
  --no-judge               score by normalized exact match (and the symbolic check for math); says so in the stats
  --strict-verdict         read the judge's verdict strictly (only "0"/"1"); default: the seed's substring test
  --judge-cache SCOPE      sample (default): a verdict is reused only when the same sample is scored again
                           (resume); shared: also across samples with the same question, answer and
                           prediction (fewer judge calls; the seed asks the judge for every sample)
  --judge-style S          seed | deepeyes: the seed's judge (per data_source), or DeepEyes' eval/judge_result.py
                           (its rule check, prompt and verdict reading); default: deepeyes with --protocol
                           deepeyes (its published numbers are judged so), else seed
  --protocol P             ${protocolIds.map((id, i) => (i ? id : `${id} (default)`)).join(' | ')}
  --max-turns N            model calls per sample (default: the protocol's; codedance 7, deepeyes 11, pyvision 30, thyme 26)
  --timeout S              per-cell timeout, seconds (default 30)
  --max-observation-tokens N   the most the model is shown of one turn's cell output, in estimated
                           tokens; longer output is cut in the middle with a marker (default 4096; 0 = no
                           limit, as the seed)
  --sample-timeout S       per-sample time limit, seconds (default 600)
  --retries N              whole-sample retries after an error (default 1)
  --retry-errors           on resume, run again the samples recorded with status 'error'
  --python PATH            kernel interpreter (default $CODEDANCE_PYTHON, else python3 / /usr/bin/python3 with ipykernel)
  --jupyter-url URL        run the code on a Jupyter Server instead, one kernel per sample (token: $JUPYTER_TOKEN)
  --kernel-name NAME       kernelspec on that server (default: the server's default)
${KERNEL_HOSTS_USAGE}
${SANDBOX_USAGE}
  --quiet                  no progress line
Seed spellings work too: --model_name, --api_url, --data_path, --save_path, --num_workers,
--data_source, --eval_model_name. Keys come from the environment: CODEDANCE_API_KEY or
OPENAI_API_KEY for the model (the seed's --api_key works too, but stays in your shell history),
LLM_AS_A_JUDGE_API_KEY for the judge (the seed sends "EMPTY").
A rerun with the same --save-path and --model-name resumes: finished samples are skipped.
A row that cannot be used (not JSON, no answer, an image that does not load) is recorded as
skipped with its reason, left out of the stats like the seed, and the run goes on.
Math rows are checked with the seed's math_verify when --python can import it (else an
approximate check, and the summary says so: pip install math-verify).
To compare runs: codedance eval table RUN… (one table across benchmarks and runs; --help there).

exit codes: 0 done, 2 bad usage or dataset, 3 Python/kernel problem, 4 model endpoint problem,
74 disk full (the finished samples are kept: free space, then rerun to resume), 130 interrupted`;

const SEED_ALIASES: Record<string, string> = {
  '--model_name': '--model-name',
  '--api_url': '--api-url',
  '--api_key': '--api-key',
  '--data_path': '--data-path',
  '--save_path': '--save-path',
  '--num_workers': '--num-workers',
  '--data_source': '--data-source',
  '--eval_model_name': '--eval-model-name',
  '--judge_url': '--judge-url',
};

export function normalizeArgv(argv: string[]): string[] {
  return argv.map((a) => {
    const [k, ...v] = a.split('=');
    const alias = SEED_ALIASES[k];
    return alias ? [alias, ...v].join('=') : a;
  });
}

function int(v: string | undefined, name: string, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new CliError(`--${name} must be an integer >= ${min}, got '${v}'`, EXIT.usage);
  return n;
}

function fmtDuration(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export function progressLine(p: EvalProgress): string {
  const acc = p.scored ? `${((100 * p.correct) / p.scored).toFixed(1)}%` : '--';
  return `eval ${p.done}/${p.total}  acc ${acc} (${p.correct}/${p.scored})  errors ${p.errors}${p.skipped ? `  skipped ${p.skipped}` : ''}  ${p.rate.toFixed(2)} samples/s  ETA ${fmtDuration(p.etaSeconds)}  running ${p.inFlight}`;
}

const EVAL_OPTIONS = {
  'model-name': { type: 'string', default: 'qwen' },
  'api-url': { type: 'string' },
  'api-key': { type: 'string' },
  'eval-model-name': { type: 'string' },
  'data-path': { type: 'string' },
  benchmark: { type: 'string' },
  'save-path': { type: 'string', default: './save/' },
  'num-workers': { type: 'string', default: '8' },
  'data-source': { type: 'string', default: 'default' },
  limit: { type: 'string' },
  'judge-url': { type: 'string' },
  'judge-model': { type: 'string', default: 'judge' },
  'no-judge': { type: 'boolean', default: false },
  // accepted for old scripts: every sample has always a kernel of its own now
  'fresh-kernels': { type: 'boolean', default: false },
  'strict-verdict': { type: 'boolean', default: false },
  'judge-cache': { type: 'string', default: 'sample' },
  'judge-style': { type: 'string' },
  protocol: { type: 'string', default: 'codedance' },
  'max-turns': { type: 'string' },
  timeout: { type: 'string', default: '30' },
  'max-observation-tokens': { type: 'string' },
  'sample-timeout': { type: 'string', default: '600' },
  retries: { type: 'string', default: '1' },
  'retry-errors': { type: 'boolean', default: false },
  python: { type: 'string' },
  'jupyter-url': { type: 'string' },
  'kernel-name': { type: 'string' },
  ...KERNEL_HOSTS_ARGS,
  ...SANDBOX_ARGS,
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseEvalArgs(argv: string[]) {
  try {
    return parseArgs({ args: normalizeArgv(argv), allowPositionals: false, options: EVAL_OPTIONS }).values;
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${EVAL_USAGE}`, EXIT.usage);
  }
}

type EvalFlags = ReturnType<typeof parseEvalArgs>;

/** The numeric and enumerated flags, checked (a bad one is a usage error naming it). */
function evalLimits(v: EvalFlags) {
  const judgeCache = v['judge-cache'] as JudgeCacheScope;
  if (judgeCache !== 'sample' && judgeCache !== 'shared')
    throw new CliError(`--judge-cache must be 'sample' or 'shared', got '${v['judge-cache']}'`, EXIT.usage);
  const judgeStyle = v['judge-style'] as JudgeStyle | undefined;
  if (judgeStyle !== undefined && !JUDGE_STYLES.includes(judgeStyle))
    throw new CliError(`--judge-style must be one of ${JUDGE_STYLES.join(', ')}, got '${judgeStyle}'`, EXIT.usage);
  const numWorkers = int(v['num-workers'], 'num-workers', 1)!;
  const limit = int(v.limit, 'limit', 1);
  const retries = int(v.retries, 'retries', 0)!;
  const maxTurns = int(v['max-turns'], 'max-turns', 1);
  const maxObservationTokens = observationTokensFlag(v['max-observation-tokens']);
  const timeout = Number(v.timeout);
  const sampleTimeout = Number(v['sample-timeout']);
  if (!(timeout > 0) || !(sampleTimeout > 0))
    throw new CliError('--timeout and --sample-timeout must be positive numbers of seconds', EXIT.usage);
  return { judgeCache, judgeStyle, numWorkers, limit, retries, maxTurns, maxObservationTokens, timeout, sampleTimeout };
}

type EvalLimits = ReturnType<typeof evalLimits>;

export async function runEvalCli(argv: string[]): Promise<number> {
  const v = parseEvalArgs(argv);
  if (v.help) {
    console.log(EVAL_USAGE);
    return EXIT.ok;
  }
  if (!v['data-path'] === !v.benchmark) throw new CliError(`give --data-path FILE or --benchmark NAME[,NAME]\n\n${EVAL_USAGE}`, EXIT.usage);
  if (v['api-key'] && !v.quiet)
    process.stderr.write('note: --api-key stays in your shell history; prefer CODEDANCE_API_KEY or OPENAI_API_KEY\n');
  // a key given as a flag is not in the environment: cell outputs must still never show it
  if (v['api-key']) processSecrets.add(...v['api-key'].split(','));
  if (!isProtocolId(v.protocol!))
    throw new CliError(`unknown --protocol '${v.protocol}': use one of ${protocolIds.join(', ')}`, EXIT.usage);
  const limits = evalLimits(v);

  const endpoints = (v['api-url'] ?? process.env.CODEDANCE_BASE_URL ?? 'http://127.0.0.1:8000/v1')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const apiKey = process.env.CODEDANCE_API_KEY ?? process.env.OPENAI_API_KEY;
  // the seed's --api_key: one key for all URLs, or one per URL
  let model;
  try {
    model = createChatModel({ endpoints: v['api-key'] ? parseEndpoints(endpoints, v['api-key']) : endpoints, apiKey });
  } catch (e) {
    throw isCodeDanceError(e) ? e : new CliError((e as Error).message, EXIT.usage); // main.ts words it with this command's flags
  }

  if (!v['no-judge']) {
    const judgeEndpoints = judgeEndpointsFrom(v['judge-url']);
    if (!judgeEndpoints.length)
      throw new CliError(
        'no judge endpoint: pass --judge-url URL or set LLM_AS_A_JUDGE_BASE (the seed scores with an LLM judge); or --no-judge to score by normalized exact match',
        EXIT.usage,
      );
  }

  const interrupt = onInterrupt('interrupting: finishing nothing more; finished samples are saved, rerun the same command to resume', [
    'SIGINT',
    'SIGTERM',
  ]);
  try {
    let evalModelName: string;
    try {
      evalModelName = v['eval-model-name'] ?? (await resolveModelName(model, { signal: interrupt.signal }));
    } catch (e) {
      throw isCodeDanceError(e) ? e : new CliError((e as Error).message, EXIT.model);
    }
    const hosts = await kernelHostsOf(v, interrupt.signal);
    try {
      return await evalEach(v, limits, { model, endpoints, evalModelName, signal: interrupt.signal, hosts });
    } finally {
      await hosts?.close(); // a kernel-hosts job the eval started is stopped here
    }
  } finally {
    interrupt.dispose();
  }
}

/** --kernel-hosts: every host reached (a job started if needed) before the first sample. */
async function kernelHostsOf(v: EvalFlags, signal: AbortSignal): Promise<EvalKernelHosts | undefined> {
  if (!v['kernel-hosts']) return undefined;
  if (v['jupyter-url']) throw new CliError('--kernel-hosts and --jupyter-url: give one of them', EXIT.usage);
  const log = (line: string) => {
    if (!v.quiet) process.stderr.write(`${line}\n`);
  };
  return openEvalKernelHosts(v, { sandbox: sandboxFromFlags(v, true), signal, log, quiet: !!v.quiet });
}

/** The dataset (--data-path), or each --benchmark fetched and converted first, evaluated in turn; the exit code. */
async function evalEach(
  v: EvalFlags,
  l: EvalLimits,
  m: { model: ModelClient; endpoints: string[]; evalModelName: string; signal: AbortSignal; hosts?: EvalKernelHosts },
): Promise<number> {
  const dataPaths = v.benchmark ? await benchmarkDataPaths(v.benchmark, !!v.quiet, m.signal) : [v['data-path']!];
  for (const dataPath of dataPaths) {
    const summary = await runEvalWith({ ...v, 'data-path': dataPath }, l, m);
    printSummary(v, summary);
    if (summary.cancelled) return EXIT.cancelled;
  }
  return EXIT.ok;
}

/** The progress line on stderr: redrawn in place on a terminal (at most every 100 ms), a line every 2 s otherwise. */
function progressPrinter(quiet: boolean | undefined, tty: boolean): (p: EvalProgress) => void {
  let lastPrint = 0;
  return (p: EvalProgress) => {
    if (quiet) return;
    const now = Date.now();
    const final = p.done >= p.total;
    if (tty) {
      if (now - lastPrint < 100 && !final) return;
      process.stderr.write(`\r\x1b[2K${progressLine(p)}`);
    } else {
      if (now - lastPrint < 2000 && !final && p.done !== 0) return;
      process.stderr.write(progressLine(p) + '\n');
    }
    lastPrint = now;
  };
}

/** The interpreter (none with --jupyter-url): a failure to find one is the environment's (exit 3). */
async function evalPython(v: EvalFlags): Promise<ResolvedPython | undefined> {
  try {
    return v['jupyter-url'] ? undefined : await resolvePython({ explicit: v.python ?? process.env.CODEDANCE_PYTHON });
  } catch (e) {
    throw isCodeDanceError(e) ? e : new CliError((e as Error).message, EXIT.environment);
  }
}

/** Says what runs where, then runs the eval with the flags; a bad dataset or manifest is a usage error, a full disk says what is kept. */
async function runEvalWith(
  v: EvalFlags,
  l: EvalLimits,
  m: { model: ModelClient; endpoints: string[]; evalModelName: string; signal: AbortSignal; hosts?: EvalKernelHosts },
): Promise<EvalSummary> {
  const python = m.hosts ? undefined : await evalPython(v);
  const tty = process.stderr.isTTY;
  const onProgress = progressPrinter(v.quiet, tty);
  if (!v.quiet)
    process.stderr.write(
      `model ${m.evalModelName} at ${m.endpoints.join(', ')}; ${m.hosts ? m.hosts.summary : python ? `python ${python.python}` : `kernels on the Jupyter server at ${displayUrl(v['jupyter-url']!)}`}; ${l.numWorkers} worker(s); judge ${v['no-judge'] ? 'none (--no-judge)' : judgeEndpointsFrom(v['judge-url']).join(', ')}\n`,
    );
  const sandbox = sandboxFromFlags(v, v.quiet! || !!m.hosts, v['jupyter-url']);
  try {
    const summary = await runEval({
      dataPath: v['data-path']!,
      saveDir: v['save-path']!,
      modelName: v['model-name']!,
      evalModelName: m.evalModelName,
      model: m.model,
      endpoints: m.endpoints,
      numWorkers: l.numWorkers,
      dataSource: v['data-source'],
      limit: l.limit,
      protocol: v.protocol,
      maxTurns: l.maxTurns,
      cellTimeoutMs: l.timeout * 1000,
      maxObservationTokens: l.maxObservationTokens,
      sampleTimeoutMs: l.sampleTimeout * 1000,
      retries: l.retries,
      retryErrors: v['retry-errors'],
      python: python?.python,
      // a kernel on the Jupyter server per sample, shut down when the sample ends
      kernels: m.hosts
        ? m.hosts.source
        : v['jupyter-url']
          ? {
              acquire: () =>
                startRemoteKernelSession({ url: v['jupyter-url']!, token: process.env.JUPYTER_TOKEN, kernelName: v['kernel-name'] }),
              dispose: async () => undefined,
              host: cellHostOf(sandbox, v['jupyter-url']),
            }
          : undefined,
      kernelSandbox: sandbox,
      judge: makeJudge(v['no-judge']!, v['judge-url'], v['judge-model']!, v['save-path']!, v['model-name']!, l.judgeCache),
      judgeStyle: l.judgeStyle,
      strictVerdict: v['strict-verdict'],
      signal: m.signal,
      extensionVersion: process.env.CODEDANCE_VERSION ?? '0.1.0',
      onProgress,
      log: (line) => {
        if (!v.quiet) process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`);
      },
    });
    if (tty && !v.quiet) process.stderr.write('\n');
    return summary;
  } catch (e) {
    if (e instanceof DatasetError || e instanceof EvalManifestError) throw new CliError(e.message, EXIT.usage);
    if (asDiskFull(e))
      process.stderr.write(
        `${tty ? '\n' : ''}the samples finished so far are kept whole in ${path.join(path.resolve(v['save-path']!), safeName(v['model-name']!))}; free space, then rerun the same command to resume\n`,
      );
    throw e;
  }
}

function makeJudge(
  noJudge: boolean,
  url: string | undefined,
  model: string,
  saveDir: string,
  modelName: string,
  cacheScope: JudgeCacheScope,
): HttpJudge | undefined {
  if (noJudge) return undefined;
  const dir = path.resolve(saveDir, safeName(modelName));
  mkdirSync(dir, { recursive: true });
  return new HttpJudge({
    endpoints: judgeEndpointsFrom(url),
    model,
    apiKey: process.env.LLM_AS_A_JUDGE_API_KEY,
    cacheFile: path.join(dir, 'judge_cache.jsonl'),
    cacheScope,
  });
}
