/**
 * `runEval(options)`: a dataset through the agent loop (`runAgentToEnd`, the same loop as the
 * chat panel and `codedance ask`), `numWorkers` samples at a time, each with its own kernel
 * session from the pool (given back after the sample and reset in place: a new namespace and
 * working folder in the same warm process, as the seed's worker processes exec each sample in a
 * fresh namespace; `freshKernels` starts a new process per sample instead), the
 * model endpoints balanced by requests in flight, a per-sample time limit and retries with
 * back-off. Every finished sample is appended to the results file at once; a rerun skips the
 * samples already there. At the end the seed's stats file and our run manifest are written.
 */
import { mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentEvent } from '../agent/events';
import type { ChatModel } from '../agent/model';
import { runAgentToEnd } from '../agent/runAgent';
import { openDataset, type Dataset, type DatasetSample } from '../data/dataset';
import { KernelPool } from '../kernel/pool';
import type { JupyterKernelSession } from '../kernel/session';
import type { KernelSession } from '../kernel/types';
import { getProtocol, templateHash } from '../protocol';
import type { ChatMessage } from '../protocol/types';
import type { Trajectory } from '../trajectory/types';
import type { Judge } from './judge';
import { JUDGE_PROMPT_HASH } from './judgePrompts';
import { buildRecord, skippedRecord, type ResultRecord } from './record';
import { dropErrored, finishedIndexes, readResults, ResultsWriter } from './resultsFile';
import { computeScore } from './score';
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
  kernels?: KernelSource;
  /** absent = no judge (normalized match) */
  judge?: Judge;
  /** on resume, run again the samples that ended in an error (model endpoint down, timeout…) */
  retryErrors?: boolean;
  strictVerdict?: boolean;
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
  inFlight: number;
  /** samples per second over this run */
  rate: number;
  etaSeconds: number | undefined;
  elapsedSeconds: number;
}

