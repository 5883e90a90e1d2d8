/**
 * `codedance train eval-checkpoint` / `serve-checkpoint`: a checkpoint of an RL job merged into a
 * Hugging Face model by a job on the same cluster (unless merged), served with the serve flow, and
 * (eval-checkpoint) evaluated on the files the run validates on (its data.val_files, copied here
 * from the cluster) or on --data FILE; each result is recorded in <save-path>/checkpoint-evals.json,
 * where the editor's run view finds it (a point at the checkpoint's step). The steps are
 * src/core/runs/evaluateCheckpoint.ts's; the eval is `codedance eval` itself, the serving
 * `codedance serve start` itself (serve-checkpoint) or its ServeSession (eval-checkpoint).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { evalPaths, judgeEndpointsFrom, type Stats } from '../core/eval';
import { createBackend, type ClusterProfile, type JobBackend } from '../core/jobs';
import { rayJumpConnection } from '../core/serve';
import { checkpointEvalsFile } from '../core/runs/checkpointEvals';
import { CheckpointError, isCancelled } from '../core/runs/checkpointErrors';
import {
  clusterData,
  clusterMergeSteps,
  indexRecorder,
  localData,
  resolveCheckpoint,
  sessionServeSteps,
  trainingSetup,
} from '../core/runs/checkpointSteps';
import {
  checkpointModelName,
  evaluateCheckpoint,
  mergeCheckpoint,
  type ChainEvent,
  type CheckpointRef,
  type CheckpointSteps,
  type MergeSteps,
} from '../core/runs/evaluateCheckpoint';
import { jobRun, type JobRun } from '../core/runs/jobRun';
import { listCheckpoints } from '../core/runs/checkpoints';
import { localRunFiles } from '../core/runs/runFiles';
import { CliError, EXIT } from './errors';
import { runEvalCli } from './eval';
import { jobsErrorToCli, parseEnvArgs, pickProfile } from './jobs';
import { onInterrupt } from './interrupt';
import { runServe } from './serve';

export const TRAIN_CHECKPOINT_USAGE = `  eval-checkpoint --job ID [--step N] [--data FILE]
                            merge the checkpoint (a job on the run's cluster, unless merged), serve it,
                            evaluate it on the run's data.val_files (copied here) or --data FILE, record
                            the result in <save-path>/checkpoint-evals.json (the run view's chart), stop
                            the serve job (--keep-serving leaves it)
  serve-checkpoint --job ID [--step N]
                            merge it (unless merged), then 'codedance serve start' on it (until Ctrl-C)
    --step N                the checkpoint (global_step_N; default: the last one saved)
    --save-path DIR [./codedance-eval]   --cache-dir DIR (copies of the val files) [~/.cache/codedance/run-data]
    eval: --num-workers N --limit N --judge-url URL --judge-model NAME --no-judge --python PATH --protocol P
    serve: --replicas N --tp N --max-model-len N --gpu-memory-utilization F --vllm-arg FLAG --time T
           --env KEY=VALUE (the serve job) --ready-timeout SECONDS
    merge: --merge-env KEY=VALUE (the merge job, e.g. PYTHONPATH)   --poll SECONDS [5] (job state checks)`;

const str = { type: 'string' } as const;
const many = { type: 'string', multiple: true } as const;
const flag = { type: 'boolean', default: false } as const;
const OPTIONS = {
  job: str,
  cluster: str,
  clusters: str,
  'workspace-profiles': flag,
  ray: str,
  ssh: str,
  identity: str,
  'jobs-dir': str,
  step: str,
  data: str,
  'save-path': str,
  'cache-dir': str,
  'num-workers': str,
  limit: str,
  'judge-url': str,
  'judge-model': str,
  'no-judge': flag,
  python: str,
  protocol: str,
  replicas: str,
  tp: str,
  'max-model-len': str,
  'gpu-memory-utilization': str,
  'vllm-arg': many,
  time: str,
  env: many,
  'ready-timeout': str,
  'merge-env': many,
  poll: str,
  'keep-serving': flag,
  json: flag,
  quiet: flag,
  help: { type: 'boolean', short: 'h', default: false },
} as const;

type Flags = ReturnType<typeof parse>;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: false, options: OPTIONS }).values;
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\nusage:\n${TRAIN_CHECKPOINT_USAGE}`, EXIT.usage);
  }
}

function whole(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new CliError(`--${name} must be a whole number, got '${v}'`, EXIT.usage);
  return Number(v);
}

function seconds(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0)) throw new CliError(`--${name} must be a number of seconds > 0, got '${v}'`, EXIT.usage);
  return n;
}

/** The cluster flags again, for the commands this one hands over to (`serve start`). */
function clusterArgs(v: Flags): string[] {
  const out: string[] = [];
  for (const k of ['cluster', 'clusters', 'ray', 'ssh', 'identity', 'jobs-dir'] as const) if (v[k] !== undefined) out.push(`--${k}`, v[k]);
  if (v['workspace-profiles']) out.push('--workspace-profiles');
  return out;
}

