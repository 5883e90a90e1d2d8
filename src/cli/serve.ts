/**
 * `codedance serve ...`: a vLLM server (policy or the seed's judge) as a job on a Slurm or Ray
 * cluster, reached from this machine (Slurm: an SSH local port forward per replica). `start`
 * submits, waits until every replica answers, prints the local base URL(s) and keeps the tunnels
 * open until Ctrl-C (which stops the job unless --keep-job) or the job ends.
 */
import { parseArgs } from 'node:util';
import { createBackend, renderReview, type ClusterProfile, type JobBackend, type JobSpec } from '../core/jobs';
import { SlurmBackend } from '../core/jobs/SlurmBackend';
import {
  buildServeJob,
  judgeDefaults,
  policyDefaults,
  rayJumpConnection,
  ServeError,
  ServeSession,
  slurmServeSettings,
  type ServedReplica,
  type ServeParams,
} from '../core/serve';
import { CliError, EXIT } from './errors';
import { jobsErrorToCli, parseEnvArgs, pickProfile } from './jobs';

export const SERVE_USAGE = `usage: codedance serve <command> [options]

commands:
  start   submit a vLLM server job, wait until it answers, print its local base URL(s) and keep
          the tunnels open until Ctrl-C (stops the job unless --keep-job) or the job ends
  attach  JOB_ID   reach a serve job that already runs (tunnels until Ctrl-C; the job keeps running)
  status  JOB_ID   the job and where its replicas listen
  stop    JOB_ID   stop the job

cluster: --cluster NAME | --clusters FILE | --workspace-profiles | --ray URL | --ssh [USER@]HOST[:PORT] [--identity FILE]
         [--jobs-dir DIR]   (as for 'codedance jobs')

start options (defaults in brackets):
  --role policy|judge         [policy]; judge = the seed's: Qwen/Qwen2.5-72B-Instruct as "judge" on 18901, TP 8
  --model PATH|HUB_ID         a checkpoint folder on the cluster or a hub id (policy: required)
  --served-model-name NAME    [codedance-7b | judge]    --port P [8000 | 18901]   --replicas N [1]
  --tp N (GPUs per replica)   --max-model-len N [32768] --gpu-memory-utilization F [0.9 | 0.8]
  --protocol codedance|codedance-tools (tools: --enable-auto-tool-choice --tool-call-parser hermes)
  --images N (--limit-mm-per-prompt)   --vllm-arg FLAG (repeatable)   --time D-HH:MM:SS   --env KEY=VALUE
  --ready-timeout SECONDS [1200]   --dry-run (print the job)   --keep-job (Ctrl-C leaves the job running)
  --json (one JSON line when ready)

exit codes: 0 ok, 2 bad usage, 5 the cluster or the server failed (the message says how), 6 no such job, 130 interrupted`;

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) throw new CliError(`--${name} must be a number, got '${v}'`, EXIT.usage);
  return Number(v);
}

function serveParams(v: Record<string, string | boolean | string[] | undefined>): ServeParams {
  const role = (v.role as string | undefined) ?? 'policy';
  if (role !== 'policy' && role !== 'judge') throw new CliError(`--role must be policy or judge, got '${role}'`, EXIT.usage);
  const o: Partial<ServeParams> = {
    ...(v.model !== undefined && { modelPath: v.model as string }),
    ...(v['served-model-name'] !== undefined && { servedModelName: v['served-model-name'] as string }),
    ...(v.name !== undefined && { name: v.name as string }),
    ...(v.port !== undefined && { port: num(v.port as string, 'port') }),
    ...(v.replicas !== undefined && { replicas: num(v.replicas as string, 'replicas') }),
    ...(v.tp !== undefined && { tensorParallel: num(v.tp as string, 'tp') }),
    ...(v['max-model-len'] !== undefined && { maxModelLen: num(v['max-model-len'] as string, 'max-model-len') }),
    ...(v['gpu-memory-utilization'] !== undefined && {
      gpuMemoryUtilization: num(v['gpu-memory-utilization'] as string, 'gpu-memory-utilization'),
    }),
    ...(v.protocol !== undefined && { protocol: v.protocol as ServeParams['protocol'] }),
    ...(v.images !== undefined && { imagesPerPrompt: num(v.images as string, 'images') }),
    ...(v['vllm-arg'] !== undefined && { extraArgs: v['vllm-arg'] as string[] }),
    ...(v.time !== undefined && { timeLimit: v.time as string }),
  };
  return role === 'judge' ? judgeDefaults(o) : policyDefaults(o);
}

