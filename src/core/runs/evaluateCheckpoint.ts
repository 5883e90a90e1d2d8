/**
 * "Evaluate this checkpoint" and "Serve this checkpoint" (issue #23 §4) as one sequence of steps,
 * the same for the editor and the CLI, which pass in how each step is done (checkpointSteps.ts
 * has the cluster's: a merge job, a copy over SSH, a vLLM job through ServeSession):
 *
 *   data    the files to evaluate on brought to this machine (the run's data.val_files, copied
 *           from the cluster into a cache) — beside the merge, which takes minutes
 *   merge   the FSDP shards merged into a Hugging Face model by a job on the run's cluster,
 *           skipped when the merged model is there (a merge done is never redone)
 *   serve   the merged model served with the serve flow (vLLM job, tunnels, ready)
 *   eval    the eval runner on each file against the served replicas
 *   record  each result in the checkpoint-eval index (checkpointEvals.ts): a point on the run
 *           view's chart at the checkpoint's step
 *
 * Every step is told as events (started / skipped / done, progress lines). The AbortSignal stops
 * the chain between steps and inside them (a merge job is cancelled; a copy keeps what it has);
 * a cancelled chain throws a `cancelled` CheckpointError. Run again, it skips what is done: the
 * merged model, the cached copy, and (the eval resumes) the samples already scored.
 */
import type { CheckpointEval } from './checkpointEvals';
import { CheckpointError, isCancelled } from './checkpointErrors';

export type ChainStep = 'data' | 'merge' | 'serve' | 'eval' | 'record';

export type ChainEvent =
  | { type: 'step'; step: ChainStep; state: 'started' | 'skipped' | 'done'; message: string }
  | { type: 'progress'; step: ChainStep; message: string };

/** One checkpoint of one run, as the chain needs it. */
export interface CheckpointRef {
  /** the run's key in the checkpoint-eval index (checkpointRunKey) */
  runKey: string;
  /** the run's name (its experiment): names the served model and the eval's results */
  label: string;
  step: number;
  /** `…/global_step_<N>` on the cluster */
  path: string;
  /** where its merged Hugging Face model is (or goes) */
  mergedDir: string;
}

export interface ServedModelRef {
  servedModelName: string;
  /** the replicas' base URLs on this machine (…/v1) */
  baseUrls: string[];
  /** the serve job */
  jobId?: string;
  /** it was served already (by this window): nothing was started */
  reused?: boolean;
}

/** A dataset to evaluate on: as the run names it, and where it is on this machine. */
export interface EvalDataset {
  source: string;
  local: string;
}

export interface EvalOutcome {
  /** 0–1 */
  accuracy: number;
  n: number;
  evalDir: string;
  /** the dataset's file stem */
  dataset: string;
  judged: boolean;
  /** stopped before every sample was scored: not recorded */
  cancelled: boolean;
}

export interface StepContext {
  signal: AbortSignal;
  /** one line on what the step is doing now */
  progress(message: string): void;
}

/** How each step is done (the editor and the CLI each pass theirs). */
export interface CheckpointSteps {
  /** whether the merged model is complete (its config.json is there) */
  isMerged(c: CheckpointRef, ctx: StepContext): Promise<boolean>;
  merge(c: CheckpointRef, ctx: StepContext): Promise<void>;
  serve(c: CheckpointRef, ctx: StepContext): Promise<ServedModelRef>;
  /** after the evals, a failure or a cancel: what the chain started and must not leave running (the CLI stops its serve job) */
  release?(m: ServedModelRef): Promise<void>;
  /** the datasets on this machine, in the order given */
  fetchData(sources: string[], ctx: StepContext): Promise<EvalDataset[]>;
  evaluate(d: EvalDataset, m: ServedModelRef, c: CheckpointRef, ctx: StepContext): Promise<EvalOutcome>;
  record(c: CheckpointRef, e: CheckpointEval): Promise<void>;
}

