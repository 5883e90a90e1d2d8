/**
 * One dataset sample through the agent loop: a kernel session from the source, the loop under
 * the sample's time limit, whole-sample retries with back-off after an error, the seed's score
 * (or DeepEyes' judge, `judgeStyle: 'deepeyes'`),
 * and the result record built from the trajectory. Undefined when the run is cancelled (nothing
 * recorded: a resume runs the sample again).
 */
import type { AgentOptions } from '../agent/options';
import { runAgentToEnd } from '../agent/runAgent';
import type { DatasetSample } from '../data/dataset';
import { LazyKernelSession } from '../kernel/lazySession';
import type { KernelSession } from '../kernel/types';
import type { ProtocolAdapter } from '../protocol/types';
import type { Trajectory } from '../trajectory/types';
import type { MathChecker } from './mathCheck';
import { buildRecord, failedTrajectory, type ResultRecord } from './record';
import { imageLoadFailure, skipBeforeRun, skippedSampleRecord } from './rows';
import type { EvalOptions, KernelSource } from './options';
import { isHostLost } from './kernelHosts';
import { scoreDeepeyes } from '../reward/deepeyesJudge';
import { computeScore, scorerFor } from '../reward/score';

export interface SampleRun {
  options: Pick<
    EvalOptions,
    'model' | 'evalModelName' | 'endpoints' | 'signal' | 'judge' | 'judgeStyle' | 'strictVerdict' | 'retryBaseDelayMs'
  >;
  kernels: KernelSource;
  protocol: ProtocolAdapter;
  protocolTemplateHash: string;
  maxTurns: number;
  sampling: AgentOptions['sampling'];
  cellTimeoutMs: number;
  maxObservationTokens?: number;
  sampleTimeoutMs: number;
  retries: number;
  log: (line: string) => void;
  /** a session being given back: the run awaits these before it ends */
  track: (release: Promise<void>) => void;
  /** the sample's identity for the judge's verdict cache (dataset hash and row) */
  sampleKey?: (index: number) => string;
  /** the math rows' symbolic check (started on first use) */
  math?: () => Promise<MathChecker>;
}

/** Resolves after `ms`, or at once when `signal` fires; either way no listener stays on `signal`. */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const end = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', end);
      resolve();
    };
    const t = setTimeout(end, ms);
    signal?.addEventListener('abort', end, { once: true });
  });

/** the live followers of a signal, and the one listener on it that aborts them all */
const followers = new WeakMap<AbortSignal, { live: Set<AbortController>; onAbort: () => void }>();

/**
 * A signal that aborts when `parent` does, through ONE listener on `parent` shared by all its live
 * followers: the samples in flight of a run (32 workers, each with a listener of its own on the
 * run's signal, passed Node's 10 per signal: MaxListenersExceededWarning). `release` when done;
 * the last release takes the listener off `parent`.
 */
function followSignal(parent: AbortSignal | undefined): { signal?: AbortSignal; release: () => void } {
  if (!parent) return { release: () => undefined };
  const ctrl = new AbortController();
  if (parent.aborted) {
    ctrl.abort(parent.reason);
    return { signal: ctrl.signal, release: () => undefined };
  }
  let group = followers.get(parent);
  if (!group) {
    const live = new Set<AbortController>();
    const onAbort = () => {
      followers.delete(parent);
      for (const c of live) c.abort(parent.reason);
      live.clear();
    };
    group = { live, onAbort };
    followers.set(parent, group);
    parent.addEventListener('abort', onAbort, { once: true });
  }
  const g = group;
  g.live.add(ctrl);
  return {
    signal: ctrl.signal,
    release: () => {
      if (!g.live.delete(ctrl) || g.live.size) return;
      followers.delete(parent);
      parent.removeEventListener('abort', g.onAbort);
    },
  };
}

export async function runSample(sample: DatasetSample, r: SampleRun): Promise<ResultRecord | undefined> {
  // the sample's attempts, back-offs and judge call listen to its own follower of the run's signal
  const cancel = followSignal(r.options.signal);
  try {
    return await runSampleFollowing(sample, { ...r, options: { ...r.options, signal: cancel.signal } });
  } finally {
    cancel.release();
  }
}

async function runSampleFollowing(sample: DatasetSample, r: SampleRun): Promise<ResultRecord | undefined> {
  const o = r.options;
  const skip = skipBeforeRun(sample);
  if (skip) return skippedSampleRecord(sample, skip.kind, skip.reason);
  const start = performance.now();
  const run = await runAttempts(sample, r);
  if (run.kind === 'cancelled') return undefined;
  if (run.kind === 'skipped') return run.record;
  const { traj, attempts, timedOut, kernelWaitMs } = run;
  const last = traj.turns.length ? traj.turns[traj.turns.length - 1].content : '';
  const score = await scoreSample(sample, last, r);
  if (o.signal?.aborted) return undefined;
  return buildRecord(sample, traj, score, { attempts, timedOut, latencyMs: performance.now() - start, kernelWaitMs });
}

/** The sample's score on its last reply: DeepEyes' judge (judgeStyle 'deepeyes'), else the seed's scorer for its data_source. */
async function scoreSample(sample: DatasetSample, last: string, r: SampleRun) {
  const o = r.options;
  const opts = { judge: o.judge, strictVerdict: o.strictVerdict, signal: o.signal, sample: r.sampleKey?.(sample.index) };
  if (o.judgeStyle === 'deepeyes') return scoreDeepeyes(last, sample, opts);
  const math = scorerFor(sample.dataSource) === 'math' ? await r.math?.() : undefined;
  return computeScore(sample.dataSource, last, sample.answer, sample.question, { ...opts, math });
}