/** What a command works on: the cluster, the job's run, the checkpoint. */
interface Target {
  profile: ClusterProfile;
  backend: JobBackend;
  run: JobRun;
  checkpoint: CheckpointRef;
  /** the run's files are on this machine (a Ray cluster here) */
  local: boolean;
}

async function target(v: Flags): Promise<Target> {
  if (!v.job) throw new CliError('give the training job: --job ID (and the cluster)', EXIT.usage);
  const profile = pickProfile(v);
  const backend = createBackend(profile, {
    token: process.env.CODEDANCE_RAY_TOKEN,
    passphrase: process.env.CODEDANCE_SSH_PASSPHRASE,
    password: process.env.CODEDANCE_SSH_PASSWORD,
  });
  try {
    const found = await jobRun(backend, v.job);
    const local =
      !found.files && profile.kind === 'ray' && /^[a-z]+:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/i.test(profile.address);
    const run = local ? { ...found, files: localRunFiles() } : found;
    let step = whole(v.step, 'step');
    if (step === undefined) {
      if (!run.files) throw new CliError(`the checkpoints of job ${v.job} cannot be listed from here: give --step N`, EXIT.usage);
      const all = await listCheckpoints(run.files, run.config.checkpointDir);
      if (!all.length) throw new CliError(`job ${v.job} has saved no checkpoint in ${run.config.checkpointDir} yet`, EXIT.usage);
      step = all[all.length - 1].step;
    }
    return { profile, backend, run, local, checkpoint: await resolveCheckpoint(run, profile.name, step) };
  } catch (e) {
    await backend.dispose();
    throw e;
  }
}

/** What would stop the eval after a merge and a serve job: said before any job starts. */
function checkEvalFlags(v: Flags): void {
  if (v.data && !existsSync(v.data)) throw new CliError(`--data ${v.data}: no such file`, EXIT.usage);
  if (!v['no-judge'] && !judgeEndpointsFrom(v['judge-url']).length)
    throw new CliError(
      'no judge endpoint: pass --judge-url URL or set LLM_AS_A_JUDGE_BASE (the seed scores with an LLM judge); or --no-judge to score by normalized exact match',
      EXIT.usage,
    );
}

/** Progress on stderr, one line per step and per change. */
function printer(quiet: boolean): (e: ChainEvent) => void {
  let last = '';
  return (e) => {
    if (quiet && e.type === 'progress') return;
    const line = e.type === 'step' ? `${e.step}: ${e.state === 'started' ? '' : `${e.state}: `}${e.message}` : `  ${e.message}`;
    if (line === last) return;
    last = line;
    process.stderr.write(`codedance: ${line}\n`);
  };
}

