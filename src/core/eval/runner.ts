/**
 * `runEval(options)`: a dataset through the agent loop (`runAgentToEnd`, the same loop as the
 * chat panel and `codedance ask`), `numWorkers` samples at a time, each with its own kernel
 * session from the pool (a new kernel process per sample, started ahead while others run, taken
 * at the sample's first cell (kernelSource.ts; none for a sample answered without code), shut
 * down when the sample ends: nothing one sample's code changes reaches the next), the
 * model endpoints balanced by requests in flight, a per-sample time limit and retries with
 * back-off. Every finished sample is appended to the results file at once; a rerun skips the
 * samples already there. A row that cannot be used (unreadable, no answer, an image that does
 * not load) is recorded as skipped and the run goes on. A worker that fails stops the others,
 * and the pool is disposed only after every running sample has given its kernel back. At the
 * end the seed's stats file and our run manifest (manifest.ts, written atomically) are written.
 */
import { mkdirSync } from 'node:fs';
import { openDataset, type Dataset, type DatasetSample } from '../data/dataset';
import { localCellHost } from '../kernel/sandboxNotice';
import { getProtocol, templateHash } from '../protocol';
import { DEEPEYES_JUDGE_PROMPT_HASH, defaultJudgeStyle } from '../reward/deepeyesJudge';
import { JUDGE_PROMPT_HASH } from '../reward/judgePrompts';
import {
  cellsEntry,
  evalPaths,
  imageBudget,
  readManifest,
  resumeManifest,
  writeJsonAtomic,
  type EvalPaths,
  type RunManifest,
} from './manifest';
import { benchmarkOfDataset } from './benchmarkRecord';
import { openMathChecker, type MathChecker } from './mathCheck';
import { buildRecord, failedTrajectory, type ResultRecord } from './record';
import { recordImagesDir, storeRecordImages } from './recordTrajectory';
import { dropErrored, finishedIndexes, ResultsWriter } from './resultsFile';
import { describeSkippedLines, scanResults } from './resultsScan';
import { kernelSource } from './kernelSource';
import { runSample, type SampleRun } from './runSample';
import { StatsAccumulator, statsInput, type Stats } from './stats';
import type { EvalOptions, EvalProgress, KernelSource } from './options';

export type { EvalOptions, EvalProgress, KernelSource } from './options';

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

/**
 * Recomputes the stats from a results file (streamed; each sample index once, from its last
 * line; the lines that did not count are named in `codedance.skipped_lines`).
 */
export async function statsFromResults(
  file: string,
  meta: { modelName: string; dataSource: string; dataset: string; judged: boolean; mathCheck?: string },
): Promise<Stats> {
  const scan = await scanResults(file, statsInput);
  const acc = new StatsAccumulator();
  for (const r of scan.byIndex.values()) acc.add(r);
  return acc.finish({ ...meta, skippedLines: scan.skipped });
}

