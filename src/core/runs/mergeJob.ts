/**
 * The FSDP → Hugging Face merge of one checkpoint as a job on the run's own cluster (a CPU job:
 * `python -m verl.model_merger merge --backend fsdp --local_dir <ckpt>/actor --target_dir <dir>`,
 * ../shared/docs/codedance-rl-runs.md §3), submitted through the JobBackend and waited for.
 *
 * The job is safe to run twice and never leaves half a model under the merged name: it exits at
 * once when `<merged>/config.json` is there, merges into `<merged>.partial-<random>` and renames
 * that to `<merged>` only when the merger finished and wrote its config.json. It runs in the
 * training job's working folder (where the seed's checkout has `verl/`) after the training
 * script's environment lines (`source …/activate`, `module load …`, `conda activate …`), so the
 * merger finds the same Python and verl the trainer used; `python` falls back to `python3`.
 */
import { JobsError } from '../jobs/errors';
import { shQuote } from '../jobs/slurmText';
import { isTerminal, type JobBackend, type JobInfo, type JobSpec } from '../jobs/types';
import { mergeCommand } from './checkpoints';
import { CheckpointError } from './checkpointErrors';

export interface MergeJobOptions {
  kind: 'ray' | 'slurm';
  /** the training job's working folder (the merger is run from there) */
  workingDir?: string;
  /** the training script's environment lines (setupLinesOf) */
  setup?: string[];
  /** more environment (e.g. PYTHONPATH) */
  env?: Record<string, string>;
  timeLimit?: string;
}

/** Lines of a batch script that set up its environment: what a job needs to find the trainer's Python. */
const SETUP_LINE =
  /^\s*(?:source\s|\.\s|module\s+(?:load|use|purge)\b|ml\s|conda\s+activate\s|mamba\s+activate\s|micromamba\s+activate\s|spack\s+load\s|export\s+(?:PATH|PYTHONPATH|LD_LIBRARY_PATH|VIRTUAL_ENV|CONDA_[A-Z_]+|PYTHONHOME|HF_HOME)=)/;

/** The environment lines of a training script (activations, module loads, PATH/PYTHONPATH), in order. */
export function setupLinesOf(script: string): string[] {
  return script
    .split('\n')
    .filter((l) => SETUP_LINE.test(l) && !/\bverl\.trainer\b/.test(l))
    .map((l) => l.trim());
}

/** The merge script's body (bash). */
export function mergeScript(checkpointPath: string, mergedDir: string, o: Pick<MergeJobOptions, 'workingDir' | 'setup'> = {}): string {
  const actor = `${checkpointPath.replace(/\/+$/, '')}/actor`;
  const partial = `${mergedDir}.partial-${Math.random().toString(36).slice(2, 8)}`;
  return [
    `ACTOR=${shQuote(actor)}`,
    `MERGED=${shQuote(mergedDir)}`,
    `PARTIAL=${shQuote(partial)}`,
    'if [ -f "$MERGED/config.json" ]; then echo "codedance: $MERGED is merged already"; exit 0; fi',
    ...(o.workingDir ? [`cd ${shQuote(o.workingDir)}`] : []),
    ...(o.setup?.length ? ["# the training script's environment", ...o.setup] : []),
    'command -v python >/dev/null 2>&1 || python() { python3 "$@"; }',
    // a failed merge leaves nothing behind (after the rename below there is nothing to remove)
    `trap 'rm -rf "$PARTIAL"' EXIT`,
    'rm -rf "$PARTIAL"',
    'echo "codedance: merging $ACTOR into $MERGED"',
    mergeCommand(actor, partial),
    'if [ ! -f "$PARTIAL/config.json" ]; then echo "codedance: the merger wrote no config.json into $PARTIAL" >&2; exit 1; fi',
    // an incomplete merged folder (no config.json) from an earlier attempt is replaced
    'rm -rf "$MERGED"',
    'mv "$PARTIAL" "$MERGED"',
    'echo "codedance: merged into $MERGED"',
  ].join('\n');
}

/** The merge job for one checkpoint folder (`…/global_step_<N>`) into `mergedDir`. */
export function mergeJobSpec(step: number, checkpointPath: string, mergedDir: string, o: MergeJobOptions): JobSpec {
  const body = mergeScript(checkpointPath, mergedDir, o);
  const metadata = { template: 'checkpoint-merge', checkpoint: checkpointPath, merged: mergedDir, step: String(step) };
  const base = { name: `merge-step${step}`, env: { ...(o.env ?? {}) }, metadata, timeLimit: o.timeLimit };
  // Ray runs an entrypoint with /bin/sh: the script is bash's
  if (o.kind === 'ray') return { ...base, entrypoint: `bash <<'MERGE'\nset -eo pipefail\n${body}\nMERGE` };
  return { ...base, entrypoint: body, nodes: 1, gpusPerNode: 0 };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const end = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', end);
      resolve();
    };
    const t = setTimeout(end, ms);
    signal?.addEventListener('abort', end, { once: true });
  });

export interface WaitOptions {
  signal?: AbortSignal;
  /** how often the job's state is read, ms (default 5000) */
  pollMs?: number;
  onStatus?: (job: JobInfo) => void;
}

/** Polls the job until it ends; on abort the job is stopped and a `cancelled` CheckpointError thrown. */
export async function waitForJob(backend: JobBackend, id: string, o: WaitOptions = {}): Promise<JobInfo> {
  let last = '';
  for (;;) {
    if (o.signal?.aborted) {
      await backend.stop(id).catch((e: Error) => {
        throw new CheckpointError(
          'cancelled',
          `cancelled, but job ${id} could not be stopped (${e.message})`,
          `stop it yourself (codedance jobs stop ${id})`,
        );
      });
      throw new CheckpointError('cancelled', `cancelled; job ${id} stopped`);
    }
    const job = await backend.status(id);
    if (job.rawStatus !== last) {
      last = job.rawStatus;
      o.onStatus?.(job);
    }
    if (isTerminal(job.status)) return job;
    await sleep(o.pollMs ?? 5000, o.signal);
  }
}

/** The end of a job's log, for a failure message; what went wrong reading it is said instead. */
export async function logTail(backend: JobBackend, id: string, lines = 30): Promise<string> {
  try {
    return (await backend.logs(id)).trimEnd().split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(the log cannot be read: ${(e as Error).message})`;
  }
}

/** Submits the merge job and waits for it; a job that does not succeed is a `merge-failed` CheckpointError with its log's end. */
export async function runMergeJob(
  backend: JobBackend,
  spec: JobSpec,
  o: WaitOptions & { clusterName: string; onSubmitted?: (id: string) => void },
): Promise<JobInfo> {
  let id: string;
  try {
    id = (await backend.submit(spec)).id;
  } catch (e) {
    if (e instanceof JobsError)
      throw new CheckpointError('merge-failed', `the merge job cannot be submitted to ${o.clusterName}: ${e.message}`, undefined, e);
    throw e;
  }
  o.onSubmitted?.(id);
  const job = await waitForJob(backend, id, o);
  if (job.status === 'SUCCEEDED') return job;
  const how = [job.rawStatus, job.exitCode !== undefined ? `exit ${job.exitCode}` : '', job.message ?? ''].filter(Boolean).join(', ');
  throw new CheckpointError(
    'merge-failed',
    `the merge job ${id} on ${o.clusterName} ended (${how}): check that the training environment has verl (python -m verl.model_merger) and that the checkpoint holds actor/ with its huggingface/ folder; the job's log ends with:\n${(await logTail(backend, id)) || '(empty)'}`,
  );
}
