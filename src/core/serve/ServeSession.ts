/**
 * serve → reach → (use) → stop, for one served model: submits the vLLM job (or attaches to a
 * running one), waits for it to run, discovers its replicas, reaches each (Slurm: an SSH local port
 * forward on the backend's connection, one local port per replica; Ray: the driver node directly),
 * and calls it ready when every replica answers `GET /v1/models` with the model name asked for.
 * Then it watches the job: when it ends (or `stop()`), the tunnels close and the state says why.
 *
 * Bad paths end in a ServeError naming what happened: the job ended before it was ready (with
 * the log's tail), no replica announced itself, the port never answered (node:port tried), the
 * tunnel was refused (AllowTcpForwarding), the server serves another model name.
 */
import { JobsError } from '../jobs/errors';
import { SlurmBackend } from '../jobs/SlurmBackend';
import type { JobBackend, JobInfo, JobSpec } from '../jobs/types';
import { isTerminal } from '../jobs/types';
import { discoverSlurmReplicas, rayReplicas, slurmServeDir, type ReplicaAddress } from './discovery';
import type { SshConnection } from '../jobs/SshConnection';
import { SshTunnel } from './SshTunnel';
import type { ServeRole } from './serveTemplates';

export type ServePhase = 'submitting' | 'pending' | 'starting' | 'ready' | 'ended' | 'failed';

export interface ServedReplica {
  index: number;
  /** where it listens on the cluster: node and port */
  host: string;
  port: number;
  /** the base URL this machine uses (a tunnel's local port, or the node directly): …/v1 */
  baseUrl: string;
  /** the base URL inside the cluster (for jobs there, e.g. LLM_AS_A_JUDGE_BASE) */
  clusterUrl: string;
  ready: boolean;
}

export interface ServeState {
  phase: ServePhase;
  jobId?: string;
  replicas: ServedReplica[];
  /** one line: what is happening / why it ended */
  message: string;
}

/** Thrown when a served model cannot be reached; `phase` says where it stopped. */
export class ServeError extends JobsError {
  override readonly name = 'ServeError';
  constructor(
    code: 'remote' | 'connection' | 'rejected' | 'config',
    message: string,
    readonly failure: 'job-ended' | 'no-address' | 'no-answer' | 'tunnel-refused' | 'model-mismatch' | 'cancelled',
  ) {
    super(code, message);
  }
}

export interface ServeSessionOptions {
  backend: JobBackend;
  /** for messages and the status bar: the cluster profile's name */
  clusterName: string;
  role: ServeRole;
  servedModelName: string;
  /** how many replicas to wait for (default: the job's metadata, else those announced) */
  replicas?: number;
  /** how often the job and the replicas are checked, ms; default 2000 */
  pollMs?: number;
  /** how long from RUNNING to every replica answering, ms; default 20 min (a 72B model loads slowly) */
  readyTimeoutMs?: number;
  /** how long a GET /v1/models may take, ms; default 5000 */
  probeTimeoutMs?: number;
  /** Ray: an SSH connection (the profile's jump host) to tunnel through instead of reaching the driver node directly */
  tunnelVia?: SshConnection;
  onState?: (s: ServeState) => void;
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

// the poll loops sleep on one long-lived signal: a listener left behind by each poll would add up
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

export class ServeSession {
  private readonly tunnels = new Map<number, SshTunnel>();
  private replicasList: ServedReplica[] = [];
  private phaseNow: ServePhase = 'submitting';
  private messageNow = '';
  private readonly stopping = new AbortController();
  jobId?: string;

  constructor(private readonly o: ServeSessionOptions) {}

  get state(): ServeState {
    return { phase: this.phaseNow, jobId: this.jobId, replicas: this.replicasList.map((r) => ({ ...r })), message: this.messageNow };
  }

  get replicas(): readonly ServedReplica[] {
    return this.replicasList;
  }

  get tunnelList(): readonly SshTunnel[] {
    return [...this.tunnels.values()];
  }

  private set(phase: ServePhase, message: string): void {
    this.phaseNow = phase;
    this.messageNow = message;
    this.o.log?.(`serve ${this.o.servedModelName} on ${this.o.clusterName}${this.jobId ? ` (job ${this.jobId})` : ''}: ${message}`);
    this.o.onState?.(this.state);
  }

  /** Submits the (reviewed) job; resolves with its id. */
  async submit(spec: JobSpec): Promise<string> {
    this.set('submitting', `submitting to ${this.o.clusterName}`);
    const r = await this.o.backend.submit(spec);
    this.jobId = r.id;
    this.set('pending', `job ${r.id} submitted`);
    return r.id;
  }

