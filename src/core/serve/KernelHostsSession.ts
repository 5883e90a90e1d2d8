/**
 * A kernel-hosts job (kernelHostsJob.ts) from here: submit (or attach to a running one), wait
 * until every host's Jupyter Server answers, reach each through the same SSH local port forward
 * a served model's replica gets (SshTunnel.ts on the Slurm backend's connection; Ray: the driver
 * node directly or through the profile's jump host), read what each host applies (its
 * `codedance` kernelspec's metadata), tell whether a host still answers, and stop the job.
 * Failures are ServeErrors naming what happened (the job ended, with its log's tail; no host
 * announced itself; a server that does not answer, node:port; the token refused).
 */
import { JobsError } from '../jobs/errors';
import { shQuote } from '../jobs/slurmText';
import { SlurmBackend } from '../jobs/SlurmBackend';
import type { SshConnection } from '../jobs/SshConnection';
import type { JobBackend, JobInfo, JobSpec } from '../jobs/types';
import { isTerminal } from '../jobs/types';
import { discoverSlurmReplicas, rayReplicas, slurmServeDir, type ReplicaAddress } from './discovery';
import { KERNEL_HOSTS_TEMPLATE } from './kernelHostsJob';
import { ServeError } from './ServeSession';
import { SshTunnel } from './SshTunnel';

export interface KernelHostInfo {
  index: number;
  /** where its server listens on the cluster */
  host: string;
  port: number;
  /** the server's base URL from here (a tunnel's local port, or the node), ending in / */
  url: string;
  /** 'sandboxed', or 'unsandboxed: why' (the host's own probe) */
  sandbox: string;
  /** kernels at once */
  capacity: number;
  /** the server's pid on its node, and its runtime folder there (diagnostics, tests) */
  pid?: number;
  runtime?: string;
}

export interface KernelHostsSessionOptions {
  backend: JobBackend;
  /** the cluster profile's name (messages) */
  clusterName: string;
  /** the servers' token (kernelHostsToken.ts) */
  token: string;
  /** how many hosts to wait for (default: the job's own count) */
  hosts?: number;
  pollMs?: number;
  /** from RUNNING to every host answering, ms; default 5 min */
  readyTimeoutMs?: number;
  /** Ray: tunnel through the profile's jump host */
  tunnelVia?: SshConnection;
  log?: (line: string) => void;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const end = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', end);
      resolve();
    };
    const t = setTimeout(end, ms);
    signal?.addEventListener('abort', end, { once: true });
  });

/** What a kernel-hosts job's script or metadata says: how many hosts, and the nonce its token is made from. */
export async function kernelHostsSettings(
  backend: JobBackend,
  job: JobInfo,
): Promise<{ tasks?: number; nonce?: string; network?: boolean }> {
  const fromMeta = {
    tasks: Number(job.metadata?.kernel_hosts) || undefined,
    nonce: job.metadata?.kernel_hosts_nonce,
    network: job.metadata?.kernel_hosts_network === '1',
  };
  if (!(backend instanceof SlurmBackend) || !job.entrypoint) return fromMeta;
  const r = await backend.ssh.exec(`grep -E '^export (KH_TASKS|KH_NONCE|KH_NETWORK)=' ${shQuote(job.entrypoint)} 2>/dev/null || true`);
  const get = (k: string) => new RegExp(`^export ${k}='?([^'\\n]*)'?$`, 'm').exec(r.stdout)?.[1];
  const network = get('KH_NETWORK');
  return {
    tasks: Number(get('KH_TASKS')) || fromMeta.tasks,
    nonce: get('KH_NONCE') ?? fromMeta.nonce,
    network: network === undefined ? fromMeta.network : network === '1',
  };
}

/** The newest kernel-hosts job on the cluster that is pending or running (Slurm: by the job's name), with its nonce. */
export async function findKernelHostsJob(backend: JobBackend, name = 'codedance-kernels'): Promise<JobInfo | undefined> {
  const jobs = (await backend.list()).filter(
    (j) =>
      !isTerminal(j.status) && (j.metadata?.template === KERNEL_HOSTS_TEMPLATE || (backend instanceof SlurmBackend && j.name === name)),
  );
  for (const j of jobs) {
    const full = await backend.status(j.id);
    if (isTerminal(full.status)) continue;
    if ((await kernelHostsSettings(backend, full)).nonce) return full;
  }
  return undefined;
}

