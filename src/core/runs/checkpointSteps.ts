/**
 * The steps of evaluateCheckpoint.ts as a cluster does them: the checkpoint looked up in the run's
 * checkpoint folder, "merged?" read from the run's files, the merge as a job on the run's cluster
 * (mergeJob.ts), the run's validation files copied here over SSH (remoteCopy.ts), the merged
 * model served by the serve flow's ServeSession (the CLI; the editor serves through its own serve
 * command so that the model joins the window's endpoints), each result recorded in the index.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { SlurmBackend } from '../jobs/SlurmBackend';
import type { JobBackend } from '../jobs/types';
import type { SshConnection } from '../jobs/SshConnection';
import { buildServeJob, policyDefaults, ServeError, ServeSession, type ServeParams } from '../serve';
import { listCheckpoints, mergedDirOf } from './checkpoints';
import { CheckpointError } from './checkpointErrors';
import { checkpointRunKey, recordCheckpointEval } from './checkpointEvals';
import { isNotFound } from './errors';
import { checkpointModelName, type CheckpointRef, type CheckpointSteps, type EvalDataset, type StepContext } from './evaluateCheckpoint';
import type { JobRun } from './jobRun';
import { mergeJobSpec, runMergeJob, setupLinesOf, type MergeJobOptions } from './mergeJob';
import { copyDown } from './remoteCopy';
import type { RunFiles } from './runFiles';

/** A run's name: its job's name (the RL template names the job after the experiment), else its experiment, else the job id. */
export function runLabel(run: JobRun): string {
  return run.info.name || run.config.experiment || run.info.id;
}

/** The checkpoint at `step` of a job's run: found in its checkpoint folder when its files can be read, else as verl names it. */
export async function resolveCheckpoint(run: JobRun, cluster: string, step: number, files = run.files): Promise<CheckpointRef> {
  const dir = run.config.checkpointDir;
  const base = { runKey: checkpointRunKey(cluster, run.info.id), label: runLabel(run), step };
  if (!files) {
    const p = `${dir.replace(/\/+$/, '')}/global_step_${step}`;
    return { ...base, path: p, mergedDir: mergedDirOf(p) };
  }
  const all = await listCheckpoints(files, dir);
  const found = all.find((c) => c.step === step);
  if (!found)
    throw new CheckpointError(
      'no-checkpoint',
      `job ${run.info.id} has no checkpoint of step ${step} in ${dir} (${all.length ? `it has steps ${all.map((c) => c.step).join(', ')}` : 'none saved yet: verl saves one every trainer.save_freq steps'})`,
      all.length ? 'pick one of those steps' : 'wait for the first checkpoint',
    );
  return { ...base, path: found.path, mergedDir: found.mergedPath ?? mergedDirOf(found.path) };
}

/** The training command's environment lines (its batch script on Slurm, its entrypoint on Ray). */
export async function trainingSetup(run: JobRun): Promise<string[]> {
  const ep = run.info.entrypoint ?? '';
  let text = ep;
  if (run.files && ep.startsWith('/') && !/\s/.test(ep)) {
    try {
      text = await run.files.read(ep);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      text = ''; // the script is gone: the merge job runs without its environment lines
    }
  }
  return setupLinesOf(text.replace(/&&|;/g, '\n'));
}

export interface ClusterStepsOptions {
  backend: JobBackend;
  clusterName: string;
  /** where the run's files are read (Slurm: over SSH); undefined when they cannot be read from here */
  files?: RunFiles;
  /** the merge job's working folder, environment lines and variables */
  merge?: Omit<MergeJobOptions, 'kind'>;
  /** how often a job's state is read, ms (default 5000) */
  pollMs?: number;
}