  /** Follows a job already submitted (e.g. by another window or the CLI). */
  attach(jobId: string): void {
    this.jobId = jobId;
  }

  private async logTail(lines = 30): Promise<string> {
    try {
      return (await this.o.backend.logs(this.jobId!)).trimEnd().split('\n').slice(-lines).join('\n');
    } catch (e) {
      return `(the log cannot be read: ${(e as Error).message})`;
    }
  }

  private async replicaAddresses(job: JobInfo): Promise<ReplicaAddress[]> {
    const b = this.o.backend;
    if (b instanceof SlurmBackend) return discoverSlurmReplicas(b, this.jobId!);
    return rayReplicas(job);
  }

  /** A base URL for one replica: a tunnel's local port (Slurm), the node itself (Ray). */
  private async reach(a: ReplicaAddress): Promise<ServedReplica> {
    const clusterUrl = `http://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}/v1`;
    const b = this.o.backend;
    const via = b instanceof SlurmBackend ? b.ssh : this.o.tunnelVia;
    if (via) {
      const t = new SshTunnel(via, a.host, a.port);
      await t.open();
      this.tunnels.set(a.index, t);
      return { index: a.index, host: a.host, port: a.port, baseUrl: `${t.localUrl}/v1`, clusterUrl, ready: false };
    }
    return { index: a.index, host: a.host, port: a.port, baseUrl: clusterUrl, clusterUrl, ready: false };
  }

  /** One readiness check: the channel opens (Slurm), then GET /v1/models lists the model. Throws a fatal ServeError, or returns why not yet. */
  private async probe(r: ServedReplica): Promise<string | undefined> {
    const t = this.tunnels.get(r.index);
    if (t) {
      try {
        await t.probe();
      } catch (e) {
        const err = e as JobsError;
        if (err.code === 'rejected') throw new ServeError('rejected', err.message, 'tunnel-refused');
        return err.message;
      }
    }
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(`${r.baseUrl}/models`, { signal: AbortSignal.timeout(this.o.probeTimeoutMs ?? 5000) });
    } catch (e) {
      const c = (e as { cause?: { code?: string } }).cause;
      return `GET ${r.clusterUrl}/models: ${c?.code ?? (e as Error).message}`;
    }
    if (!res.ok) return `GET ${r.clusterUrl}/models answered ${res.status}`;
    const ids = (((await res.json().catch(() => ({}))) as { data?: { id?: string }[] }).data ?? []).map((m) => m.id);
    if (!ids.includes(this.o.servedModelName))
      throw new ServeError(
        'config',
        `the server at ${r.host}:${r.port} serves ${ids.length ? ids.map((i) => `'${i}'`).join(', ') : 'no model'}, not '${this.o.servedModelName}': set the served model name to one of those, or --served-model-name in the job`,
        'model-mismatch',
      );
    return undefined;
  }

  /** Waits until every replica answers; resolves with them. Rejects with a ServeError naming what went wrong. */
  async waitReady(signal?: AbortSignal): Promise<ServedReplica[]> {
    if (!this.jobId) throw new JobsError('config', 'serve: no job: submit or attach first');
    const poll = this.o.pollMs ?? 2000;
    const budget = this.o.readyTimeoutMs ?? 20 * 60_000;
    const stop = AbortSignal.any([this.stopping.signal, ...(signal ? [signal] : [])]);
    let runningSince: number | undefined;
    let lastWhy = 'the job has not started';
    try {
      for (;;) {
        if (stop.aborted) throw new ServeError('remote', `serve ${this.o.servedModelName}: cancelled before it was ready`, 'cancelled');
        const job = await this.o.backend.status(this.jobId);
        if (isTerminal(job.status)) throw await this.endedError(job);
        if (job.status === 'RUNNING') {
          runningSince ??= Date.now();
          const check = await this.checkReplicas(job);
          if (check.ready) return this.replicasList;
          lastWhy = check.lastWhy ?? lastWhy;
          if (Date.now() - runningSince > budget) throw await this.notReadyError(budget, lastWhy);
        } else if (this.phaseNow !== 'pending')
          this.set('pending', `job ${this.jobId} is ${job.rawStatus}${job.message ? ` (${job.message})` : ''}`);
        await sleep(poll, stop);
      }
    } catch (e) {
      await this.closeTunnels();
      if (e instanceof ServeError && e.failure !== 'cancelled') this.set('failed', e.message.split('\n')[0]);
      throw e;
    }
  }