/** What merging alone takes. */
export type MergeSteps = Pick<CheckpointSteps, 'isMerged' | 'merge'>;

export interface ChainOptions {
  signal?: AbortSignal;
  onEvent?: (e: ChainEvent) => void;
}

/** The served model name (and eval results name) of a checkpoint: `<run>-step<N>`, in the characters vLLM's flag and a folder take. */
export function checkpointModelName(label: string, step: number): string {
  const base = label.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'checkpoint';
  return `${base.slice(0, 100)}-step${step}`;
}

class Chain {
  constructor(
    private readonly o: ChainOptions,
    readonly signal: AbortSignal,
  ) {}

  emit(step: ChainStep, state: 'started' | 'skipped' | 'done', message: string): void {
    this.o.onEvent?.({ type: 'step', step, state, message });
  }

  ctx(step: ChainStep, signal = this.signal): StepContext {
    return { signal, progress: (message) => this.o.onEvent?.({ type: 'progress', step, message }) };
  }

  check(what: string): void {
    if (this.signal.aborted) throw new CheckpointError('cancelled', `cancelled before ${what}`);
  }
}

function chainOf(o: ChainOptions): Chain {
  return new Chain(o, o.signal ?? new AbortController().signal);
}

/** The merge step: skipped when the merged model is there; after a merge job, the model must be there. */
async function mergeStep(c: CheckpointRef, steps: MergeSteps, chain: Chain, signal = chain.signal): Promise<void> {
  const ctx = chain.ctx('merge', signal);
  if (await steps.isMerged(c, ctx)) {
    chain.emit('merge', 'skipped', `step ${c.step} is merged already (${c.mergedDir})`);
    return;
  }
  if (signal.aborted) throw new CheckpointError('cancelled', 'cancelled before the merge');
  chain.emit('merge', 'started', `merging step ${c.step} into ${c.mergedDir}`);
  await steps.merge(c, ctx);
  if (!(await steps.isMerged(c, ctx)))
    throw new CheckpointError(
      'merge-failed',
      `the merge job of step ${c.step} ended, but ${c.mergedDir} holds no config.json`,
      "look at the merge job's log (Training Jobs view, or codedance jobs logs ID)",
    );
  chain.emit('merge', 'done', `step ${c.step} merged into ${c.mergedDir}`);
}

async function dataStep(sources: string[], steps: CheckpointSteps, chain: Chain, signal: AbortSignal): Promise<EvalDataset[]> {
  chain.emit('data', 'started', `bringing ${sources.length} dataset(s) here: ${sources.join(', ')}`);
  const data = await steps.fetchData(sources, chain.ctx('data', signal));
  chain.emit('data', 'done', `${data.length} dataset(s) ready: ${data.map((d) => d.local).join(', ')}`);
  return data;
}

/**
 * Both at once; when one fails the other is stopped (its own signal) and waited for, and the
 * first failure is thrown — a cancel of the chain itself before either.
 */
async function mergeAndData(c: CheckpointRef, sources: string[], steps: CheckpointSteps, chain: Chain): Promise<EvalDataset[]> {
  const both = new AbortController();
  const stop = () => both.abort();
  chain.signal.addEventListener('abort', stop, { once: true });
  try {
    const guard = <T>(p: Promise<T>) =>
      p.catch((e: unknown) => {
        both.abort();
        throw e;
      });
    const [merged, data] = await Promise.allSettled([
      guard(mergeStep(c, steps, chain, both.signal)),
      guard(dataStep(sources, steps, chain, both.signal)),
    ]);
    const failures = [merged, data].flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (chain.signal.aborted) throw failures.find(isCancelled) ?? new CheckpointError('cancelled', 'cancelled');
    const real = failures.find((e) => !isCancelled(e)) ?? failures[0];
    if (real !== undefined) throw real;
    return (data as PromiseFulfilledResult<EvalDataset[]>).value;
  } finally {
    chain.signal.removeEventListener('abort', stop);
  }
}

