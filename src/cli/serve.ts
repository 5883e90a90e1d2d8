/**
 * `codedance serve ...`: a vLLM server (policy or the seed's judge) as a job on a Slurm or Ray
 * cluster, reached from this machine (Slurm: an SSH local port forward per replica). `start`
 * submits, waits until every replica answers, prints the local base URL(s) and keeps the tunnels
 * open until Ctrl-C (which stops the job unless --keep-job) or the job ends.
 */
import { parseArgs } from 'node:util';
import { createBackend, renderReview, type ClusterProfile, type JobSpec } from '../core/jobs';
import { SlurmBackend } from '../core/jobs/SlurmBackend';
import { buildServeJob, judgeDefaults, policyDefaults, rayJumpConnection, ServeError, ServeSession, slurmServeSettings, type ServeParams } from '../core/serve';
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
    ...(v['gpu-memory-utilization'] !== undefined && { gpuMemoryUtilization: num(v['gpu-memory-utilization'] as string, 'gpu-memory-utilization') }),
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

export async function runServe(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || ['-h', '--help', 'help'].includes(sub)) {
    console.log(SERVE_USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!['start', 'attach', 'status', 'stop'].includes(sub)) throw new CliError(`unknown serve command '${sub}'.\n\n${SERVE_USAGE}`, EXIT.usage);
  let parsed;
  try {
    const s = { type: 'string' } as const;
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        cluster: s, clusters: s, 'workspace-profiles': { type: 'boolean', default: false }, ray: s, ssh: s, identity: s, 'jobs-dir': s,
        role: s, model: s, 'served-model-name': s, name: s, port: s, replicas: s, tp: s, 'max-model-len': s, 'gpu-memory-utilization': s,
        protocol: s, images: s, 'vllm-arg': { type: 'string', multiple: true }, time: s, env: { type: 'string', multiple: true },
        'ready-timeout': s, 'dry-run': { type: 'boolean', default: false }, 'keep-job': { type: 'boolean', default: false }, json: { type: 'boolean', default: false },
      },
    });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${SERVE_USAGE}`, EXIT.usage);
  }
  const { values: v, positionals } = parsed;
  if (sub !== 'start' && positionals.length !== 1) throw new CliError(`codedance serve ${sub} needs one JOB_ID`, EXIT.usage);
  let profile: ClusterProfile;
  try {
    profile = pickProfile(v);
  } catch (e) {
    jobsErrorToCli(e);
  }
  const secrets = { token: process.env.CODEDANCE_RAY_TOKEN, passphrase: process.env.CODEDANCE_SSH_PASSPHRASE, password: process.env.CODEDANCE_SSH_PASSWORD };
  const backend = createBackend(profile, secrets);
  const tunnelVia = profile.kind === 'ray' ? rayJumpConnection(profile, secrets) : undefined;
  const err = (line: string) => process.stderr.write(`${line}\n`);
  try {
    if (sub === 'stop') {
      const stopped = await backend.stop(positionals[0]);
      console.log(stopped ? `stopping ${positionals[0]}` : `${positionals[0]} was not running`);
      return EXIT.ok;
    }
    let params: ServeParams | undefined;
    let session: ServeSession;
    let modelName: string;
    const readyTimeoutMs = (num(v['ready-timeout'], 'ready-timeout') ?? 1200) * 1000;
    if (sub === 'start') {
      params = serveParams(v);
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
      modelName = params.servedModelName;
      session = new ServeSession({ backend, clusterName: profile.name, role: params.role, servedModelName: params.servedModelName, replicas: params.replicas, readyTimeoutMs, tunnelVia, log: err });
      const id = await session.submit(spec);
      err(`codedance: serve job ${id} submitted to ${profile.name}; waiting for ${params.servedModelName} (Ctrl-C stops it)`);
    } else {
      const id = positionals[0];
      const found = backend instanceof SlurmBackend ? await slurmServeSettings(backend, id) : {};
      const job = await backend.status(id);
      if (sub === 'status' && job.status !== 'RUNNING') {
        console.log(`job ${id} is ${job.rawStatus}${job.message ? ` (${job.message})` : ''}: no replica to reach`);
        return job.status === 'PENDING' ? EXIT.ok : EXIT.noAnswer;
      }
      const name = (v['served-model-name'] as string | undefined) ?? found.servedModelName ?? job.metadata?.served_model_name;
      if (!name) throw new CliError(`job ${id}: its served model name is not known: pass --served-model-name`, EXIT.usage);
      modelName = name;
      session = new ServeSession({ backend, clusterName: profile.name, role: 'policy', servedModelName: name, replicas: found.replicas, tunnelVia, pollMs: sub === 'status' ? 200 : undefined, readyTimeoutMs: sub === 'status' ? 1 : readyTimeoutMs, log: sub === 'status' ? undefined : err });
      session.attach(id);
    }
    const signal = waitForSignal();
    const ac = new AbortController();
    void signal.promise.then(() => ac.abort());
    try {
      let replicas;
      try {
        replicas = await session.waitReady(ac.signal);
      } catch (e) {
        if (e instanceof ServeError && e.failure === 'cancelled') {
          if (sub === 'start' && !v['keep-job']) await session.stop();
          return EXIT.cancelled;
        }
        if (sub === 'start' && e instanceof ServeError && e.failure !== 'job-ended' && !v['keep-job']) {
          err(`codedance: stopping job ${session.jobId} (it cannot be used)`);
          await session.stop().catch(() => undefined);
        }
        throw e;
      }
      const urls = replicas.map((r) => r.baseUrl);
      if (v.json) console.log(JSON.stringify({ jobId: session.jobId, cluster: profile.name, model: modelName, baseUrls: urls, replicas }));
      else {
        for (const r of replicas) console.log(`replica ${r.index}: ${r.baseUrl}  →  ${r.host}:${r.port} (in the cluster: ${r.clusterUrl})`);
        console.log(`base URL(s): ${urls.join(',')}`);
        console.log(`e.g. codedance ask IMAGE "question" --base-url ${urls.join(',')}`);
      }
      if (sub === 'status') {
        await session.detach();
        return EXIT.ok;
      }
      err(`codedance: tunnels open; Ctrl-C to ${sub === 'start' && !v['keep-job'] ? 'stop the job' : 'close them (the job keeps running)'}`);
      const ended = await Promise.race([session.watch(), signal.promise.then(() => undefined)]);
      if (ended) {
        err(`codedance: ${ended.message}`);
        return EXIT.ok;
      }
      if (sub === 'start' && !v['keep-job']) await session.stop();
      else await session.detach();
      return EXIT.ok;
    } finally {
      signal.dispose();
    }
  } catch (e) {
    return jobsErrorToCli(e);
  } finally {
    tunnelVia?.close();
    await backend.dispose();
  }
}