export async function runEval(o: EvalOptions): Promise<EvalSummary> {
  const t0 = Date.now();
  const log = o.log ?? (() => undefined);
  const dataset: Dataset = await openDataset(o.dataPath);
  const paths = evalPaths(o.saveDir, o.modelName, dataset.stem);
  mkdirSync(paths.dir, { recursive: true });
  const settings = runSettings(o, dataset.rowCount);
  const sha = await dataset.sha256();
  const now = new Date().toISOString();
  // manifest: a resumed run must be the same experiment
  // the catalog set a converted parquet names in its metadata (benchmarkRecord.ts): the table's row and revision
  const benchmark = await benchmarkOfDataset(dataset.file, dataset.format, log);
  const manifest = resumeManifest(readManifest(paths), { ...newManifest(o, settings, dataset, sha, now), ...benchmark }, paths);
  const thisRun: RunManifest['runs'][number] = { started_at: now, ran: 0, ...(manifest.cells ? { cells: manifest.cells.label } : {}) };
  manifest.runs.push(thisRun);
  writeJsonAtomic(paths.manifest, manifest);

  const { done, resumed, live } = await resumeState(o, paths, settings.total, log);
  const skippedBefore = live.skippedCount;
  const progress = new RunProgress(settings.total, resumed, live);
  o.onProgress?.(progress.snapshot());
  const run: RunContext = {
    o,
    settings,
    dataset,
    sha,
    manifest,
    paths,
    done,
    resumed,
    live,
    progress,
    log,
    writer: new ResultsWriter(paths.results, o.fsync ?? true),
    imagesWritten: new Set(),
  };
  const { cancelled, math } = await runSamples(run);

  if (math) manifest.math_check = (await math).info;
  const stats = await statsFromResults(paths.results, {
    modelName: o.modelName,
    dataSource: o.dataSource ?? 'default',
    dataset: dataset.stem,
    judged: !!o.judge,
    mathCheck: manifest.math_check?.note,
  });
  const statsOut = { ...stats, codedance: { ...stats.codedance, manifest } };
  thisRun.finished_at = new Date().toISOString();
  thisRun.ran = progress.ranNow;
  thisRun.skipped = live.skippedCount - skippedBefore;
  if (cancelled) thisRun.cancelled = true;
  writeJsonAtomic(paths.manifest, manifest);
  writeJsonAtomic(paths.stats, statsOut);
  writeJsonAtomic(paths.datasetStats, statsOut);
  return { paths, stats, manifest, total: settings.total, ranNow: progress.ranNow, resumed, cancelled, durationMs: Date.now() - t0 };
}

/** The options with the protocol's defaults filled in: what the run uses and its manifest records. */
function runSettings(o: EvalOptions, rowCount: number) {
  const protocol = getProtocol(o.protocol ?? 'codedance');
  return {
    protocol,
    sampling: { ...protocol.defaultSampling, ...Object.fromEntries(Object.entries(o.sampling ?? {}).filter(([, v]) => v !== undefined)) },
    maxTurns: o.maxTurns ?? protocol.defaultMaxTurns,
    judgeStyle: o.judgeStyle ?? defaultJudgeStyle(protocol.id),
    cellTimeoutMs: o.cellTimeoutMs ?? 30_000,
    sampleTimeoutMs: o.sampleTimeoutMs ?? 600_000,
    retries: Math.max(0, o.retries ?? 1),
    workers: Math.max(1, Math.floor(o.numWorkers)),
    total: Math.min(rowCount, o.limit ?? Infinity),
  };
}

type RunSettings = ReturnType<typeof runSettings>;

/** This run's manifest, before it is checked against (and joined to) the one of earlier runs. */
function newManifest(o: EvalOptions, s: RunSettings, dataset: Dataset, sha: string, now: string): RunManifest {
  return {
    kind: 'codedance-eval-manifest',
    version: 1,
    model_name: o.modelName,
    eval_model_name: o.evalModelName,
    endpoints: o.endpoints,
    protocol: s.protocol.id,
    protocol_template_hash: templateHash(s.protocol),
    sampling: s.sampling,
    max_turns: s.maxTurns,
    cell_timeout_ms: s.cellTimeoutMs,
    ...(o.maxObservationTokens !== undefined ? { max_observation_tokens: o.maxObservationTokens } : {}),
    image_budget: imageBudget(s.protocol.imagePreparation),
    sample_timeout_ms: s.sampleTimeoutMs,
    num_workers: s.workers,
    limit: o.limit,
    data_source: o.dataSource ?? 'default',
    cells: cellsEntry(o.kernels ? o.kernels.host : localCellHost(o.kernelSandbox?.sandbox, o.kernelSandbox?.network)),
    judge: o.judge
      ? {
          mode: 'llm-judge',
          style: s.judgeStyle,
          model: o.judge.model,
          endpoints: o.judge.endpoints,
          prompt_hash: s.judgeStyle === 'deepeyes' ? DEEPEYES_JUDGE_PROMPT_HASH : o.judge.promptHash,
          strict_verdict: !!o.strictVerdict,
          cache: o.judge.cacheScope ?? 'sample',
        }
      : {
          mode: 'no-judge',
          style: s.judgeStyle,
          prompt_hash: s.judgeStyle === 'deepeyes' ? DEEPEYES_JUDGE_PROMPT_HASH : JUDGE_PROMPT_HASH,
          strict_verdict: !!o.strictVerdict,
        },
    dataset: { file: dataset.file, stem: dataset.stem, format: dataset.format, rows: dataset.rowCount, sha256: sha },
    extension_version: o.extensionVersion ?? '0.1.0',
    node: process.version,
    started_at: now,
    runs: [],
  };
}

