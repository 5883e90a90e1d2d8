/**
 * `codedance kernels start|status|stop`: a kernel-hosts job (core/serve/kernelHostsJob.ts): Jupyter
 * Servers on a cluster's CPU nodes that run an eval's kernels, sandboxed there as here where the
 * node allows it. `start` submits it, waits until every host answers through its SSH tunnel,
 * prints the hosts and leaves the job running for `codedance eval --kernel-hosts cluster:NAME`.
 */
import { parseArgs } from 'node:util';
import { createBackend, renderReview, type ClusterProfile, type JobBackend } from '../core/jobs';
import { findKernelHostsJob, kernelHostsSettings, KernelHostsSession, type KernelHostInfo } from '../core/serve/KernelHostsSession';
import { buildKernelHostsJob, kernelHostsDefaults, type KernelHostsParams } from '../core/serve/kernelHostsJob';
import { kernelHostsKey, kernelHostsToken, newNonce } from '../core/serve/kernelHostsToken';
import { rayJumpConnection } from '../core/serve';
import { CliError, EXIT } from './errors';
import { jobsErrorToCli, pickProfile } from './jobs';

export const KERNELS_USAGE = `usage: codedance kernels <command> [options]

commands:
  start            submit a kernel-hosts job (a Jupyter Server per task on the cluster's CPU nodes), wait
                   until every host answers through its SSH tunnel, print them; the job keeps running
                   (codedance eval --kernel-hosts cluster:NAME uses it) until 'kernels stop' or its --time
  status [JOB_ID]  its hosts: where they listen, the sandbox each applies, whether they answer
  stop   [JOB_ID]  stop it
  (without JOB_ID: the newest kernel-hosts job of yours on the cluster)

cluster: --cluster NAME | --clusters FILE | --workspace-profiles | --ray URL | --ssh [USER@]HOST[:PORT] [--identity FILE]
         [--jobs-dir DIR]   (as for 'codedance jobs')

start options (defaults in brackets):
  --tasks N            Jupyter Servers (Slurm tasks) [2]        --cpus-per-task C   [4]
  --capacity K         kernels at once per host [C]            --python PATH       the cluster's Python [python3]
  --no-sandbox         kernels unsandboxed there                --require-sandbox   a host without bubblewrap fails
  --network            let the kernels reach the network        --memory-limit MB   per kernel [automatic, as here]
  --pass-env NAME      a variable the kernels may see (repeatable)
  --time D-HH:MM:SS    --partition P    --name NAME [codedance-kernels]    --port P (Ray: first port) [18990]
  --ready-timeout SECONDS [300]   --dry-run (print the job)   --json (one line with jobId and hosts)

The servers' token is made here from a key (CODEDANCE_KERNEL_HOSTS_KEY, else ~/.codedance/kernel-hosts.key,
made on first use) and reaches the job only in its environment: never in its script, its log or a file.

exit codes: 0 ok, 2 bad usage, 5 the cluster or a host failed (the message says how), 6 no such job, 130 interrupted`;

const str = { type: 'string' } as const;
const KERNELS_OPTIONS = {
  cluster: str,
  clusters: str,
  'workspace-profiles': { type: 'boolean', default: false },
  ray: str,
  ssh: str,
  identity: str,
  'jobs-dir': str,
  tasks: str,
  'cpus-per-task': str,
  capacity: str,
  python: str,
  'no-sandbox': { type: 'boolean', default: false },
  'require-sandbox': { type: 'boolean', default: false },
  network: { type: 'boolean', default: false },
  'memory-limit': str,
  'pass-env': { type: 'string', multiple: true },
  time: str,
  partition: str,
  name: str,
  port: str,
  'ready-timeout': str,
  'dry-run': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} as const;

type KernelsFlags = ReturnType<typeof parseKernelsArgs>['values'];

