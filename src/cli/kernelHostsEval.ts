/**
 * `codedance eval --kernel-hosts local,cluster:NAME`: the hosts an eval spreads its kernels over
 * (core/eval/kernelHosts.ts), opened before its first sample and closed after its last: a
 * kernel-hosts job that the eval started is stopped then; one that was running before is left
 * running. Cluster profiles as for `codedance jobs` (--clusters FILE, else ~/.codedance/clusters.json).
 */
import { createBackend, type JobBackend } from '../core/jobs';
import { localKernelHost, openClusterKernelHosts, parseKernelHosts, type ClusterKernelHosts } from '../core/eval/clusterKernelHosts';
import { SpreadKernels, type KernelHost } from '../core/eval/kernelHosts';
import { isCodeDanceError } from '../core/errors';
import { resolvePython } from '../core/kernel';
import { describeSandbox } from '../core/kernel/sandboxNotice';
import { rayJumpConnection } from '../core/serve';
import { kernelHostsKey } from '../core/serve/kernelHostsToken';
import { CliError, EXIT } from './errors';
import { jobsErrorToCli, pickProfile } from './jobs';
import { clusterSecrets } from './kernels';
import type { SandboxFlags } from './sandbox';

export const KERNEL_HOSTS_ARGS = {
  'kernel-hosts': { type: 'string' },
  'kernel-host-tasks': { type: 'string' },
  'kernel-host-cpus': { type: 'string' },
  'kernel-host-python': { type: 'string' },
  clusters: { type: 'string' },
} as const;

export const KERNEL_HOSTS_USAGE = `  --kernel-hosts H[,H]     spread the samples' kernels over hosts: local (this machine; local:N for N at
                           once), cluster:NAME (the Jupyter Servers of a kernel-hosts job on that cluster
                           profile: the one running, else one started now and stopped at the end;
                           cluster:NAME:JOB_ID for a given job). A host that dies is left out and its
                           samples run again on another one
  --kernel-host-tasks N    a job started by the eval: hosts [2]; --kernel-host-cpus C: CPUs (kernels) each [4];
                           --kernel-host-python PATH: the cluster's Python [python3]; --clusters FILE: profiles`;

export interface KernelHostsFlags {
  'kernel-hosts'?: string;
  'kernel-host-tasks'?: string;
  'kernel-host-cpus'?: string;
  'kernel-host-python'?: string;
  clusters?: string;
  python?: string;
}

export interface EvalKernelHosts {
  source: SpreadKernels;
  /** one line: the hosts */
  summary: string;
  /** closes the hosts; stops a job the eval started */
  close(): Promise<void>;
}

function whole(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(v)) throw new CliError(`--${name} must be a whole number ≥ 1, got '${v}'`, EXIT.usage);
  return Number(v);
}

interface Opened {
  cluster: ClusterKernelHosts;
  backend: JobBackend;
  close: () => void;
}

async function openCluster(
  spec: { cluster: string; jobId?: string },
  v: KernelHostsFlags,
  o: { signal: AbortSignal; log: (line: string) => void },
): Promise<Opened> {
  const profile = (() => {
    try {
      return pickProfile({ cluster: spec.cluster, clusters: v.clusters });
    } catch (e) {
      return jobsErrorToCli(e);
    }
  })();
  const secrets = clusterSecrets();
  const backend = createBackend(profile, secrets);
  const tunnelVia = profile.kind === 'ray' ? rayJumpConnection(profile, secrets) : undefined;
  const close = () => {
    tunnelVia?.close();
    void backend.dispose();
  };
  try {
    const cluster = await openClusterKernelHosts({
      backend,
      cluster: spec.cluster,
      key: kernelHostsKey(),
      jobId: spec.jobId,
      tunnelVia,
      params: {
        ...(v['kernel-host-tasks'] && { tasks: whole(v['kernel-host-tasks'], 'kernel-host-tasks') }),
        ...(v['kernel-host-cpus'] && { cpusPerTask: whole(v['kernel-host-cpus'], 'kernel-host-cpus') }),
        ...(v['kernel-host-python'] && { python: v['kernel-host-python'] }),
      },
      signal: o.signal,
      log: o.log,
    });
    return { cluster, backend, close };
  } catch (e) {
    close();
    if (o.signal.aborted)
      throw new CliError('interrupted while the kernel hosts started (a job started for the eval was stopped)', EXIT.cancelled);
    return jobsErrorToCli(e);
  }
}

/** Opens every host of `--kernel-hosts`; on a failure the ones opened so far are closed again. */
export async function openEvalKernelHosts(
  v: KernelHostsFlags,
  o: { sandbox: SandboxFlags; signal: AbortSignal; log: (line: string) => void; quiet: boolean },
): Promise<EvalKernelHosts> {
  let specs;
  try {
    specs = parseKernelHosts(v['kernel-hosts']!);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.usage);
  }
  const opened: Opened[] = [];
  const hosts: KernelHost[] = [];
  const closeAll = async () => {
    for (const c of opened) {
      await c.cluster.close().catch((e: Error) => o.log(`kernel hosts: closing job ${c.cluster.jobId}: ${e.message}`));
      c.close();
    }
  };
  try {
    for (const spec of specs) {
      if (spec.kind === 'local') {
        const python = await localPython(v);
        hosts.push(localKernelHost({ python, capacity: spec.capacity, tuning: o.sandbox }));
      } else {
        const c = await openCluster(spec, v, o);
        opened.push(c);
        hosts.push(...c.cluster.hosts);
      }
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  const source = new SpreadKernels(hosts, { log: o.log });
  if (!o.quiet) process.stderr.write(`sandbox: ${describeSandbox(source.host)}\n`);
  return {
    source,
    summary: `kernels on ${hosts.map((h) => `${h.name} ×${h.capacity}`).join(', ')}`,
    close: async () => {
      await source.dispose();
      await closeAll();
    },
  };
}

/** This machine's interpreter for `local` (a failure to find one is the environment's: exit 3). */
async function localPython(v: KernelHostsFlags): Promise<string> {
  try {
    return (await resolvePython({ explicit: v.python ?? process.env.CODEDANCE_PYTHON })).python;
  } catch (e) {
    throw isCodeDanceError(e) ? e : new CliError((e as Error).message, EXIT.environment);
  }
}
