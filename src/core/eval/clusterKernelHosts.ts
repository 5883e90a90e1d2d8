/**
 * The hosts of `--kernel-hosts`: this machine's kernel pool (`local`, or `local:N` kernels at
 * once), and the Jupyter Servers of a kernel-hosts job on a cluster (`cluster:NAME`, or
 * `cluster:NAME:JOB_ID`): a job already running there (started by `codedance kernels start`) is
 * used, else one is started for the eval and stopped when it ends.
 */
import os from 'node:os';
import type { JobBackend } from '../jobs/types';
import { KernelPool } from '../kernel/pool';
import { startRemoteKernelSession } from '../kernel/remote';
import { localCellHost, type CellHost } from '../kernel/sandboxNotice';
import type { JupyterKernelSession } from '../kernel/session';
import type { KernelSession, KernelTuning } from '../kernel/types';
import { buildKernelHostsJob, kernelHostsDefaults, type KernelHostsParams } from '../serve/kernelHostsJob';
import { findKernelHostsJob, kernelHostsSettings, KernelHostsSession, type KernelHostInfo } from '../serve/KernelHostsSession';
import { kernelHostsToken, newNonce } from '../serve/kernelHostsToken';
import type { SshConnection } from '../jobs/SshConnection';
import { JobsError } from '../jobs/errors';
import type { KernelHost } from './kernelHosts';

export type KernelHostSpec = { kind: 'local'; capacity?: number } | { kind: 'cluster'; cluster: string; jobId?: string };

/** `local,local:4,cluster:hpc,cluster:hpc:4711` → the hosts asked for (a bad entry throws a config error naming it). */
export function parseKernelHosts(text: string): KernelHostSpec[] {
  const out: KernelHostSpec[] = [];
  for (const raw of text.split(',').map((s) => s.trim())) {
    if (!raw) continue;
    const [kind, a, b, ...rest] = raw.split(':');
    const bad = (why: string) =>
      new JobsError('config', `--kernel-hosts: '${raw}' ${why}: write local, local:N, cluster:NAME or cluster:NAME:JOB_ID`);
    if (kind === 'local') {
      if (b !== undefined || (a !== undefined && !/^[1-9]\d*$/.test(a))) throw bad('is not local or local:N (N kernels at once)');
      out.push({ kind: 'local', ...(a ? { capacity: Number(a) } : {}) });
    } else if (kind === 'cluster') {
      if (!a || rest.length || (b !== undefined && !/^[A-Za-z0-9_.-]+$/.test(b))) throw bad('names no cluster profile');
      out.push({ kind: 'cluster', cluster: a, ...(b ? { jobId: b } : {}) });
    } else throw bad('is neither local nor cluster:NAME');
  }
  if (!out.length) throw new JobsError('config', '--kernel-hosts: no host: give local and/or cluster:NAME');
  if (out.filter((h) => h.kind === 'local').length > 1) throw new JobsError('config', '--kernel-hosts: local is named twice');
  return out;
}

/** This machine's kernels: a pool of its own (kernels started ahead: at most 2), up to `capacity` at once. */
export function localKernelHost(o: {
  python: string;
  capacity?: number;
  tuning?: Pick<KernelTuning, 'sandbox' | 'network' | 'memoryLimitMb' | 'passEnv'>;
}): KernelHost {
  const capacity = o.capacity ?? Math.max(1, os.cpus().length);
  let pool: KernelPool | undefined;
  return {
    name: 'local',
    capacity,
    cell: localCellHost(o.tuning?.sandbox, o.tuning?.network),
    start: (signal) => (pool ??= new KernelPool({ python: o.python, size: Math.min(capacity, 2), ...o.tuning })).acquire(signal),
    release: (k) => (pool ? pool.release(k as JupyterKernelSession) : k.dispose()),
    answers: async () => true,
    dispose: async () => {
      await pool?.dispose();
    },
  };
}

