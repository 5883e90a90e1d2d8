/**
 * `runEval(options)`: a dataset through the agent loop (`runAgentToEnd`, the same loop as the
 * chat panel and `codedance ask`), `numWorkers` samples at a time, each with its own kernel
 * session from the pool (given back after the sample and reset in place: a new namespace and
 * working folder in the same warm process, as the seed's worker processes exec each sample in a
 * fresh namespace; `freshKernels` starts a new process per sample instead), the
 * model endpoints balanced by requests in flight, a per-sample time limit and retries with
 * back-off. Every finished sample is appended to the results file at once; a rerun skips the
 * samples already there. A row that cannot be used (unreadable, no answer, an image that does
 * not load) is recorded as skipped and the run goes on. A worker that fails stops the others,
 * and the pool is disposed only after every running sample has given its kernel back. At the
 * end the seed's stats file and our run manifest (manifest.ts, written atomically) are written.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import type { ChatModel } from '../agent/model';
import { openDataset, type Dataset, type DatasetSample } from '../data/dataset';
import { KernelPool } from '../kernel/pool';
import type { JupyterKernelSession } from '../kernel/session';
import type { KernelSession, KernelTuning } from '../kernel/types';
import { getProtocol, templateHash } from '../protocol';
import type { Judge } from './judge';
import { JUDGE_PROMPT_HASH } from './judgePrompts';
import { evalPaths, readManifest, resumeManifest, writeJsonAtomic, type EvalPaths, type RunManifest } from './manifest';
import { openMathChecker, type MathChecker } from './mathCheck';
import { buildRecord, failedTrajectory, type ResultRecord } from './record';
import { recordImagesDir, storeRecordImages } from './recordTrajectory';
import { dropErrored, finishedIndexes, readResults, ResultsWriter } from './resultsFile';
import { runSample, type SampleRun } from './runSample';
import { StatsAccumulator, type Stats } from './stats';

export interface KernelSource {
  acquire(): Promise<KernelSession>;
  /** gives a finished sample's session back (KernelPool.release); absent = the session is disposed */
  release?(session: KernelSession): Promise<void>;
  dispose(): Promise<void>;
}

export interface EvalOptions {
  dataPath: string;
  /** results go under `{saveDir}/{modelName}/` like the seed */
  saveDir: string;
  /** names the output files (the seed's --model_name) */
  modelName: string;
  /** the model sent with each request (the seed's --eval_model_name); resolved by the caller */
  evalModelName: string;
  /** the chat model (a ModelClient over the endpoints) */
  model: ChatModel;
  endpoints: string[];
  numWorkers: number;
  /** fallback data_source (the row's own value wins) */
  dataSource?: string;
  limit?: number;
  protocol?: string;
  maxTurns?: number;
  sampling?: { temperature?: number; top_p?: number; max_tokens?: number };
  /** per-cell timeout, ms (30000 like the seed) */
  cellTimeoutMs?: number;
  /** AgentOptions.maxObservationTokens: absent = 4096 estimated tokens, 0 = no limit */
  maxObservationTokens?: number;
  /** per-sample time limit, ms (default 600000) */
  sampleTimeoutMs?: number;
  /** whole-sample retries after an error (model endpoint down, kernel failed to start); default 1 */
  retries?: number;
  retryBaseDelayMs?: number;
  /** kernel sessions: a KernelPool over `python` unless given */
  python?: string;
  /** kernels started ahead (default: numWorkers, at most one per CPU: a kernel start is CPU-bound) */
  kernelPoolSize?: number;
  /** a new kernel process per sample instead of resetting a warm one (slower: a kernel start is ~1 s of CPU) */
  freshKernels?: boolean;
  /** where the pool's kernels run and their memory limit (see core/kernel/sandbox.ts) */
  kernelSandbox?: Pick<KernelTuning, 'sandbox' | 'network' | 'memoryLimitMb' | 'passEnv'>;
  kernels?: KernelSource;
  /** absent = no judge (normalized match) */
  judge?: Judge;
  /** on resume, run again the samples that ended in an error (model endpoint down, timeout…) */
  retryErrors?: boolean;
  strictVerdict?: boolean;
  /** the math rows' symbolic check; default: the seed's math_verify in `python` when it imports there, else approximate */
  math?: MathChecker;
  signal?: AbortSignal;
  extensionVersion?: string;
  /** fsync each line (default true) */
  fsync?: boolean;
  onProgress?: (p: EvalProgress) => void;
  onSample?: (r: ResultRecord) => void;
  log?: (line: string) => void;
}

export interface EvalProgress {
  total: number;
  done: number;
  /** finished in earlier runs (resume) */
  resumed: number;
  correct: number;
  scored: number;
  errors: number;
  /** rows recorded as skipped (unreadable row, no answer, image does not load) */
  skipped: number;
  inFlight: number;
  /** samples per second over this run */
  rate: number;
  etaSeconds: number | undefined;
  elapsedSeconds: number;
}