export interface EvalPaths {
  dir: string;
  results: string;
  stats: string;
  /** per-dataset copy of the stats (the seed's stats name is shared by every dataset of a model) */
  datasetStats: string;
  manifest: string;
  judgeCache: string;
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

export interface RunManifest {
  kind: 'codedance-eval-manifest';
  version: 1;
  model_name: string;
  eval_model_name: string;
  endpoints: string[];
  protocol: string;
  protocol_template_hash: string;
  sampling: Record<string, unknown>;
  max_turns: number;
  cell_timeout_ms: number;
  sample_timeout_ms: number;
  num_workers: number;
  limit?: number;
  data_source: string;
  judge: { mode: 'llm-judge' | 'no-judge'; model?: string; endpoints?: string[]; prompt_hash: string; strict_verdict: boolean };
  dataset: { file: string; stem: string; format: string; rows: number; sha256: string };
  extension_version: string;
  node: string;
  started_at: string;
  runs: { started_at: string; finished_at?: string; ran: number; cancelled?: boolean }[];
}

export function safeName(s: string): string {
  return s.replace(/[\\/:*?"<>|\s]+/g, '_');
}

export function evalPaths(saveDir: string, modelName: string, datasetStem: string): EvalPaths {
  const m = safeName(modelName);
  const dir = path.resolve(saveDir, m);
  return {
    dir,
    results: path.join(dir, `result_${m}_${datasetStem}.jsonl`),
    stats: path.join(dir, `stats_${m}.json`),
    datasetStats: path.join(dir, `stats_${m}_${datasetStem}.json`),
    manifest: path.join(dir, `manifest_${m}_${datasetStem}.json`),
    judgeCache: path.join(dir, 'judge_cache.jsonl'),
  };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Recomputes the stats from a results file (streamed; used at the end of a run and by the report). */
export async function statsFromResults(file: string, meta: { modelName: string; dataSource: string; dataset: string; judged: boolean }): Promise<Stats> {
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
    sample_timeout_ms: sampleTimeoutMs,
    num_workers: workers,
    limit: o.limit,
    data_source: o.dataSource ?? 'default',
    judge: o.judge
      ? { mode: 'llm-judge', model: o.judge.model, endpoints: o.judge.endpoints, prompt_hash: o.judge.promptHash, strict_verdict: !!o.strictVerdict }
      : { mode: 'no-judge', prompt_hash: JUDGE_PROMPT_HASH, strict_verdict: !!o.strictVerdict },
    dataset: { file: dataset.file, stem: dataset.stem, format: dataset.format, rows: dataset.rowCount, sha256: sha },
    extension_version: o.extensionVersion ?? '0.1.0',
    node: process.version,
    started_at: now,
    runs: [],
  };
  if (existsSync(paths.manifest)) {
    const prev = JSON.parse(readFileSync(paths.manifest, 'utf8')) as RunManifest;
    const clash: string[] = [];
    if (prev.dataset?.sha256 !== sha) clash.push('the dataset file changed (sha256)');
    if (prev.protocol_template_hash !== manifest.protocol_template_hash) clash.push('the protocol prompts changed');
    if (prev.eval_model_name !== manifest.eval_model_name) clash.push(`the model changed (${prev.eval_model_name} -> ${manifest.eval_model_name})`);
    if (prev.judge?.mode !== manifest.judge.mode) clash.push(`the scoring changed (${prev.judge?.mode} -> ${manifest.judge.mode})`);
    if (clash.length)
      throw new Error(`${paths.results} belongs to a different run: ${clash.join('; ')}. Resume with the same settings, or use another --save-path or --model-name.`);
    manifest = { ...manifest, started_at: prev.started_at, runs: prev.runs ?? [] };
  }
  const thisRun: RunManifest['runs'][number] = { started_at: now, ran: 0 };
  manifest.runs.push(thisRun);
  writeFileSync(paths.manifest, JSON.stringify(manifest, null, 2));

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
  let ranNow = 0;
  let inFlight = 0;
  const tRun = Date.now();
  const progress = (): EvalProgress => {
    const elapsed = (Date.now() - tRun) / 1000;
    const rate = elapsed > 0 ? ranNow / elapsed : 0;
    const left = total - resumed - ranNow;
    return { total, done: resumed + ranNow, resumed, correct: live.correctCount, scored: live.count, errors: live.errorCount, inFlight, rate, etaSeconds: rate > 0 ? left / rate : undefined, elapsedSeconds: elapsed };
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

  async function runOne(sample: DatasetSample): Promise<ResultRecord | undefined> {
    if (sample.imageError) return skippedRecord(sample, sample.imageError);
    const start = performance.now();
    let attempts = 0;
    let traj: Trajectory | undefined;
    let timedOut = false;
    let observations = new Map<number, ChatMessage[]>();
    let kernelWaitMs = 0;
    for (;;) {
      attempts++;
      timedOut = false;
      observations = new Map();
      let kernel: KernelSession;
      const tk = performance.now();
      try {
        kernel = await kernels.acquire();
        kernelWaitMs += performance.now() - tk;
      } catch (e) {
        if (o.signal?.aborted) return undefined;
        if (attempts <= retries) {
          log(`sample ${sample.index}: kernel start failed (${(e as Error).message}); retrying`);
          await sleep((o.retryBaseDelayMs ?? 1000) * 2 ** (attempts - 1), o.signal);
          continue;
        }
        traj = failedTrajectory(sample, o, protocol.id, e as Error);
        break;
      }
      const ctrl = new AbortController();
      const onAbort = () => ctrl.abort();
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        timedOut = true;
        ctrl.abort();
      }, sampleTimeoutMs);
      try {
        traj = await runAgentToEnd(
          sample.question,
          sample.images,
          {
            model: o.model,
            modelName: o.evalModelName,
            protocol,
            kernel,
            maxTurns,
            sampling,
            timeoutMs: cellTimeoutMs,
            signal: ctrl.signal,
            endpoints: o.endpoints,
            protocolTemplateHash: manifest.protocol_template_hash,
          },
          (e: AgentEvent) => {
            if (e.type === 'observation') observations.set(e.turn, e.messages);
          },
        );
      } catch (e) {
        traj = failedTrajectory(sample, o, protocol.id, e as Error);
      } finally {
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        const d = (kernels.release ? kernels.release(kernel) : kernel.dispose()).catch(() => undefined);
        disposals.add(d);
        void d.finally(() => disposals.delete(d));
      }
      if (o.signal?.aborted) return undefined; // cancelled: not recorded, a resume runs it again
      if (traj.status === 'error' && !timedOut && attempts <= retries) {
        log(`sample ${sample.index}: ${traj.error?.name}: ${traj.error?.message}; retrying`);
        await sleep((o.retryBaseDelayMs ?? 1000) * 2 ** (attempts - 1), o.signal);
        if (o.signal?.aborted) return undefined;
        continue;
      }
      break;
    }
    const last = traj.turns.length ? traj.turns[traj.turns.length - 1].content : '';
    const score = await computeScore(sample.dataSource, last, sample.answer, sample.question, { judge: o.judge, strictVerdict: o.strictVerdict, signal: o.signal });
    if (o.signal?.aborted) return undefined;
    return buildRecord(sample, traj, observations, score, { attempts, timedOut, latencyMs: performance.now() - start, kernelWaitMs });
  }

  async function worker(): Promise<void> {
    for (;;) {
      if (o.signal?.aborted) return;
      const sample = await next();
      if (!sample) return;
      inFlight++;
      let rec: ResultRecord | undefined;
      try {
        rec = await runOne(sample);
      } catch (e) {
        log(`sample ${sample.index}: unexpected ${(e as Error).stack ?? e}`);
        rec = buildRecord(sample, failedTrajectory(sample, o, protocol.id, e as Error), new Map(), undefined, { attempts: 1, timedOut: false, latencyMs: 0 });
      } finally {
        inFlight--;
      }
      if (!rec) return;
      writer.append(rec);
      ranNow++;
      live.add(rec);
      o.onSample?.(rec);
      o.onProgress?.(progress());
    }
  }

  let cancelled = false;
  try {
    await Promise.all(Array.from({ length: Math.min(workers, Math.max(1, total - resumed)) }, () => worker()));
  } finally {
    cancelled = !!o.signal?.aborted;
    writer.close();
    await source.return(undefined);
    await Promise.all([...disposals]);
    if (ownPool) await kernels.dispose();
  }

  const stats = await statsFromResults(paths.results, { modelName: o.modelName, dataSource: o.dataSource ?? 'default', dataset: dataset.stem, judged: !!o.judge });
  const statsOut = { ...stats, codedance: { ...stats.codedance, manifest } };
  thisRun.finished_at = new Date().toISOString();
  thisRun.ran = ranNow;
  if (cancelled) thisRun.cancelled = true;
  writeFileSync(paths.manifest, JSON.stringify(manifest, null, 2));
  writeFileSync(paths.stats, JSON.stringify(statsOut, null, 2));
  writeFileSync(paths.datasetStats, JSON.stringify(statsOut, null, 2));
  return { paths, stats, manifest, total, ranNow, resumed, cancelled, durationMs: Date.now() - t0 };
}

function failedTrajectory(sample: DatasetSample, o: EvalOptions, protocol: string, e: Error): Trajectory {
  return {
    version: 1,
    id: `failed-${sample.index}`,
    createdAt: new Date().toISOString(),
    question: sample.question,
    inputImages: [],
    model: o.evalModelName,
    endpoints: o.endpoints,
    protocol,
    sampling: {},
    maxTurns: 0,
    messages: [],
    turns: [],
    status: 'error',
    error: { name: e.name, message: e.message },
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    durationMs: 0,
  };
}