/** kernel hosts lost under one sample before it is recorded as an error (each loss takes a host out of the run) */
const MAX_HOST_LOSSES = 8;

/** its kernel host died (eval --kernel-hosts): not an attempt; the sample runs again from its start on another host */
function lostItsHost(traj: Trajectory, losses: { n: number }): boolean {
  return traj.status === 'error' && isHostLost(traj.error) && losses.n++ < MAX_HOST_LOSSES;
}

/** How a sample's attempts ended: cancelled (not recorded), skipped like the seed, or with a trajectory to score. */
type Attempts =
  | { kind: 'cancelled' }
  | { kind: 'skipped'; record: ResultRecord }
  | { kind: 'done'; traj: Trajectory; timedOut: boolean; attempts: number; kernelWaitMs: number };

/** The sample through the loop, again (after a back-off) while it errs and retries are left; a kernel that does not start is retried too. */
async function runAttempts(sample: DatasetSample, r: SampleRun): Promise<Attempts> {
  const o = r.options;
  const failedRun = { model: o.evalModelName, endpoints: o.endpoints, protocol: r.protocol.id };
  let attempts = 0;
  let kernelWaitMs = 0;
  const hostLosses = { n: 0 };
  for (;;) {
    attempts++;
    let kernel: SampleKernel;
    const tk = performance.now();
    try {
      kernel = await sampleKernel(r.kernels);
      kernelWaitMs += performance.now() - tk;
    } catch (e) {
      if (o.signal?.aborted) return { kind: 'cancelled' };
      if (attempts <= r.retries) {
        r.log(`sample ${sample.index}: kernel start failed (${(e as Error).message}); retrying`);
        await sleep((o.retryBaseDelayMs ?? 1000) * 2 ** (attempts - 1), o.signal);
        continue;
      }
      return { kind: 'done', traj: failedTrajectory(sample, failedRun, e as Error), timedOut: false, attempts, kernelWaitMs };
    }
    const { traj, timedOut } = await attemptOn(kernel, sample, r, failedRun);
    kernelWaitMs += kernel.waitMs();
    if (o.signal?.aborted) return { kind: 'cancelled' }; // cancelled: not recorded, a resume runs it again
    // Pillow could not open the input image: the seed skips the row (no retry, not scored)
    const unloadable = imageLoadFailure(sample, traj);
    if (unloadable) return { kind: 'skipped', record: skippedSampleRecord(sample, 'ImageLoadError', unloadable) };
    if (lostItsHost(traj, hostLosses)) {
      attempts--;
      r.log(`sample ${sample.index}: ${traj.error?.message}; running it again on another kernel host`);
      continue;
    }
    if (traj.status === 'error' && !timedOut && attempts <= r.retries) {
      r.log(`sample ${sample.index}: ${traj.error?.name}: ${traj.error?.message}; retrying`);
      await sleep((o.retryBaseDelayMs ?? 1000) * 2 ** (attempts - 1), o.signal);
      if (o.signal?.aborted) return { kind: 'cancelled' };
      continue;
    }
    return { kind: 'done', traj, timedOut, attempts, kernelWaitMs };
  }
}

/** A sample's kernel session, how it is given back, and how long the sample waited for a kernel inside it. */
interface SampleKernel {
  session: KernelSession;
  giveBack: () => Promise<void>;
  /** ms waited for a kernel after the session was made (a lazy session's wait at its first cell) */
  waitMs: () => number;
}

/**
 * The sample's session: with a source that prepares images without a kernel, a lazy one that
 * takes its kernel when the first cell runs (none if the sample answers without code);
 * otherwise a kernel taken now, as the source gives it.
 */
async function sampleKernel(source: KernelSource): Promise<SampleKernel> {
  const prepare = source.prepareImages?.bind(source);
  if (prepare) {
    const lazy = new LazyKernelSession({
      python: source.python ?? 'python3',
      acquire: (signal) => source.acquire(signal),
      release: (k) => (source.release ? source.release(k) : k.dispose()),
      prepareImages: prepare,
    });
    return { session: lazy, giveBack: () => lazy.dispose(), waitMs: () => lazy.waitMs };
  }
  const session = await source.acquire();
  return { session, giveBack: () => (source.release ? source.release(session) : session.dispose()), waitMs: () => 0 };
}

/** One attempt on `kernel` under the sample's time limit; the kernel is given back after it (the run awaits that). */
async function attemptOn(
  { session: kernel, giveBack }: SampleKernel,
  sample: DatasetSample,
  r: SampleRun,
  failedRun: { model: string; endpoints: string[]; protocol: string },
): Promise<{ traj: Trajectory; timedOut: boolean }> {
  const o = r.options;
  let timedOut = false;
  const ctrl = new AbortController();
  const onAbort = () => ctrl.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    ctrl.abort();
  }, r.sampleTimeoutMs);
  let traj: Trajectory;
  try {
    traj = await runAgentToEnd(sample.question, sample.images, {
      model: o.model,
      modelName: o.evalModelName,
      protocol: r.protocol,
      kernel,
      ...(sample.options ? { choices: sample.options } : {}),
      maxTurns: r.maxTurns,
      sampling: r.sampling,
      timeoutMs: r.cellTimeoutMs,
      maxObservationTokens: r.maxObservationTokens,
      signal: ctrl.signal,
      endpoints: o.endpoints,
      protocolTemplateHash: r.protocolTemplateHash,
    });
  } catch (e) {
    traj = failedTrajectory(sample, failedRun, e as Error);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
    // a kernel that fails to shut down is killed on exit (process.ts); the sample's result is already kept
    r.track(giveBack().catch(() => undefined));
  }
  return { traj, timedOut };
}