async function mergeSteps(v: Flags, t: Target): Promise<MergeSteps> {
  return clusterMergeSteps({
    backend: t.backend,
    clusterName: t.profile.name,
    files: t.run.files,
    pollMs: (seconds(v.poll, 'poll') ?? 5) * 1000,
    merge: {
      workingDir: t.run.config.workingDir,
      setup: await trainingSetup(t.run),
      env: parseEnvArgs(v['merge-env'] ?? []),
    },
  });
}

export async function runTrainCheckpoint(sub: 'eval-checkpoint' | 'serve-checkpoint', argv: string[]): Promise<number> {
  const v = parse(argv);
  if (v.help) {
    console.log(`usage: codedance train eval-checkpoint|serve-checkpoint [options]\n${TRAIN_CHECKPOINT_USAGE}`);
    return EXIT.ok;
  }
  if (sub === 'eval-checkpoint') checkEvalFlags(v);
  let t: Target;
  try {
    t = await target(v);
  } catch (e) {
    return failure(e);
  }
  const interrupt = onInterrupt('interrupting: stopping the job this command started (a merged model and copied files are kept)');
  try {
    return sub === 'serve-checkpoint' ? await serveIt(v, t, interrupt.signal) : await evalIt(v, t, interrupt.signal);
  } catch (e) {
    return failure(e);
  } finally {
    interrupt.dispose();
    await t.backend.dispose();
  }
}

function failure(e: unknown): number {
  if (isCancelled(e)) {
    process.stderr.write(`codedance: ${(e as Error).message}\n`);
    return EXIT.cancelled;
  }
  if (e instanceof CheckpointError)
    throw new CliError(e.message, e.code === 'no-checkpoint' || e.code === 'no-data' ? EXIT.usage : EXIT.cluster);
  return jobsErrorToCli(e);
}

/** serve-checkpoint: merged here, then `codedance serve start` on the merged folder (it keeps the tunnels until Ctrl-C). */
async function serveIt(v: Flags, t: Target, signal: AbortSignal): Promise<number> {
  const c = t.checkpoint;
  await mergeCheckpoint(c, await mergeSteps(v, t), { signal, onEvent: printer(!!v.quiet) });
  const pass = (k: keyof Flags) => (v[k] === undefined ? [] : [`--${k}`, String(v[k])]);
  const args = [
    'start',
    ...clusterArgs(v),
    '--model',
    c.mergedDir,
    '--served-model-name',
    checkpointModelName(c.label, c.step),
    ...(['replicas', 'tp', 'max-model-len', 'gpu-memory-utilization', 'time', 'ready-timeout'] as const).flatMap(pass),
    ...(v['vllm-arg'] ?? []).flatMap((a) => ['--vllm-arg', a]),
    ...(v.env ?? []).flatMap((a) => ['--env', a]),
    ...(v.json ? ['--json'] : []),
  ];
  return runServe(args);
}

function cacheDir(v: Flags): string {
  if (v['cache-dir']) return path.resolve(v['cache-dir']);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'codedance', 'run-data');
}

/** The eval flags given here, passed on to `codedance eval`. */
function evalArgs(v: Flags): string[] {
  const out: string[] = [];
  for (const k of ['num-workers', 'limit', 'judge-url', 'judge-model', 'python', 'protocol'] as const)
    if (v[k] !== undefined) out.push(`--${k}`, v[k]);
  if (v['no-judge']) out.push('--no-judge');
  if (v.quiet) out.push('--quiet');
  return out;
}