  /** A running job: the replicas it announced are reached, those not ready yet probed; ready (the phase says so) when every expected one answers. */
  private async checkReplicas(job: JobInfo): Promise<{ ready: boolean; lastWhy?: string }> {
    let lastWhy: string | undefined;
    if (this.phaseNow !== 'starting') this.set('starting', `job ${this.jobId} running; waiting for ${this.o.servedModelName} to load`);
    for (const a of await this.replicaAddresses(job)) {
      if (!this.replicasList.some((r) => r.index === a.index)) this.replicasList.push(await this.reach(a));
    }
    this.replicasList.sort((a, b) => a.index - b.index);
    for (const r of this.replicasList.filter((x) => !x.ready)) {
      const why = await this.probe(r);
      if (why) lastWhy = why;
      else {
        r.ready = true;
        this.set(
          'starting',
          `replica ${r.index} answers at ${r.host}:${r.port}${this.tunnels.has(r.index) ? ` (tunnel ${r.baseUrl})` : ''}`,
        );
      }
    }
    const expected = this.o.replicas ?? (Number(job.metadata?.serve_replicas ?? 0) || this.replicasList.length);
    if (this.replicasList.length >= Math.max(1, expected) && this.replicasList.every((r) => r.ready)) {
      this.set('ready', `${this.replicasList.length} replica${this.replicasList.length > 1 ? 's' : ''} of ${this.o.servedModelName} ready`);
      return { ready: true };
    }
    return { ready: false, lastWhy };
  }

  /** The job ended before the model was ready: how, and the end of its log. */
  private async endedError(job: JobInfo): Promise<ServeError> {
    const tail = await this.logTail();
    const why = [job.rawStatus, job.exitCode !== undefined ? `exit ${job.exitCode}` : '', job.message ?? ''].filter(Boolean).join(', ');
    return new ServeError(
      'remote',
      `job ${this.jobId} on ${this.o.clusterName} ended (${why}) before the model was ready; the log ends with:\n${tail || '(empty)'}`,
      'job-ended',
    );
  }

  /** The job ran `budget` ms without every replica answering: no replica announced itself, or which ones did not answer. */
  private async notReadyError(budget: number, lastWhy: string): Promise<ServeError> {
    if (!this.replicasList.length) {
      const dir =
        this.o.backend instanceof SlurmBackend ? await slurmServeDir(this.o.backend, this.jobId!) : 'the job details (driver_info)';
      return new ServeError(
        'connection',
        `job ${this.jobId} has run ${Math.round(budget / 1000)} s but no replica announced its node and port in ${dir}: is the serve script intact? The log ends with:\n${await this.logTail(15)}`,
        'no-address',
      );
    }
    const waiting = this.replicasList.filter((r) => !r.ready).map((r) => `${r.host}:${r.port}`);
    return new ServeError(
      'connection',
      `the model server did not answer at ${waiting.join(', ')} within ${Math.round(budget / 1000)} s (last: ${lastWhy}); the log ends with:\n${await this.logTail(15)}`,
      'no-answer',
    );
  }

  /**
   * After ready: follows the job until it ends (or `stop()`), then closes the tunnels and says so.
   * Resolves with the final state.
   */
  async watch(): Promise<ServeState> {
    const poll = this.o.pollMs ?? 2000;
    while (!this.stopping.signal.aborted) {
      await sleep(poll * 2, this.stopping.signal);
      if (this.stopping.signal.aborted) break;
      let job: JobInfo;
      try {
        job = await this.o.backend.status(this.jobId!);
      } catch (e) {
        this.o.log?.(`serve: status of job ${this.jobId}: ${(e as Error).message}`);
        continue;
      }
      if (isTerminal(job.status)) {
        await this.closeTunnels();
        this.set(
          'ended',
          `job ${this.jobId} ${job.status === 'STOPPED' ? 'was stopped' : job.rawStatus.toLowerCase()}: ${this.o.servedModelName} is gone from ${this.o.clusterName}`,
        );
        return this.state;
      }
    }
    return this.state;
  }

  /** Stops the job (scancel / Ray stop) and closes the tunnels. */
  async stop(): Promise<void> {
    this.stopping.abort();
    try {
      if (this.jobId) await this.o.backend.stop(this.jobId);
    } finally {
      await this.closeTunnels();
      this.set('ended', `stopped job ${this.jobId ?? '(none)'}; ${this.o.servedModelName} is gone from ${this.o.clusterName}`);
    }
  }

  /** Closes the tunnels without stopping the job (the editor closes; the job keeps serving). */
  async detach(): Promise<void> {
    this.stopping.abort();
    await this.closeTunnels();
  }

  private async closeTunnels(): Promise<void> {
    await Promise.all([...this.tunnels.values()].map((t) => t.close()));
    this.tunnels.clear();
    for (const r of this.replicasList) r.ready = false;
  }
}