export interface EvalSummary {
  paths: EvalPaths;
  stats: Stats;
  manifest: RunManifest;
  total: number;
  ranNow: number;
  resumed: number;
  cancelled: boolean;
  durationMs: number;
}

/** Recomputes the stats from a results file (streamed; used at the end of a run and by the report). */
export async function statsFromResults(file: string, meta: { modelName: string; dataSource: string; dataset: string; judged: boolean; mathCheck?: string }): Promise<Stats> {
  const acc = new StatsAccumulator();
  for await (const r of readResults<ResultRecord>(file)) acc.add(r);
  return acc.finish(meta);
}

export async function runEval(o: EvalOptions): Promise<EvalSummary> {
  const t0 = Date.now();
  const log = o.log ?? (() => undefined);
  const dataset: Dataset = await openDataset(o.dataPath);
  const paths = evalPaths(o.saveDir, o.modelName, dataset.stem);
  mkdirSync(paths.dir, { recursive: true });
  const protocol = getProtocol(o.protocol ?? 'codedance');
  const sampling = { ...protocol.defaultSampling, ...Object.fromEntries(Object.entries(o.sampling ?? {}).filter(([, v]) => v !== undefined)) };
  const maxTurns = o.maxTurns ?? protocol.defaultMaxTurns;
  const cellTimeoutMs = o.cellTimeoutMs ?? 30_000;
  const sampleTimeoutMs = o.sampleTimeoutMs ?? 600_000;
  const retries = Math.max(0, o.retries ?? 1);
  const workers = Math.max(1, Math.floor(o.numWorkers));
  const total = Math.min(dataset.rowCount, o.limit ?? Infinity);
  const sha = await dataset.sha256();
  const now = new Date().toISOString();

  // manifest: a resumed run must be the same experiment
  let manifest: RunManifest = {
    kind: 'codedance-eval-manifest',
    version: 1,
    model_name: o.modelName,
    eval_model_name: o.evalModelName,
    endpoints: o.endpoints,
    protocol: protocol.id,
    protocol_template_hash: templateHash(protocol),
    sampling,
    max_turns: maxTurns,
    cell_timeout_ms: cellTimeoutMs,
    ...(o.maxObservationTokens !== undefined ? { max_observation_tokens: o.maxObservationTokens } : {}),
    sample_timeout_ms: sampleTimeoutMs,
    num_workers: workers,
    limit: o.limit,
    data_source: o.dataSource ?? 'default',
    judge: o.judge
      ? { mode: 'llm-judge', model: o.judge.model, endpoints: o.judge.endpoints, prompt_hash: o.judge.promptHash, strict_verdict: !!o.strictVerdict, cache: o.judge.cacheScope ?? 'sample' }
      : { mode: 'no-judge', prompt_hash: JUDGE_PROMPT_HASH, strict_verdict: !!o.strictVerdict },
    dataset: { file: dataset.file, stem: dataset.stem, format: dataset.format, rows: dataset.rowCount, sha256: sha },
    extension_version: o.extensionVersion ?? '0.1.0',
    node: process.version,
    started_at: now,
    runs: [],
  };
  manifest = resumeManifest(readManifest(paths), manifest, paths);
  const thisRun: RunManifest['runs'][number] = { started_at: now, ran: 0 };
  manifest.runs.push(thisRun);
  writeJsonAtomic(paths.manifest, manifest);

  if (o.retryErrors) {
    const dropped = await dropErrored(paths.results);
    if (dropped) log(`--retry-errors: ${dropped} sample(s) that ended in an error will run again`);
  }
  const done = await finishedIndexes(paths.results);
  const resumed = [...done].filter((i) => i < total).length;
  if (resumed) log(`resuming: ${resumed} of ${total} samples already in ${paths.results}`);
  const writer = new ResultsWriter(paths.results, o.fsync ?? true);

  // progress counts include the samples of earlier runs
  const live = new StatsAccumulator();
  if (resumed) for await (const r of readResults<ResultRecord>(paths.results)) if (typeof r.index === 'number' && r.index < total) live.add(r);
  const skippedBefore = live.skippedCount;
  let ranNow = 0;
  let inFlight = 0;
  const tRun = Date.now();
  const progress = (): EvalProgress => {
    const elapsed = (Date.now() - tRun) / 1000;
    const rate = elapsed > 0 ? ranNow / elapsed : 0;
    const left = total - resumed - ranNow;
    return { total, done: resumed + ranNow, resumed, correct: live.correctCount, scored: live.count, errors: live.errorCount, skipped: live.skippedCount, inFlight, rate, etaSeconds: rate > 0 ? left / rate : undefined, elapsedSeconds: elapsed };
  };
  o.onProgress?.(progress());

  const ownPool = !o.kernels;
  // the pool starts kernels at once: create it only when a sample needs one (a finished run starts none)
  let pool: KernelPool | undefined;
  const kernels: KernelSource = o.kernels ?? {
    acquire: () =>
      (pool ??= new KernelPool({
        python: o.python ?? 'python3',
        size: Math.max(1, Math.min(o.kernelPoolSize ?? Math.min(workers, os.cpus().length), total - resumed)),
        recycle: !o.freshKernels,
        ...o.kernelSandbox,
        maxIdle: workers,
      })).acquire(),
    release: (k) => (pool ? pool.release(k as JupyterKernelSession) : k.dispose()),
    dispose: async () => pool?.dispose(),
  };
  const firstPending = (() => {
    for (let i = 0; i < total; i++) if (!done.has(i)) return i;
    return total;
  })();
  const source = dataset.samples({ start: firstPending, fallbackDataSource: o.dataSource ?? 'default' });
  let exhausted = firstPending >= total;
  const disposals = new Set<Promise<void>>();
  const failedRun = { model: o.evalModelName, endpoints: o.endpoints, protocol: protocol.id };
  const imagesDir = recordImagesDir(paths.results);
  const imagesWritten = new Set<string>();

  async function next(): Promise<DatasetSample | undefined> {
    while (!exhausted) {
      const r = await source.next();
      if (r.done || r.value.index >= total) {
        exhausted = true;
        return undefined;
      }
      if (!done.has(r.value.index)) return r.value;
    }
    return undefined;
  }

  // a worker that fails (a results file that cannot be written…) stops the others; the pool is
  // disposed only once every sample has given its kernel back
  const stop = new AbortController();
  const onCancel = () => stop.abort();
  if (o.signal?.aborted) stop.abort();
  else o.signal?.addEventListener('abort', onCancel, { once: true });
  const runSignal = stop.signal;
  // the seed's math_verify in the evaluating Python: started when the first math row is scored
  let math: Promise<MathChecker> | undefined;
  const mathChecker = () => (math ??= o.math ? Promise.resolve(o.math) : openMathChecker(o.python ?? 'python3', { log }));
  const sampleRun: SampleRun = {
    options: { ...o, signal: runSignal },
    sampleKey: (i) => `${sha}:${i}`,
    math: mathChecker,
    kernels,
    protocol,
    protocolTemplateHash: manifest.protocol_template_hash,
    maxTurns,
    sampling,
    cellTimeoutMs,
    maxObservationTokens: o.maxObservationTokens,
    sampleTimeoutMs,
    retries,
    log,
    track: (d) => {
      disposals.add(d);
      void d.finally(() => disposals.delete(d));
    },
  };

  async function worker(): Promise<void> {
    for (;;) {
      if (runSignal.aborted) return;
      const sample = await next();
      if (!sample) return;
      inFlight++;
      let rec: ResultRecord | undefined;
      try {
        rec = await runSample(sample, sampleRun);
      } catch (e) {
        log(`sample ${sample.index}: unexpected ${(e as Error).stack ?? e}`);
        rec = buildRecord(sample, failedTrajectory(sample, failedRun, e as Error), undefined, { attempts: 1, timedOut: false, latencyMs: 0 });
      } finally {
        inFlight--;
      }
      if (!rec) return;
      // the trajectory's images go to files beside the results before its line is written
      writer.append(await storeRecordImages(rec, imagesDir, { fsync: o.fsync ?? true, written: imagesWritten }));
      ranNow++;
      live.add(rec);
      o.onSample?.(rec);
      o.onProgress?.(progress());
    }
  }

  let cancelled: boolean;
  try {
    const ends = await Promise.allSettled(
      Array.from({ length: Math.min(workers, Math.max(1, total - resumed)) }, () =>
        worker().catch((e: unknown) => {
          stop.abort();
          throw e;
        }),
      ),
    );
    const failed = ends.find((e): e is PromiseRejectedResult => e.status === 'rejected');
    if (failed) throw failed.reason;
  } finally {
    o.signal?.removeEventListener('abort', onCancel);
    cancelled = !!o.signal?.aborted;
    writer.close();
    await source.return(undefined);
    await Promise.all([...disposals]);
    if (ownPool) await kernels.dispose();
    if (math && !o.math) await (await math).dispose();
  }

  if (math) manifest.math_check = (await math).info;
  const stats = await statsFromResults(paths.results, { modelName: o.modelName, dataSource: o.dataSource ?? 'default', dataset: dataset.stem, judged: !!o.judge, mathCheck: manifest.math_check?.note });
  const statsOut = { ...stats, codedance: { ...stats.codedance, manifest } };
  thisRun.finished_at = new Date().toISOString();
  thisRun.ran = ranNow;
  thisRun.skipped = live.skippedCount - skippedBefore;
  if (cancelled) thisRun.cancelled = true;
  writeJsonAtomic(paths.manifest, manifest);
  writeJsonAtomic(paths.stats, statsOut);
  writeJsonAtomic(paths.datasetStats, statsOut);
  return { paths, stats, manifest, total, ranNow, resumed, cancelled, durationMs: Date.now() - t0 };
}