export class KernelHostsSession {
  private readonly tunnels = new Map<number, SshTunnel>();
  private readonly found = new Map<number, KernelHostInfo>();
  private readonly stopping = new AbortController();
  jobId?: string;

  constructor(private readonly o: KernelHostsSessionOptions) {}

  get hosts(): KernelHostInfo[] {
    return [...this.found.values()].sort((a, b) => a.index - b.index);
  }

  private say(line: string): void {
    this.o.log?.(`kernel hosts on ${this.o.clusterName}${this.jobId ? ` (job ${this.jobId})` : ''}: ${line}`);
  }

  async submit(spec: JobSpec): Promise<string> {
    const r = await this.o.backend.submit({ ...spec, secretEnv: { ...spec.secretEnv, CODEDANCE_KH_TOKEN: this.o.token } });
    this.jobId = r.id;
    this.say(`job ${r.id} submitted`);
    return r.id;
  }

  attach(jobId: string): void {
    this.jobId = jobId;
  }

  private async logTail(lines = 20): Promise<string> {
    try {
      return (await this.o.backend.logs(this.jobId!)).trimEnd().split('\n').slice(-lines).join('\n');
    } catch (e) {
      return `(the log cannot be read: ${(e as Error).message})`;
    }
  }

  /** Waits until every host's server answers with its kernelspec; resolves with the hosts. */
  async waitReady(signal?: AbortSignal): Promise<KernelHostInfo[]> {
    if (!this.jobId) throw new JobsError('config', 'kernel hosts: no job: submit or attach first');
    const stop = AbortSignal.any([this.stopping.signal, ...(signal ? [signal] : [])]);
    const budget = this.o.readyTimeoutMs ?? 5 * 60_000;
    let runningSince: number | undefined;
    let lastWhy = 'no host announced itself yet';
    try {
      for (;;) {
        if (stop.aborted) throw new ServeError('remote', 'kernel hosts: cancelled before they were ready', 'cancelled');
        const job = await this.o.backend.status(this.jobId);
        if (isTerminal(job.status)) throw await this.endedError(job);
        if (job.status === 'RUNNING') {
          runningSince ??= Date.now();
          const expected = this.o.hosts ?? ((await kernelHostsSettings(this.o.backend, job)).tasks || 1);
          lastWhy = (await this.checkHosts(job)) ?? lastWhy;
          if (this.found.size >= expected) return this.hosts;
          if (Date.now() - runningSince > budget) throw await this.notReadyError(budget, lastWhy);
        }
        await sleep(this.o.pollMs ?? 1000, stop);
      }
    } catch (e) {
      await this.closeTunnels();
      throw e;
    }
  }

  private async addresses(job: JobInfo): Promise<ReplicaAddress[]> {
    const b = this.o.backend;
    return b instanceof SlurmBackend ? discoverSlurmReplicas(b, this.jobId!) : rayReplicas(job);
  }

  /** Reaches the hosts that announced themselves and asks those not ready yet; returns the last reason one is not. */
  private async checkHosts(job: JobInfo): Promise<string | undefined> {
    let why: string | undefined;
    for (const a of await this.addresses(job)) {
      if (this.found.has(a.index)) continue;
      const url = await this.reach(a);
      const r = await this.describe(a, url);
      if (typeof r === 'string') why = r;
      else {
        this.found.set(a.index, r);
        this.say(`host ${a.index} answers at ${a.host}:${a.port} (${r.sandbox}; ${r.capacity} kernels)`);
      }
    }
    return why;
  }

  private async reach(a: ReplicaAddress): Promise<string> {
    const via = this.o.backend instanceof SlurmBackend ? this.o.backend.ssh : this.o.tunnelVia;
    if (!via) return `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/`;
    let t = this.tunnels.get(a.index);
    if (!t || t.host !== a.host || t.port !== a.port) {
      await t?.close();
      t = new SshTunnel(via, a.host, a.port);
      await t.open();
      this.tunnels.set(a.index, t);
    }
    return `${t.localUrl}/`;
  }

  private headers(): Record<string, string> {
    return { Authorization: `token ${this.o.token}` };
  }