function waitForSignal(): { promise: Promise<void>; dispose: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  const on = () => resolve();
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return { promise, dispose: () => (process.off('SIGINT', on), process.off('SIGTERM', on)) };
}

const str = { type: 'string' } as const;
const SERVE_OPTIONS = {
  cluster: str,
  clusters: str,
  'workspace-profiles': { type: 'boolean', default: false },
  ray: str,
  ssh: str,
  identity: str,
  'jobs-dir': str,
  role: str,
  model: str,
  'served-model-name': str,
  name: str,
  port: str,
  replicas: str,
  tp: str,
  'max-model-len': str,
  'gpu-memory-utilization': str,
  protocol: str,
  images: str,
  'vllm-arg': { type: 'string', multiple: true },
  time: str,
  env: { type: 'string', multiple: true },
  'ready-timeout': str,
  'dry-run': { type: 'boolean', default: false },
  'keep-job': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

function parseServeArgs(rest: string[]) {
  try {
    return parseArgs({ args: rest, allowPositionals: true, options: SERVE_OPTIONS });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${SERVE_USAGE}`, EXIT.usage);
  }
}

type ServeFlags = ReturnType<typeof parseServeArgs>['values'];

/** The cluster a command works on, and how it says things on stderr. */
interface ServeCluster {
  profile: ClusterProfile;
  backend: JobBackend;
  tunnelVia?: ReturnType<typeof rayJumpConnection>;
  err: (line: string) => void;
}

/** A session to wait on: a job submitted here (start) or one that already runs (attach, status). */
interface Followed {
  session: ServeSession;
  modelName: string;
}

export async function runServe(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || ['-h', '--help', 'help'].includes(sub)) {
    console.log(SERVE_USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!['start', 'attach', 'status', 'stop'].includes(sub))
    throw new CliError(`unknown serve command '${sub}'.\n\n${SERVE_USAGE}`, EXIT.usage);
  const { values: v, positionals } = parseServeArgs(rest);
  if (sub !== 'start' && positionals.length !== 1) throw new CliError(`codedance serve ${sub} needs one JOB_ID`, EXIT.usage);
  let profile: ClusterProfile;
  try {
    profile = pickProfile(v);
  } catch (e) {
    jobsErrorToCli(e);
  }
  const secrets = {
    token: process.env.CODEDANCE_RAY_TOKEN,
    passphrase: process.env.CODEDANCE_SSH_PASSPHRASE,
    password: process.env.CODEDANCE_SSH_PASSWORD,
  };
  const backend = createBackend(profile, secrets);
  const tunnelVia = profile.kind === 'ray' ? rayJumpConnection(profile, secrets) : undefined;
  const c: ServeCluster = { profile, backend, tunnelVia, err: (line: string) => process.stderr.write(`${line}\n`) };
  try {
    if (sub === 'stop') {
      const stopped = await backend.stop(positionals[0]);
      console.log(stopped ? `stopping ${positionals[0]}` : `${positionals[0]} was not running`);
      return EXIT.ok;
    }
    const readyTimeoutMs = (num(v['ready-timeout'], 'ready-timeout') ?? 1200) * 1000;
    const followed = sub === 'start' ? await start(v, c, readyTimeoutMs) : await attach(sub, positionals[0], v, c, readyTimeoutMs);
    if (typeof followed === 'number') return followed;
    return await untilDone(sub, v, c, followed);
  } catch (e) {
    return jobsErrorToCli(e);
  } finally {
    tunnelVia?.close();
    await backend.dispose();
  }
}

/** `start`: the job built from the flags, printed (--dry-run: an exit code) or submitted. */
async function start(v: ServeFlags, c: ServeCluster, readyTimeoutMs: number): Promise<Followed | number> {
  const { profile, backend, err } = c;
  const params = serveParams(v);
  let spec: JobSpec;
  try {
    spec = buildServeJob(params, profile.kind);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.usage);
  }
  Object.assign(spec.env, parseEnvArgs(v.env ?? []));
  if (v['dry-run']) {
    process.stdout.write((await renderReview(backend, spec)).text);
    return EXIT.ok;
  }
  const session = new ServeSession({
    backend,
    clusterName: profile.name,
    role: params.role,
    servedModelName: params.servedModelName,
    replicas: params.replicas,
    readyTimeoutMs,
    tunnelVia: c.tunnelVia,
    log: err,
  });
  const id = await session.submit(spec);
  err(`codedance: serve job ${id} submitted to ${profile.name}; waiting for ${params.servedModelName} (Ctrl-C stops it)`);
  return { session, modelName: params.servedModelName };
}

/** `attach` / `status` JOB_ID: the running job's session (status: a quick look; a job not running is said, with an exit code). */
async function attach(sub: string, id: string, v: ServeFlags, c: ServeCluster, readyTimeoutMs: number): Promise<Followed | number> {
  const { profile, backend, err } = c;
  const found = backend instanceof SlurmBackend ? await slurmServeSettings(backend, id) : {};
  const job = await backend.status(id);
  if (sub === 'status' && job.status !== 'RUNNING') {
    console.log(`job ${id} is ${job.rawStatus}${job.message ? ` (${job.message})` : ''}: no replica to reach`);
    return job.status === 'PENDING' ? EXIT.ok : EXIT.noAnswer;
  }
  const name = v['served-model-name'] ?? found.servedModelName ?? job.metadata?.served_model_name;
  if (!name) throw new CliError(`job ${id}: its served model name is not known: pass --served-model-name`, EXIT.usage);
  const quick = sub === 'status';
  const session = new ServeSession({
    backend,
    clusterName: profile.name,
    role: 'policy',
    servedModelName: name,
    replicas: found.replicas,
    tunnelVia: c.tunnelVia,
    pollMs: quick ? 200 : undefined,
    readyTimeoutMs: quick ? 1 : readyTimeoutMs,
    log: quick ? undefined : err,
  });
  session.attach(id);
  return { session, modelName: name };
}

/** Waits for the replicas, prints them, then (but for `status`) keeps the tunnels open until Ctrl-C or the job's end. */
async function untilDone(sub: string, v: ServeFlags, c: ServeCluster, { session, modelName }: Followed): Promise<number> {
  const signal = waitForSignal();
  const ac = new AbortController();
  void signal.promise.then(() => ac.abort());
  const stopsJob = sub === 'start' && !v['keep-job'];
  try {
    let replicas: ServedReplica[];
    try {
      replicas = await session.waitReady(ac.signal);
    } catch (e) {
      return await notReady(e, session, stopsJob, c.err);
    }
    printReplicas(v, { jobId: session.jobId, cluster: c.profile.name, model: modelName }, replicas);
    if (sub === 'status') {
      await session.detach();
      return EXIT.ok;
    }
    c.err(`codedance: tunnels open; Ctrl-C to ${stopsJob ? 'stop the job' : 'close them (the job keeps running)'}`);
    const ended = await Promise.race([session.watch(), signal.promise.then(() => undefined)]);
    if (ended) {
      c.err(`codedance: ${ended.message}`);
      return EXIT.ok;
    }
    if (stopsJob) await session.stop();
    else await session.detach();
    return EXIT.ok;
  } finally {
    signal.dispose();
  }
}

/** Cancelled: exit 130 (the job stopped if this command owns it); failed: the job stopped if it cannot be used, and the error thrown. */
async function notReady(e: unknown, session: ServeSession, stopsJob: boolean, err: (line: string) => void): Promise<number> {
  if (e instanceof ServeError && e.failure === 'cancelled') {
    if (stopsJob) await session.stop();
    return EXIT.cancelled;
  }
  if (stopsJob && e instanceof ServeError && e.failure !== 'job-ended') {
    err(`codedance: stopping job ${session.jobId} (it cannot be used)`);
    // the job's own failure is what the user must see (thrown below); a failed stop is said
    // too, since the job may still hold its GPUs
    await session
      .stop()
      .catch((stopErr: Error) =>
        err(
          `codedance: job ${session.jobId} may still be running (stopping it failed: ${stopErr.message}); stop it with 'codedance serve stop ${session.jobId}' and the same cluster options`,
        ),
      );
  }
  throw e;
}

function printReplicas(v: ServeFlags, what: { jobId?: string; cluster: string; model: string }, replicas: ServedReplica[]): void {
  const urls = replicas.map((r) => r.baseUrl);
  if (v.json) console.log(JSON.stringify({ jobId: what.jobId, cluster: what.cluster, model: what.model, baseUrls: urls, replicas }));
  else {
    for (const r of replicas) console.log(`replica ${r.index}: ${r.baseUrl}  →  ${r.host}:${r.port} (in the cluster: ${r.clusterUrl})`);
    console.log(`base URL(s): ${urls.join(',')}`);
    console.log(`e.g. codedance ask IMAGE "question" --base-url ${urls.join(',')}`);
  }
}