/** What earlier runs finished (after --retry-errors dropped the errored ones), and the counts progress starts from. */
async function resumeState(
  o: EvalOptions,
  paths: EvalPaths,
  total: number,
  log: (line: string) => void,
): Promise<{ done: Set<number>; resumed: number; live: StatsAccumulator }> {
  if (o.retryErrors) {
    const dropped = await dropErrored(paths.results);
    if (dropped) log(`--retry-errors: ${dropped} sample(s) that ended in an error will run again`);
  }
  const done = await finishedIndexes(paths.results);
  const resumed = [...done].filter((i) => i < total).length;
  if (resumed) log(`resuming: ${resumed} of ${total} samples already in ${paths.results}`);
  // progress counts include the samples of earlier runs
  const live = new StatsAccumulator();
  if (resumed) {
    const scan = await scanResults(paths.results, statsInput);
    for (const [i, r] of scan.byIndex) if (i < total) live.add(r);
    const note = describeSkippedLines(scan.skipped);
    if (note) log(`warning: ${paths.results}: ${note}`);
  }
  return { done, resumed, live };
}

/** The run's progress, counting the samples of earlier runs. */
class RunProgress {
  ranNow = 0;
  inFlight = 0;
  private readonly tRun = Date.now();

  constructor(
    private readonly total: number,
    private readonly resumed: number,
    private readonly live: StatsAccumulator,
  ) {}

  snapshot(): EvalProgress {
    const elapsed = (Date.now() - this.tRun) / 1000;
    const rate = elapsed > 0 ? this.ranNow / elapsed : 0;
    const left = this.total - this.resumed - this.ranNow;
    const { live } = this;
    return {
      total: this.total,
      done: this.resumed + this.ranNow,
      resumed: this.resumed,
      correct: live.correctCount,
      scored: live.count,
      errors: live.errorCount,
      skipped: live.skippedCount,
      inFlight: this.inFlight,
      rate,
      etaSeconds: rate > 0 ? left / rate : undefined,
      elapsedSeconds: elapsed,
    };
  }
}

/** Everything the workers share. */
interface RunContext {
  o: EvalOptions;
  settings: RunSettings;
  dataset: Dataset;
  sha: string;
  manifest: RunManifest;
  paths: EvalPaths;
  done: Set<number>;
  resumed: number;
  live: StatsAccumulator;
  progress: RunProgress;
  log: (line: string) => void;
  writer: ResultsWriter;
  /** the images already written beside the results (shared by the workers: each file once) */
  imagesWritten: Set<string>;
}

/** The rows not finished yet, in order, up to `total`, read from the first of them on. */
function pendingSamples(c: RunContext): { next: () => Promise<DatasetSample | undefined>; close: () => Promise<unknown> } {
  const { total } = c.settings;
  const firstPending = (() => {
    for (let i = 0; i < total; i++) if (!c.done.has(i)) return i;
    return total;
  })();
  const source = c.dataset.samples({ start: firstPending, fallbackDataSource: c.o.dataSource ?? 'default' });
  let exhausted = firstPending >= total;
  return {
    async next() {
      while (!exhausted) {
        const r = await source.next();
        if (r.done || r.value.index >= total) {
          exhausted = true;
          return undefined;
        }
        if (!c.done.has(r.value.index)) return r.value;
      }
      return undefined;
    },
    close: () => source.return(undefined),
  };
}

