/**
 * Where a served model's replicas listen. Slurm: each replica wrote `HOST PORT` to
 * `<jobsDir>/serve-<jobId>/replica-<k>.addr` (serveTemplates.ts), read here over the backend's SSH
 * connection. Ray: the driver node's IP from the job's details (`driver_info.node_ip_address`),
 * the ports from the job's metadata (replica k on serve_port + k).
 */
import { JobsError } from '../jobs/errors';
import { shQuote } from '../jobs/slurmText';
import type { SlurmBackend } from '../jobs/SlurmBackend';
import { SshConnection } from '../jobs/SshConnection';
import type { JobInfo, JobSecrets, RayClusterProfile } from '../jobs/types';

export interface ReplicaAddress {
  index: number;
  host: string;
  port: number;
}

const HOST = /^[A-Za-z0-9_.:%-]{1,255}$/;

/** `grep -H . serve-ID/replica-*.addr` output → addresses (bad lines are skipped, never trusted). */
export function parseAddrFiles(text: string): ReplicaAddress[] {
  const out: ReplicaAddress[] = [];
  for (const line of text.split('\n')) {
    const m = /replica-(\d+)\.addr:(\S+)\s+(\d+)\s*$/.exec(line.trim());
    if (!m || !HOST.test(m[2])) continue;
    const port = Number(m[3]);
    if (port < 1 || port > 65535) continue;
    out.push({ index: Number(m[1]), host: m[2], port });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** The serve folder of a Slurm job (the job's submit dir is the backend's jobs folder). */
export async function slurmServeDir(backend: SlurmBackend, jobId: string): Promise<string> {
  if (!/^\d+$/.test(jobId)) throw new JobsError('config', `'${jobId}' is not a Slurm job id`);
  return `${await backend.jobsDir()}/serve-${jobId}`;
}

export async function discoverSlurmReplicas(backend: SlurmBackend, jobId: string): Promise<ReplicaAddress[]> {
  const dir = await slurmServeDir(backend, jobId);
  const r = await backend.ssh.exec(`grep -H . ${shQuote(dir)}/replica-*.addr 2>/dev/null || true`);
  return parseAddrFiles(r.stdout);
}

/** Ray: the replicas of a serve job run on its driver's node, on consecutive ports. */
export function rayReplicas(job: JobInfo, fallbackHost?: string): ReplicaAddress[] {
  const host = job.driverNodeIp ?? fallbackHost;
  const port = Number(job.metadata?.serve_port);
  const n = Number(job.metadata?.serve_replicas ?? 1);
  if (!host || !Number.isInteger(port) || port < 1) return [];
  return Array.from({ length: Math.max(1, n) }, (_, k) => ({ index: k, host, port: port + k }));
}

/** What a Slurm serve job's script says (SERVED_MODEL_NAME, SERVE_REPLICAS, …): for attaching to a job started elsewhere. */
export async function slurmServeSettings(
  backend: SlurmBackend,
  jobId: string,
): Promise<{ servedModelName?: string; replicas?: number; port?: number }> {
  const job = await backend.status(jobId);
  if (!job.entrypoint) return {};
  const r = await backend.ssh.exec(
    `grep -E '^export (SERVED_MODEL_NAME|SERVE_REPLICAS|SERVE_PORT)=' ${shQuote(job.entrypoint)} 2>/dev/null || true`,
  );
  const get = (k: string) => new RegExp(`^export ${k}='?([^'\\n]*)'?$`, 'm').exec(r.stdout)?.[1];
  const replicas = Number(get('SERVE_REPLICAS'));
  const port = Number(get('SERVE_PORT'));
  return {
    servedModelName: get('SERVED_MODEL_NAME'),
    replicas: Number.isInteger(replicas) && replicas > 0 ? replicas : undefined,
    port: Number.isInteger(port) && port > 0 ? port : undefined,
  };
}

/** Ray: the SSH connection to the profile's jump host, when it names one (served models are tunnelled through it). */
export function rayJumpConnection(profile: RayClusterProfile, secrets: JobSecrets = {}): SshConnection | undefined {
  const j = profile.jumpHost;
  if (!j?.host) return undefined;
  return new SshConnection(
    {
      name: `${profile.name} (jump host)`,
      kind: 'slurm',
      host: j.host,
      user: j.user,
      port: j.port,
      identityFile: j.identityFile,
      knownHosts: j.knownHosts,
      strictHostKeyChecking: j.strictHostKeyChecking,
    },
    secrets,
  );
}