/** `codedance eval` on one dataset against the served replicas; the result from the stats file it wrote. */
function cliEvaluate(v: Flags, saveDir: string): CheckpointSteps['evaluate'] {
  return async (d, m, c) => {
    const modelName = checkpointModelName(c.label, c.step);
    const code = await runEvalCli([
      '--data-path',
      d.local,
      '--api-url',
      m.baseUrls.join(','),
      '--model-name',
      modelName,
      '--eval-model-name',
      m.servedModelName,
      '--save-path',
      saveDir,
      ...evalArgs(v),
    ]);
    const stem = path.basename(d.local).replace(/\.[^.]+$/, '');
    const paths = evalPaths(saveDir, modelName, stem);
    if (code === EXIT.cancelled) return { accuracy: 0, n: 0, evalDir: paths.dir, dataset: stem, judged: false, cancelled: true };
    if (code !== EXIT.ok) throw new CheckpointError('eval-failed', `codedance eval on ${d.local} exited ${code}`);
    const stats = JSON.parse(readFileSync(paths.datasetStats, 'utf8')) as Stats & {
      codedance: { manifest?: { judge?: { mode?: string } } };
    };
    return {
      accuracy: stats.avg_acc,
      n: stats.total_samples,
      evalDir: paths.dir,
      dataset: stem,
      judged: stats.codedance.manifest?.judge?.mode === 'llm-judge',
      cancelled: false,
    };
  };
}

/** eval-checkpoint: the whole chain; the result as lines (or one JSON line). */
async function evalIt(v: Flags, t: Target, signal: AbortSignal): Promise<number> {
  const saveDir = path.resolve(v['save-path'] ?? 'codedance-eval');
  const pollMs = (seconds(v.poll, 'poll') ?? 5) * 1000;
  const serve = sessionServeSteps({
    backend: t.backend,
    clusterName: t.profile.name,
    params: {
      ...(v.replicas !== undefined && { replicas: whole(v.replicas, 'replicas') }),
      ...(v.tp !== undefined && { tensorParallel: whole(v.tp, 'tp') }),
      ...(v['max-model-len'] !== undefined && { maxModelLen: whole(v['max-model-len'], 'max-model-len') }),
      ...(v['gpu-memory-utilization'] !== undefined && { gpuMemoryUtilization: Number(v['gpu-memory-utilization']) }),
      ...(v['vllm-arg'] && { extraArgs: v['vllm-arg'] }),
      ...(v.time && { timeLimit: v.time }),
    },
    env: parseEnvArgs(v.env ?? []),
    readyTimeoutMs: (seconds(v['ready-timeout'], 'ready-timeout') ?? 1200) * 1000,
    pollMs: Math.min(pollMs, 2000),
    tunnelVia: t.profile.kind === 'ray' ? rayJumpConnection(t.profile) : undefined,
    log: (l) => !v.quiet && process.stderr.write(`codedance: ${l}\n`),
  });
  const steps: CheckpointSteps = {
    ...(await mergeSteps(v, t)),
    ...serve,
    release: v['keep-serving'] ? undefined : serve.release,
    fetchData: v.data
      ? localData()
      : clusterData({ backend: t.backend, clusterName: t.profile.name, cacheDir: cacheDir(v), filesAreLocal: t.local }),
    evaluate: cliEvaluate(v, saveDir),
    record: indexRecorder(checkpointEvalsFile(saveDir)),
  };
  const sources = v.data ? [v.data] : t.run.config.valFiles;
  const r = await evaluateCheckpoint(t.checkpoint, sources, steps, { signal, onEvent: printer(!!v.quiet) });
  const index = checkpointEvalsFile(saveDir);
  if (v.json)
    console.log(JSON.stringify({ step: t.checkpoint.step, merged: t.checkpoint.mergedDir, served: r.served, evals: r.evals, index }));
  else {
    for (const e of r.evals) console.log(`step ${e.step}  ${e.dataset}  acc ${(e.accuracy * 100).toFixed(1)}%  n ${e.n}  ${e.evalDir}`);
    console.log(`recorded in ${index}`);
  }
  if (v['keep-serving'])
    process.stderr.write(`codedance: serve job ${r.served.jobId} keeps running (codedance serve stop ${r.served.jobId} …)\n`);
  return EXIT.ok;
}