/** Merged? (its config.json, read from the run's files; unknown counts as no: the merge job itself skips a merged model) */
export function clusterMergeSteps(o: ClusterStepsOptions): Pick<CheckpointSteps, 'isMerged' | 'merge'> {
  return {
    async isMerged(c) {
      if (!o.files) return false;
      try {
        return (await o.files.list(c.mergedDir)).includes('config.json');
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
    },
    async merge(c, ctx) {
      const spec = mergeJobSpec(c.step, c.path, c.mergedDir, { kind: o.backend.kind, ...o.merge });
      await runMergeJob(o.backend, spec, {
        clusterName: o.clusterName,
        pollMs: o.pollMs,
        signal: ctx.signal,
        onSubmitted: (id) => ctx.progress(`merge job ${id} submitted to ${o.clusterName}`),
        onStatus: (j) => ctx.progress(`merge job ${j.id}: ${j.rawStatus.toLowerCase()}`),
      });
    },
  };
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** The run's files brought here: copied from the cluster over its SSH connection into `cacheDir` (Slurm), or read where they are (`files` local). */
export function clusterData(o: {
  backend: JobBackend;
  clusterName: string;
  cacheDir: string;
  filesAreLocal?: boolean;
}): CheckpointSteps['fetchData'] {
  return async (sources, ctx) => {
    const out: EvalDataset[] = [];
    for (const source of sources) {
      if (o.filesAreLocal) {
        if (!existsSync(source))
          throw new CheckpointError('no-data', `${source} does not exist`, 'check data.val_files of the run, or pick another dataset');
        out.push({ source, local: source });
        continue;
      }
      if (!(o.backend instanceof SlurmBackend))
        throw new CheckpointError(
          'no-data',
          `${source} is on the nodes of the Ray cluster ${o.clusterName}, which cannot be read from here`,
          'pick a copy of the dataset on this machine',
        );
      out.push({ source, local: await copyOne(o.backend.ssh, source, o.cacheDir, ctx) });
    }
    return out;
  };
}

async function copyOne(conn: SshConnection, source: string, cacheDir: string, ctx: StepContext): Promise<string> {
  let last = -1;
  return copyDown(conn, source, cacheDir, {
    signal: ctx.signal,
    onProgress: (done, total) => {
      const pct = total ? Math.floor((100 * done) / total) : 100;
      if (pct === last) return;
      last = pct;
      ctx.progress(`copying ${path.posix.basename(source)} from ${conn.target.label}: ${mb(done)} of ${mb(total)}`);
    },
  });
}

/** Datasets already on this machine (picked by the user): used where they are. */
export function localData(): CheckpointSteps['fetchData'] {
  return async (sources) =>
    sources.map((source) => {
      if (!existsSync(source))
        throw new CheckpointError('no-data', `${source} does not exist`, 'give a .parquet or .jsonl file on this machine');
      return { source, local: path.resolve(source) };
    });
}

export interface SessionServeOptions {
  backend: JobBackend;
  clusterName: string;
  /** the serve job's settings beyond the checkpoint and its name (replicas, tp, …) */
  params?: Partial<ServeParams>;
  /** more environment for the serve job */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  pollMs?: number;
  tunnelVia?: ConstructorParameters<typeof ServeSession>[0]['tunnelVia'];
  log?: (line: string) => void;
}

/** A ServeSession that could not get ready: stopped (unless its job ended by itself), and the failure said as a CheckpointError. */
async function serveFailure(s: ServeSession, e: unknown, log?: (line: string) => void): Promise<never> {
  const failure = e instanceof ServeError ? e.failure : undefined;
  // the failure below is what the user must see; a failed stop is said beside it (the job may hold GPUs)
  if (failure !== 'job-ended')
    await s.stop().catch((x: Error) => log?.(`serve job ${s.jobId ?? ''} may still be running (stopping it failed: ${x.message})`));
  if (failure === 'cancelled')
    throw new CheckpointError('cancelled', `cancelled while the model was loading; serve job ${s.jobId ?? ''} stopped`);
  if (e instanceof ServeError) throw new CheckpointError('serve-failed', e.message, undefined, e);
  throw e;
}

/** The merged model served with the serve flow's ServeSession (submit, tunnels, ready); `release` stops it. */
export function sessionServeSteps(o: SessionServeOptions): Pick<CheckpointSteps, 'serve' | 'release'> {
  let session: ServeSession | undefined;
  return {
    async serve(c, ctx) {
      const name = checkpointModelName(c.label, c.step);
      const params = policyDefaults({ name: `serve-${name}`.slice(0, 64), servedModelName: name, modelPath: c.mergedDir, ...o.params });
      const spec = buildServeJob(params, o.backend.kind);
      Object.assign(spec.env, o.env ?? {});
      const s = new ServeSession({
        backend: o.backend,
        clusterName: o.clusterName,
        role: 'policy',
        servedModelName: params.servedModelName,
        replicas: params.replicas,
        readyTimeoutMs: o.readyTimeoutMs,
        pollMs: o.pollMs,
        tunnelVia: o.tunnelVia,
        log: o.log,
        onState: (st) => ctx.progress(st.message),
      });
      session = s;
      await s.submit(spec);
      try {
        const replicas = await s.waitReady(ctx.signal);
        return { servedModelName: params.servedModelName, baseUrls: replicas.map((r) => r.baseUrl), jobId: s.jobId };
      } catch (e) {
        return serveFailure(s, e, o.log);
      }
    },
    async release() {
      await session?.stop();
      session = undefined;
    },
  };
}

/** Each result into the index file (checkpointEvals.ts). */
export function indexRecorder(file: string): CheckpointSteps['record'] {
  return async (c, e) => {
    await recordCheckpointEval(file, c.runKey, e);
  };
}