/** One Jupyter Server of a kernel-hosts job: a kernel of its `codedance` kernelspec per sample. */
export function clusterKernelHost(
  session: KernelHostsSession,
  info: KernelHostInfo,
  o: { cluster: string; token: string; network: boolean },
): KernelHost {
  const cell: CellHost = {
    kind: 'cluster',
    cluster: o.cluster,
    host: `${info.host}:${info.port}`,
    sandboxed: info.sandbox === 'sandboxed',
    network: o.network,
    ...(info.sandbox === 'sandboxed' ? {} : { detail: info.sandbox.replace(/^unsandboxed:\s*/, '') }),
  };
  return {
    name: `${o.cluster}/${info.index} (${info.host}:${info.port})`,
    capacity: info.capacity,
    cell,
    start: (): Promise<KernelSession> => startRemoteKernelSession({ url: info.url, token: o.token, kernelName: 'codedance' }),
    release: (k) => k.dispose(),
    answers: () => session.answers(info.index),
    dispose: async () => undefined,
  };
}

export interface ClusterKernelHosts {
  hosts: KernelHost[];
  jobId: string;
  /** the job was started for this run (close() stops it) */
  startedHere: boolean;
  session: KernelHostsSession;
  /** stops the job if it was started here, else closes the tunnels (the job keeps running) */
  close(): Promise<void>;
}

export interface OpenClusterOptions {
  backend: JobBackend;
  cluster: string;
  /** the local key tokens are made from (kernelHostsToken.ts) */
  key: string;
  /** a job to use; absent: a running kernel-hosts job, else a new one */
  jobId?: string;
  /** a new job's settings */
  params?: Partial<KernelHostsParams>;
  /** Ray: tunnels through the jump host */
  tunnelVia?: SshConnection;
  /** a new job's kernels may reach the network (a running job's own setting is read from its script) */
  network?: boolean;
  readyTimeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** Reaches (or starts) the kernel-hosts job on a cluster; resolves once every host answers. */
export async function openClusterKernelHosts(o: OpenClusterOptions): Promise<ClusterKernelHosts> {
  const log = o.log ?? (() => undefined);
  const existing = o.jobId ? await o.backend.status(o.jobId) : await findKernelHostsJob(o.backend, o.params?.name);
  const settings = existing ? await kernelHostsSettings(o.backend, existing) : undefined;
  if (existing && !settings?.nonce)
    throw new JobsError('config', `job ${existing.id} on ${o.cluster} is not a kernel-hosts job (its script has no KH_NONCE)`);
  const nonce = settings?.nonce ?? newNonce();
  const network = settings ? !!settings.network : (o.network ?? o.params?.network ?? false);
  const token = kernelHostsToken(o.key, nonce);
  const session = new KernelHostsSession({
    backend: o.backend,
    clusterName: o.cluster,
    token,
    tunnelVia: o.tunnelVia,
    readyTimeoutMs: o.readyTimeoutMs,
    pollMs: o.pollMs,
    log,
  });
  const startedHere = !existing;
  if (existing) {
    session.attach(existing.id);
    log(`kernel hosts: using job ${existing.id} on ${o.cluster} (it keeps running after the eval)`);
  } else {
    const params = kernelHostsDefaults({ ...o.params, nonce, network });
    await session.submit(buildKernelHostsJob(params, o.backend.kind));
    log(`kernel hosts: started job ${session.jobId} on ${o.cluster} (${params.tasks} hosts; stopped when the eval ends)`);
  }
  try {
    const infos = await session.waitReady(o.signal);
    const hosts = infos.map((info) => clusterKernelHost(session, info, { cluster: o.cluster, token, network }));
    return {
      hosts,
      jobId: session.jobId!,
      startedHere,
      session,
      close: () => (startedHere ? session.stop() : session.detach()),
    };
  } catch (e) {
    if (startedHere)
      await session.stop().catch((stopErr: Error) => log(`kernel hosts: stopping job ${session.jobId} failed: ${stopErr.message}`));
    throw e;
  }
}
