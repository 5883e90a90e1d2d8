/**
 * What a window remembers of the models it serves, so that after a reload it finds their jobs
 * again (re-opens the tunnels, puts the replicas back in the pool): the cluster profile's name,
 * the job id and what the job serves. Never a URL (the local ports change), a host, a path or a
 * secret: those come from the profile, the cluster and SecretStorage each time.
 */
import { JobsError } from '../jobs/errors';
import type { ServeRole } from './serveTemplates';

export interface ServeRecord {
  /** the cluster profile's name (codedance.jobs.clusters) */
  cluster: string;
  jobId: string;
  role: ServeRole;
  servedModelName: string;
  replicas: number;
}

const NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;
const JOB_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** One stored value, checked; anything else (an older shape, a hand edit) is dropped, never trusted. */
function record(v: unknown): ServeRecord | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.cluster !== 'string' || !r.cluster.trim() || r.cluster.length > 200) return undefined;
  if (typeof r.jobId !== 'string' || !JOB_ID.test(r.jobId)) return undefined;
  if (r.role !== 'policy' && r.role !== 'judge') return undefined;
  if (typeof r.servedModelName !== 'string' || !NAME.test(r.servedModelName)) return undefined;
  if (!Number.isInteger(r.replicas) || (r.replicas as number) < 1 || (r.replicas as number) > 64) return undefined;
  return { cluster: r.cluster, jobId: r.jobId, role: r.role, servedModelName: r.servedModelName, replicas: r.replicas as number };
}

/** The stored list (workspace state), checked: bad entries and duplicates are left out. */
export function readServeRecords(stored: unknown): ServeRecord[] {
  const out: ServeRecord[] = [];
  for (const v of Array.isArray(stored) ? stored : []) {
    const r = record(v);
    if (r && !out.some((x) => x.cluster === r.cluster && x.jobId === r.jobId)) out.push(r);
  }
  return out;
}

/** The list with `r` in it (replacing the entry of the same cluster and job). */
export function withServeRecord(list: readonly ServeRecord[], r: ServeRecord): ServeRecord[] {
  const checked = record(r);
  if (!checked)
    throw new JobsError(
      'config',
      `serve: cannot remember job ${JSON.stringify(r.jobId)} on ${JSON.stringify(r.cluster)}: not a valid record`,
    );
  return [...list.filter((x) => !(x.cluster === r.cluster && x.jobId === r.jobId)), checked];
}

export function withoutServeRecord(list: readonly ServeRecord[], cluster: string, jobId: string): ServeRecord[] {
  return list.filter((x) => !(x.cluster === cluster && x.jobId === jobId));
}