/**
 * The workers over the pending samples. A worker that fails (a results file that cannot be
 * written…) stops the others; the pool is disposed only once every sample has given its kernel
 * back. `math`: the math checker, when a math row started it.
 */
async function runSamples(c: RunContext): Promise<{ cancelled: boolean; math?: Promise<MathChecker> }> {
  const { o, settings } = c;
  const kernels = kernelSource(o, settings.workers, settings.total - c.resumed, c.log);
  const samples = pendingSamples(c);
  const disposals = new Set<Promise<void>>();
  const stop = new AbortController();
  const onCancel = () => stop.abort();
  if (o.signal?.aborted) stop.abort();
  else o.signal?.addEventListener('abort', onCancel, { once: true });
  // the seed's math_verify in the evaluating Python: started when the first math row is scored
  let math: Promise<MathChecker> | undefined;
  const sampleRun = sampleRunOf(
    c,
    kernels,
    stop.signal,
    () => (math ??= o.math ? Promise.resolve(o.math) : openMathChecker(o.python ?? 'python3', { log: c.log })),
    (d) => {
      disposals.add(d);
      void d.finally(() => disposals.delete(d));
    },
  );
  let cancelled: boolean;
  try {
    const ends = await Promise.allSettled(
      Array.from({ length: Math.min(settings.workers, Math.max(1, settings.total - c.resumed)) }, () =>
        worker(c, samples.next, sampleRun).catch((e: unknown) => {
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
    c.writer.close();
    await samples.close();
    await Promise.all([...disposals]);
    if (!o.kernels) await kernels.dispose();
    if (math && !o.math) await (await math).dispose();
  }
  return { cancelled, math };
}

/** What runSample needs of the run: the options under the run's signal, the settings, kernels, the math check. */
function sampleRunOf(
  c: RunContext,
  kernels: KernelSource,
  runSignal: AbortSignal,
  math: () => Promise<MathChecker>,
  track: (release: Promise<void>) => void,
): SampleRun {
  const { o, settings: s } = c;
  return {
    options: { ...o, judgeStyle: s.judgeStyle, signal: runSignal },
    sampleKey: (i) => `${c.sha}:${i}`,
    math,
    kernels,
    protocol: s.protocol,
    protocolTemplateHash: c.manifest.protocol_template_hash,
    maxTurns: s.maxTurns,
    sampling: s.sampling,
    cellTimeoutMs: s.cellTimeoutMs,
    maxObservationTokens: o.maxObservationTokens,
    sampleTimeoutMs: s.sampleTimeoutMs,
    retries: s.retries,
    log: c.log,
    track,
  };
}

/** One worker: samples until none is left or the run stops; each record (its images as files beside it) appended at once. */
async function worker(c: RunContext, next: () => Promise<DatasetSample | undefined>, sampleRun: SampleRun): Promise<void> {
  const { o, progress } = c;
  const failedRun = { model: o.evalModelName, endpoints: o.endpoints, protocol: c.settings.protocol.id };
  const imagesDir = recordImagesDir(c.paths.results);
  for (;;) {
    if (sampleRun.options.signal!.aborted) return;
    const sample = await next();
    if (!sample) return;
    progress.inFlight++;
    let rec: ResultRecord | undefined;
    try {
      rec = await runSample(sample, sampleRun);
    } catch (e) {
      c.log(`sample ${sample.index}: unexpected ${(e as Error).stack ?? e}`);
      rec = buildRecord(sample, failedTrajectory(sample, failedRun, e as Error), undefined, { attempts: 1, timedOut: false, latencyMs: 0 });
    } finally {
      progress.inFlight--;
    }
    if (!rec) return;
    // the trajectory's images go to files beside the results before its line is written
    c.writer.append(await storeRecordImages(rec, imagesDir, { fsync: o.fsync ?? true, written: c.imagesWritten }));
    progress.ranNow++;
    c.live.add(rec);
    o.onSample?.(rec);
    o.onProgress?.(progress.snapshot());
  }
}