async function serveStep(c: CheckpointRef, steps: CheckpointSteps, chain: Chain): Promise<ServedModelRef> {
  chain.check('serving');
  chain.emit('serve', 'started', `serving ${c.mergedDir}`);
  const m = await steps.serve(c, chain.ctx('serve'));
  const where = `${m.baseUrls.length} replica(s): ${m.baseUrls.join(', ')}`;
  chain.emit('serve', 'done', m.reused ? `${m.servedModelName} is served already (${where})` : `${m.servedModelName} ready (${where})`);
  return m;
}

/** Merge (unless merged), then nothing else: the model is ready to serve. */
export async function mergeCheckpoint(c: CheckpointRef, steps: MergeSteps, o: ChainOptions = {}): Promise<void> {
  const chain = chainOf(o);
  chain.check('the merge');
  await mergeStep(c, steps, chain);
}

/** Merge (unless merged), then serve: "Serve this checkpoint". */
export async function serveCheckpoint(c: CheckpointRef, steps: CheckpointSteps, o: ChainOptions = {}): Promise<ServedModelRef> {
  const chain = chainOf(o);
  chain.check('the merge');
  await mergeStep(c, steps, chain);
  return serveStep(c, steps, chain);
}

/** One dataset evaluated and its result recorded; a cancelled eval is not recorded (it throws). */
async function evalOne(c: CheckpointRef, d: EvalDataset, m: ServedModelRef, steps: CheckpointSteps, chain: Chain): Promise<CheckpointEval> {
  chain.check(`the eval on ${d.source}`);
  chain.emit('eval', 'started', `evaluating step ${c.step} on ${d.source}`);
  const out = await steps.evaluate(d, m, c, chain.ctx('eval'));
  if (out.cancelled || chain.signal.aborted)
    throw new CheckpointError(
      'cancelled',
      `the eval on ${d.source} was stopped (its finished samples are kept: evaluating again resumes it)`,
    );
  const pct = `${(out.accuracy * 100).toFixed(1)}%`;
  chain.emit('eval', 'done', `step ${c.step} on ${out.dataset}: accuracy ${pct} over ${out.n} sample(s)`);
  const e: CheckpointEval = {
    step: c.step,
    accuracy: out.accuracy,
    n: out.n,
    dataset: out.dataset,
    dataFile: d.source,
    evalDir: out.evalDir,
    model: c.mergedDir,
    judged: out.judged,
    finishedAt: new Date().toISOString(),
  };
  await steps.record(c, e);
  chain.emit('record', 'done', `recorded step ${c.step}: ${out.dataset} ${pct}`);
  return e;
}

export interface CheckpointEvalResult {
  served: ServedModelRef;
  evals: CheckpointEval[];
}

/**
 * "Evaluate this checkpoint" on `sources` (the run's validation files, or the dataset the user
 * picked): data and merge, serve, then each eval recorded as soon as it ends. `release` runs at
 * the end whatever happened, once the model was served.
 */
export async function evaluateCheckpoint(
  c: CheckpointRef,
  sources: string[],
  steps: CheckpointSteps,
  o: ChainOptions = {},
): Promise<CheckpointEvalResult> {
  const chain = chainOf(o);
  if (!sources.length)
    throw new CheckpointError(
      'no-data',
      `the run names no validation files (data.val_files) to evaluate step ${c.step} on`,
      'pick a dataset',
    );
  chain.check('the merge');
  const data = await mergeAndData(c, sources, steps, chain);
  const served = await serveStep(c, steps, chain);
  try {
    const evals: CheckpointEval[] = [];
    for (const d of data) evals.push(await evalOne(c, d, served, steps, chain));
    return { served, evals };
  } finally {
    // a job that cannot be stopped is said, and the chain's own outcome (or failure) stands
    await steps
      .release?.(served)
      .catch((e: Error) =>
        o.onEvent?.({ type: 'progress', step: 'serve', message: `${served.servedModelName} could not be stopped: ${e.message}` }),
      );
  }
}
