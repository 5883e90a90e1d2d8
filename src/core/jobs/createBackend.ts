import { JobsError } from './errors';
import { RayJobsBackend } from './RayJobsBackend';
import { SlurmBackend } from './SlurmBackend';
import { parseProxyJump } from './sshConfig';
import type { ClusterProfile, JobBackend, JobSecrets } from './types';

/** Checks a profile from settings (untyped JSON) and says what is wrong with it. */
export function parseClusterProfile(raw: unknown): ClusterProfile {
  const o = (raw ?? {}) as Record<string, unknown>;
  const name = typeof o.name === 'string' && o.name.trim() ? o.name.trim() : undefined;
  if (!name) throw new JobsError('config', `a cluster profile needs a "name": ${JSON.stringify(raw)}`);
  if (o.kind === 'ray') return rayProfile(o, name);
  if (o.kind === 'slurm') return slurmProfile(o, name);
  throw new JobsError('config', `cluster '${name}': "kind" must be "ray" or "slurm"`);
}

function rayProfile(o: Record<string, unknown>, name: string): ClusterProfile {
  if (typeof o.address !== 'string' || !o.address.trim())
    throw new JobsError('config', `cluster '${name}': a Ray profile needs "address" (the dashboard URL, e.g. http://head:8265)`);
  const j = o.jumpHost as Record<string, unknown> | undefined;
  if (j !== undefined && (typeof j !== 'object' || j === null || typeof j.host !== 'string' || !j.host.trim()))
    throw new JobsError(
      'config',
      `cluster '${name}': "jumpHost" must be {"host": "…"} (an ssh host or ~/.ssh/config alias; optional user, port, identityFile)`,
    );
  return { ...(o as object), name, kind: 'ray', address: o.address } as ClusterProfile;
}

function slurmProfile(o: Record<string, unknown>, name: string): ClusterProfile {
  if (typeof o.host !== 'string' || !o.host.trim())
    throw new JobsError('config', `cluster '${name}': a Slurm profile needs "host" (an ssh host or ~/.ssh/config alias)`);
  if (o.port !== undefined && (typeof o.port !== 'number' || o.port < 1 || o.port > 65535))
    throw new JobsError('config', `cluster '${name}': "port" must be 1-65535`);
  if (o.proxyJump !== undefined) {
    if (typeof o.proxyJump !== 'string')
      throw new JobsError(
        'config',
        `cluster '${name}': "proxyJump" must be a string like ssh's -J: "[user@]host[:port]", comma-separated, or "none"`,
      );
    try {
      parseProxyJump(o.proxyJump);
    } catch (e) {
      throw new JobsError('config', `cluster '${name}': "proxyJump": ${(e as Error).message}`);
    }
  }
  return { ...(o as object), name, kind: 'slurm', host: o.host } as ClusterProfile;
}

export function createBackend(profile: ClusterProfile, secrets: JobSecrets = {}): JobBackend {
  return profile.kind === 'ray'
    ? new RayJobsBackend({ address: profile.address, token: secrets.token })
    : new SlurmBackend(profile, secrets);
}
