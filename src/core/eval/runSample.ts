/**
 * One dataset sample through the agent loop: a kernel session from the source, the loop under
 * the sample's time limit, whole-sample retries with back-off after an error, the seed's score,
 * and the result record built from the trajectory. Undefined when the run is cancelled (nothing
 * recorded: a resume runs the sample again).
 */
import type { AgentOptions } from '../agent/options';
import { runAgentToEnd } from '../agent/runAgent';
import type { DatasetSample } from '../data/dataset';
import type { KernelSession } from '../kernel/types';
import type { ProtocolAdapter } from '../protocol/types';
import type { Trajectory } from '../trajectory/types';
import type { MathChecker } from './mathCheck';
import { buildRecord, failedTrajectory, type ResultRecord } from './record';
import { imageLoadFailure, skipBeforeRun, skippedSampleRecord } from './rows';
import type { EvalOptions, KernelSource } from './runner';
import { computeScore, scorerFor } from './score';

export interface SampleRun {
  options: Pick<EvalOptions, 'model' | 'evalModelName' | 'endpoints' | 'signal' | 'judge' | 'strictVerdict' | 'retryBaseDelayMs'>;
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

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

export async function runSample(sample: DatasetSample, r: SampleRun): Promise<ResultRecord | undefined> {
  const o = r.options;
  const skip = skipBeforeRun(sample);
  if (skip) return skippedSampleRecord(sample, skip.kind, skip.reason);
  const failedRun = { model: o.evalModelName, endpoints: o.endpoints, protocol: r.protocol.id };
  const start = performance.now();
  let attempts = 0;
  let traj: Trajectory | undefined;
  let timedOut: boolean;
  let kernelWaitMs = 0;
  for (;;) {
    attempts++;
    timedOut = false;
    let kernel: KernelSession;
    const tk = performance.now();
    try {
      kernel = await r.kernels.acquire();
      kernelWaitMs += performance.now() - tk;
    } catch (e) {
      if (o.signal?.aborted) return undefined;
      if (attempts <= r.retries) {
        r.log(`sample ${sample.index}: kernel start failed (${(e as Error).message}); retrying`);
        await sleep((o.retryBaseDelayMs ?? 1000) * 2 ** (attempts - 1), o.signal);
        continue;
      }
      traj = failedTrajectory(sample, failedRun, e as Error);
      break;
    }
    const ctrl = new AbortController();
    const onAbort = () => ctrl.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort();
    }, r.sampleTimeoutMs);
    try {
      traj = await runAgentToEnd(sample.question, sample.images, {
        model: o.model,
        modelName: o.evalModelName,
        protocol: r.protocol,
        kernel,
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
      r.track((r.kernels.release ? r.kernels.release(kernel) : kernel.dispose()).catch(() => undefined));
    }
    if (o.signal?.aborted) return undefined; // cancelled: not recorded, a resume runs it again
    // Pillow could not open the input image: the seed skips the row (no retry, not scored)
    const unloadable = imageLoadFailure(sample, traj);
    if (unloadable) return skippedSampleRecord(sample, 'ImageLoadError', unloadable);
    if (traj.status === 'error' && !timedOut && attempts <= r.retries) {
      r.log(`sample ${sample.index}: ${traj.error?.name}: ${traj.error?.message}; retrying`);
      await sleep((o.retryBaseDelayMs ?? 1000) * 2 ** (attempts - 1), o.signal);
      if (o.signal?.aborted) return undefined;
      continue;
    }
    break;
  }
  const last = traj.turns.length ? traj.turns[traj.turns.length - 1].content : '';
  const math = scorerFor(sample.dataSource) === 'math' ? await r.math?.() : undefined;
  const score = await computeScore(sample.dataSource, last, sample.answer, sample.question, { judge: o.judge, strictVerdict: o.strictVerdict, signal: o.signal, sample: r.sampleKey?.(sample.index), math });
  if (o.signal?.aborted) return undefined;
  return buildRecord(sample, traj, score, { attempts, timedOut, latencyMs: performance.now() - start, kernelWaitMs });
}