  /** GET api/kernelspecs: the host, or why it is not ready; a refused token is fatal. */
  private async describe(a: ReplicaAddress, url: string): Promise<KernelHostInfo | string> {
    let res: Response;
    try {
      res = await fetch(`${url}api/kernelspecs`, { headers: this.headers(), signal: AbortSignal.timeout(5000) });
    } catch (e) {
      return `${a.host}:${a.port}: ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`;
    }
    if (res.status === 403 || res.status === 401)
      throw new ServeError(
        'rejected',
        `the Jupyter server of kernel host ${a.index} (${a.host}:${a.port}) refused the token: job ${this.jobId} was started with another key (CODEDANCE_KERNEL_HOSTS_KEY or ~/.codedance/kernel-hosts.key): use that key, or stop the job and start new kernel hosts`,
        'tunnel-refused',
      );
    if (!res.ok) return `${a.host}:${a.port} answered ${res.status}`;
    const body = (await res.json().catch(() => ({}))) as { kernelspecs?: Record<string, { spec?: { metadata?: Record<string, any> } }> };
    const meta = body.kernelspecs?.codedance?.spec?.metadata?.codedance as
      { sandbox?: string; capacity?: number; pid?: number; runtime?: string } | undefined;
    if (!meta) return `${a.host}:${a.port} has no 'codedance' kernelspec: is it a kernel-hosts job's server?`;
    return {
      index: a.index,
      host: a.host,
      port: a.port,
      url,
      sandbox: typeof meta.sandbox === 'string' ? meta.sandbox : 'unsandboxed: the host did not say',
      capacity: Math.max(1, Math.floor(Number(meta.capacity) || 1)),
      pid: Number.isInteger(meta.pid) ? meta.pid : undefined,
      runtime: typeof meta.runtime === 'string' ? meta.runtime : undefined,
    };
  }

  /** Whether host `index`'s server still answers (GET api/status, two tries); never throws. */
  async answers(index: number, timeoutMs = 4000): Promise<boolean> {
    const h = this.found.get(index);
    if (!h) return false;
    for (let i = 0; i < 2; i++) {
      try {
        const r = await fetch(`${h.url}api/status`, { headers: this.headers(), signal: AbortSignal.timeout(timeoutMs) });
        await r.body?.cancel();
        if (r.ok) return true;
      } catch (e) {
        this.say(
          `host ${index} (${h.host}:${h.port}) does not answer: ${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message}`,
        );
      }
      if (i === 0) await sleep(500);
    }
    return false;
  }

  private async endedError(job: JobInfo): Promise<ServeError> {
    const why = [job.rawStatus, job.exitCode !== undefined ? `exit ${job.exitCode}` : '', job.message ?? ''].filter(Boolean).join(', ');
    return new ServeError(
      'remote',
      `kernel-hosts job ${this.jobId} on ${this.o.clusterName} ended (${why}) before its hosts were ready; the log ends with:\n${(await this.logTail()) || '(empty)'}`,
      'job-ended',
    );
  }

  private async notReadyError(budget: number, lastWhy: string): Promise<ServeError> {
    const dir = this.o.backend instanceof SlurmBackend ? await slurmServeDir(this.o.backend, this.jobId!) : 'the job details';
    return new ServeError(
      'connection',
      `kernel-hosts job ${this.jobId} has run ${Math.round(budget / 1000)} s and ${this.found.size} host(s) answer (last: ${lastWhy}; their logs are host-K.log in ${dir}); the job's log ends with:\n${await this.logTail(15)}`,
      this.found.size ? 'no-answer' : 'no-address',
    );
  }

  /** Stops the job and closes the tunnels. */
  async stop(): Promise<void> {
    this.stopping.abort();
    try {
      if (this.jobId) await this.o.backend.stop(this.jobId);
      this.say('stopped');
    } finally {
      await this.closeTunnels();
    }
  }

  /** Closes the tunnels; the job keeps running. */
  async detach(): Promise<void> {
    this.stopping.abort();
    await this.closeTunnels();
  }

  private async closeTunnels(): Promise<void> {
    await Promise.all([...this.tunnels.values()].map((t) => t.close()));
    this.tunnels.clear();
  }
}