function parseKernelsArgs(rest: string[]) {
  try {
    return parseArgs({ args: rest, allowPositionals: true, options: KERNELS_OPTIONS });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${KERNELS_USAGE}`, EXIT.usage);
  }
}

function whole(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new CliError(`--${name} must be a whole number, got '${v}'`, EXIT.usage);
  return Number(v);
}

/** A new job's settings from the flags (shared with eval's --kernel-host-* flags). */
export function kernelHostsParams(v: KernelsFlags): Partial<KernelHostsParams> {
  if (v['no-sandbox'] && v['require-sandbox']) throw new CliError('--no-sandbox and --require-sandbox contradict each other', EXIT.usage);
  const passEnv = (v['pass-env'] ?? [])
    .flatMap((n) => n.split(','))
    .map((n) => n.trim())
    .filter(Boolean);
  const p: Partial<KernelHostsParams> = {
    ...(v.tasks !== undefined && { tasks: whole(v.tasks, 'tasks') }),
    ...(v['cpus-per-task'] !== undefined && { cpusPerTask: whole(v['cpus-per-task'], 'cpus-per-task') }),
    ...(v.capacity !== undefined && { capacity: whole(v.capacity, 'capacity') }),
    ...(v.python !== undefined && { python: v.python }),
    ...(v['memory-limit'] !== undefined && { memoryLimitMb: whole(v['memory-limit'], 'memory-limit') }),
    ...(v.time !== undefined && { timeLimit: v.time }),
    ...(v.partition !== undefined && { partition: v.partition }),
    ...(v.name !== undefined && { name: v.name }),
    ...(v.port !== undefined && { port: whole(v.port, 'port') }),
    sandbox: v['no-sandbox'] ? 'off' : v['require-sandbox'] ? 'on' : 'auto',
    network: v.network === true,
    passEnv,
  };
  return p;
}

/** The cluster's secrets from the environment, as for `codedance jobs`. */
export function clusterSecrets() {
  return {
    token: process.env.CODEDANCE_RAY_TOKEN,
    passphrase: process.env.CODEDANCE_SSH_PASSPHRASE,
    password: process.env.CODEDANCE_SSH_PASSWORD,
  };
}

export async function runKernels(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || ['-h', '--help', 'help'].includes(sub)) {
    console.log(KERNELS_USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (!['start', 'status', 'stop'].includes(sub)) throw new CliError(`unknown kernels command '${sub}'.\n\n${KERNELS_USAGE}`, EXIT.usage);
  const { values: v, positionals } = parseKernelsArgs(rest);
  if (positionals.length > (sub === 'start' ? 0 : 1))
    throw new CliError(`codedance kernels ${sub}: unexpected '${positionals.join(' ')}'`, EXIT.usage);
  let profile: ClusterProfile;
  try {
    profile = pickProfile(v);
  } catch (e) {
    jobsErrorToCli(e);
  }
  const secrets = clusterSecrets();
  const backend = createBackend(profile, secrets);
  const tunnelVia = profile.kind === 'ray' ? rayJumpConnection(profile, secrets) : undefined;
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const c = { profile, backend, tunnelVia, signal: ac.signal, v };
    if (sub === 'start') return await start(c);
    return await onJob(sub, positionals[0], c);
  } catch (e) {
    return jobsErrorToCli(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    tunnelVia?.close();
    await backend.dispose();
  }
}

interface Cluster {
  profile: ClusterProfile;
  backend: JobBackend;
  tunnelVia?: ReturnType<typeof rayJumpConnection>;
  signal: AbortSignal;
  v: KernelsFlags;
}

const err = (line: string) => process.stderr.write(`${line}\n`);

function readyTimeoutMs(v: KernelsFlags): number {
  return (whole(v['ready-timeout'], 'ready-timeout') ?? 300) * 1000;
}

async function start({ profile, backend, tunnelVia, signal, v }: Cluster): Promise<number> {
  const nonce = newNonce();
  let spec;
  try {
    spec = buildKernelHostsJob(kernelHostsDefaults({ ...kernelHostsParams(v), nonce }), profile.kind);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.usage);
  }
  if (v['dry-run']) {
    process.stdout.write((await renderReview(backend, spec)).text);
    return EXIT.ok;
  }
  const token = kernelHostsToken(kernelHostsKey(), nonce);
  const session = new KernelHostsSession({
    backend,
    clusterName: profile.name,
    token,
    tunnelVia,
    readyTimeoutMs: readyTimeoutMs(v),
    log: err,
  });
  const id = await session.submit(spec);
  err(`codedance: kernel-hosts job ${id} submitted to ${profile.name}; waiting for its hosts (Ctrl-C stops it)`);
  try {
    const hosts = await session.waitReady(signal);
    printHosts(v, profile.name, id, hosts);
    await session.detach();
    return EXIT.ok;
  } catch (e) {
    await session
      .stop()
      .catch((stopErr: Error) =>
        err(
          `codedance: job ${id} may still be running (stopping it failed: ${stopErr.message}); stop it with 'codedance kernels stop ${id}'`,
        ),
      );
    if (signal.aborted) return EXIT.cancelled;
    throw e;
  }
}

/** `status` / `stop`: the job named, else the newest kernel-hosts job of the cluster. */
async function onJob(sub: string, id: string | undefined, { profile, backend, tunnelVia, signal, v }: Cluster): Promise<number> {
  const job = id ? await backend.status(id) : await findKernelHostsJob(backend, v.name);
  if (!job) {
    console.log(`no kernel-hosts job is running on ${profile.name}`);
    return sub === 'stop' ? EXIT.ok : EXIT.notFound;
  }
  if (sub === 'stop') {
    const stopped = await backend.stop(job.id);
    console.log(stopped ? `stopping kernel-hosts job ${job.id}` : `kernel-hosts job ${job.id} was not running`);
    return EXIT.ok;
  }
  if (job.status !== 'RUNNING') {
    console.log(`kernel-hosts job ${job.id} is ${job.rawStatus}${job.message ? ` (${job.message})` : ''}: no host to reach`);
    return job.status === 'PENDING' ? EXIT.ok : EXIT.noAnswer;
  }
  const settings = await kernelHostsSettings(backend, job);
  if (!settings.nonce) throw new CliError(`job ${job.id} is not a kernel-hosts job (its script has no KH_NONCE)`, EXIT.usage);
  const token = kernelHostsToken(kernelHostsKey(), settings.nonce);
  const session = new KernelHostsSession({ backend, clusterName: profile.name, token, tunnelVia, readyTimeoutMs: 15_000, pollMs: 300 });
  session.attach(job.id);
  try {
    const hosts = await session.waitReady(signal);
    const answers = await Promise.all(hosts.map((h) => session.answers(h.index, 3000)));
    printHosts(v, profile.name, job.id, hosts, answers);
    return answers.every(Boolean) ? EXIT.ok : EXIT.noAnswer;
  } finally {
    await session.detach();
  }
}

function printHosts(v: KernelsFlags, cluster: string, jobId: string, hosts: KernelHostInfo[], answers?: boolean[]): void {
  if (v.json) {
    const list = hosts.map(({ index, host, port, sandbox, capacity }, i) => ({
      index,
      host,
      port,
      sandbox,
      capacity,
      ...(answers ? { answers: answers[i] } : {}),
    }));
    console.log(JSON.stringify({ jobId, cluster, hosts: list }));
    return;
  }
  for (const [i, h] of hosts.entries())
    console.log(
      `host ${h.index}: ${h.host}:${h.port}  ${h.capacity} kernels  ${h.sandbox}${answers ? (answers[i] ? '  answers' : '  DOES NOT ANSWER') : ''}`,
    );
  console.log(
    `kernel-hosts job ${jobId} on ${cluster}: ${hosts.length} host(s), ${hosts.reduce((n, h) => n + h.capacity, 0)} kernels at once`,
  );
  console.log(`e.g. codedance eval … --kernel-hosts cluster:${cluster}   (stop it: codedance kernels stop ${jobId} --cluster ${cluster})`);
}
