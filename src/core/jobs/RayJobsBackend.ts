/**
 * Ray Job Submission REST API (the dashboard, default port 8265). The contract:
 * ../shared/docs/ray-jobs-api.md. Reads /api/version before sending fields newer Rays added,
 * uploads a local working_dir as a zip (`PUT /api/packages/gcs/NAME`, then `gcs://NAME`), tails
 * logs over the websocket endpoint. Token auth: `Authorization: Bearer` (Ray ≥ 2.52).
 */
import { existsSync, statSync } from 'node:fs';
import type WebSocket from 'ws';
import { redactSecrets } from '../secrets';
import { checkSecretEnv, redactingSecrets } from './secretEnv';
import { JobNotFoundError, JobsAuthError, JobsError } from './errors';
import type { ClusterInfo, JobBackend, JobInfo, JobSpec, JobStatus, SubmitResult, TailOptions } from './types';
import { rayPackageName, zipDirectory } from './zip';

export interface RayBackendOptions {
  /** dashboard URL; `host:port` gets http:// */
  address: string;
  token?: string;
  /** per request, ms (default 30 s; uploads get 10 min) */
  timeoutMs?: number;
}

/** A job as the dashboard describes it (fields we read). */
export interface RayJobDetails {
  type?: string;
  job_id?: string | null;
  submission_id?: string | null;
  status: string;
  entrypoint?: string;
  message?: string | null;
  error_type?: string | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata?: Record<string, string> | null;
  runtime_env?: Record<string, unknown> | null;
  driver_exit_code?: number | null;
  /** where the entrypoint runs (Ray ≥ 2.x: set once the driver started) */
  driver_info?: { id?: string; node_ip_address?: string; pid?: string } | null;
  driver_node_id?: string | null;
}

export function normalizeRayAddress(address: string): string {
  let a = address.trim();
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(a)) a = `http://${a}`;
  return a.replace(/\/+$/, '');
}

/** "2.9.3" ≥ "2.2"? */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split(/[.+-]/).map((x) => parseInt(x, 10) || 0);
  const b = min.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

const RAY_STATUSES: readonly JobStatus[] = ['PENDING', 'RUNNING', 'STOPPED', 'SUCCEEDED', 'FAILED'];

export function rayJobToInfo(d: RayJobDetails): JobInfo {
  const raw = String(d.status ?? 'PENDING').toUpperCase();
  return {
    id: d.submission_id ?? d.job_id ?? '',
    name: d.metadata?.name ?? d.metadata?.job_name ?? undefined,
    status: (RAY_STATUSES as readonly string[]).includes(raw) ? (raw as JobStatus) : 'PENDING',
    rawStatus: raw,
    message: d.message ?? undefined,
    entrypoint: d.entrypoint,
    startTime: d.start_time ?? undefined,
    endTime: d.end_time ?? undefined,
    exitCode: d.driver_exit_code ?? undefined,
    metadata: d.metadata ?? undefined,
    ...(d.driver_info?.node_ip_address ? { driverNodeIp: d.driver_info.node_ip_address } : {}),
    ...(typeof d.runtime_env?.working_dir === 'string' ? { workingDir: d.runtime_env.working_dir } : {}),
  };
}

/** A submission id: the name (slugged), time and a random suffix, unique enough for one cluster. */
export function makeSubmissionId(name: string, now = new Date()): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'job';
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${slug}-${t}-${Math.random().toString(36).slice(2, 6)}`;
}

export class RayJobsBackend implements JobBackend {
  readonly kind = 'ray' as const;
  readonly baseUrl: string;
  private version?: string;

  constructor(private readonly opts: RayBackendOptions) {
    this.baseUrl = normalizeRayAddress(opts.address);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.opts.token ? { Authorization: `Bearer ${this.opts.token}`, ...extra } : extra;
  }

  private fail(status: number, text: string, what: string, id?: string): never {
    // a refusal may echo what it refused (the token, the Authorization header): redacted before it is kept anywhere
    const msg = redactSecrets(text.replace(/\s+/g, ' ').trim(), [this.opts.token])
      .replace(/((?:token|authorization)["']?\s*[:=]\s*["']?)[^\s"',;}]{4,}/gi, '$1***')
      .slice(0, status === 401 || status === 403 ? 200 : 500);
    if (status === 401)
      throw new JobsAuthError(`Ray dashboard ${this.baseUrl} needs a token (401${msg ? `: ${msg}` : ''})`, 401, {
        text: "set this cluster's token",
        setting: 'jobs.token',
      });
    if (status === 403)
      throw new JobsAuthError(`Ray dashboard ${this.baseUrl} refused the token (403${msg ? `: ${msg}` : ''})`, 403, {
        text: "check this cluster's token",
        setting: 'jobs.token',
      });
    if (status === 404 && id !== undefined) throw new JobNotFoundError(id, `Ray ${this.baseUrl}`, msg);
    if (status === 404)
      throw new JobsError('server', `Ray dashboard ${this.baseUrl}: ${what} answered 404 — is this a Ray dashboard (Ray ≥ 2.0)?`, 404);
    if (status >= 500)
      throw new JobsError('server', `Ray dashboard ${this.baseUrl}: ${what} failed with ${status}: ${msg || 'no message'}`, status, [
        this.opts.token,
      ]);
    throw new JobsError('rejected', `Ray dashboard ${this.baseUrl} rejected ${what} (${status}): ${msg || 'no message'}`, status, [
      this.opts.token,
    ]);
  }

  /** A JSON body, or raw bytes (a package upload), with its content type and the token. */
  private requestBody(init: { body?: unknown; raw?: Buffer }): {
    headers: Record<string, string>;
    body?: string | Uint8Array<ArrayBuffer>;
  } {
    if (init.body !== undefined) return { headers: this.headers({ 'Content-Type': 'application/json' }), body: JSON.stringify(init.body) };
    if (init.raw) return { headers: this.headers({ 'Content-Type': 'application/octet-stream' }), body: new Uint8Array(init.raw) };
    return { headers: this.headers({}) };
  }

  private async request(
    method: string,
    path: string,
    what: string,
    init: { body?: unknown; raw?: Buffer; id?: string; timeoutMs?: number; allow404?: boolean } = {},
  ): Promise<{ status: number; body: unknown }> {
    let res: Response;
    const signal = AbortSignal.timeout(init.timeoutMs ?? this.opts.timeoutMs ?? 30000);
    try {
      res = await fetch(this.baseUrl + path, { method, ...this.requestBody(init), signal });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = signal.aborted ? 'timed out' : (cause?.code ?? cause?.message ?? (e as Error).message);
      throw new JobsError(
        'connection',
        `cannot reach the Ray dashboard at ${this.baseUrl} (${why}): is Ray running there (ray start --head --dashboard-host=…) or an SSH tunnel to port 8265 open?`,
      );
    }
    const text = await res.text();
    if (init.allow404 && res.status === 404) return { status: 404, body: text };
    if (!res.ok) this.fail(res.status, text, what, init.id);
    return { status: res.status, body: jsonOrText(text, res.headers.get('content-type')) };
  }

  async check(): Promise<ClusterInfo> {
    const { body } = await this.request('GET', '/api/version', 'GET /api/version');
    const v = body as { version?: string; ray_version?: string; session_name?: string };
    if (typeof v !== 'object' || !v || !v.ray_version)
      throw new JobsError('server', `${this.baseUrl}/api/version did not answer like a Ray dashboard`);
    this.version = v.ray_version;
    return { kind: 'ray', version: v.ray_version, detail: v.session_name ? `session ${v.session_name}` : undefined };
  }

  private async rayVersion(): Promise<string> {
    if (!this.version) await this.check();
    return this.version!;
  }

  /** Uploads a local folder as a package (unless one with the same content is there); returns its gcs:// URI. */
  async uploadWorkingDir(dir: string): Promise<string> {
    let zip: Buffer;
    try {
      zip = zipDirectory(dir);
    } catch (e) {
      throw new JobsError('config', (e as Error).message);
    }
    const name = rayPackageName(zip);
    const path = `/api/packages/gcs/${name}`;
    const head = await this.request('GET', path, `GET ${path}`, { allow404: true });
    if (head.status === 404)
      await this.request('PUT', path, `the working_dir upload (${zip.length} bytes)`, { raw: zip, timeoutMs: 600000 });
    return `gcs://${name}`;
  }

  async submit(spec: JobSpec): Promise<SubmitResult> {
    if (!spec.entrypoint.trim()) throw new JobsError('config', 'the job has no entrypoint (the shell command Ray runs)');
    const version = await this.rayVersion();
    const runtimeEnv: Record<string, unknown> = {};
    const secrets = checkSecretEnv(spec.secretEnv);
    if (Object.keys(spec.env).length || secrets.length) runtimeEnv.env_vars = { ...spec.env, ...Object.fromEntries(secrets) };
    let workingDirUri: string | undefined;
    if (spec.workingDir) {
      if (/^[a-z0-9]+:\/\//i.test(spec.workingDir)) workingDirUri = spec.workingDir;
      else if (existsSync(spec.workingDir) && statSync(spec.workingDir).isDirectory())
        workingDirUri = await this.uploadWorkingDir(spec.workingDir);
      else throw new JobsError('config', `working_dir ${spec.workingDir} is neither a local folder nor a URI (gcs://, https://, s3://)`);
      runtimeEnv.working_dir = workingDirUri;
    }
    const body: Record<string, unknown> = {
      entrypoint: spec.entrypoint,
      submission_id: spec.submissionId ?? makeSubmissionId(spec.name),
      metadata: { name: spec.name, submitted_by: 'codedance', ...spec.metadata },
    };
    if (Object.keys(runtimeEnv).length) body.runtime_env = runtimeEnv;
    if (spec.entrypointNumGpus !== undefined && spec.entrypointNumGpus > 0) {
      if (!versionAtLeast(version, '2.2'))
        throw new JobsError(
          'config',
          `Ray ${version} at ${this.baseUrl} cannot reserve GPUs for the entrypoint (entrypoint_num_gpus needs Ray ≥ 2.2): remove entrypointNumGpus`,
        );
      body.entrypoint_num_gpus = spec.entrypointNumGpus;
    }
    if (spec.entrypointNumCpus !== undefined && versionAtLeast(version, '2.2')) body.entrypoint_num_cpus = spec.entrypointNumCpus;
    const { body: res } = await redactingSecrets(spec.secretEnv, () => this.request('POST', '/api/jobs/', 'the job submission', { body }));
    const r = res as { submission_id?: string; job_id?: string };
    const id = r.submission_id ?? r.job_id;
    if (!id) throw new JobsError('server', `Ray ${this.baseUrl} accepted the job but answered no submission_id`);
    return { id, workingDirUri };
  }

  async list(): Promise<JobInfo[]> {
    const { body } = await this.request('GET', '/api/jobs/', 'GET /api/jobs/');
    if (!Array.isArray(body)) throw new JobsError('server', `Ray ${this.baseUrl}: GET /api/jobs/ did not answer a list`);
    return (body as RayJobDetails[]).map(rayJobToInfo).filter((j) => j.id);
  }

  async status(id: string): Promise<JobInfo> {
    const { body } = await this.request('GET', `/api/jobs/${encodeURIComponent(id)}`, `the status of ${id}`, { id });
    return rayJobToInfo(body as RayJobDetails);
  }

  async logs(id: string): Promise<string> {
    const { body } = await this.request('GET', `/api/jobs/${encodeURIComponent(id)}/logs`, `the logs of ${id}`, { id });
    return (body as { logs?: string }).logs ?? '';
  }

  tailLogs(id: string, opts: TailOptions = {}): AsyncIterable<string> {
    const url = `${this.baseUrl.replace(/^http/, 'ws')}/api/jobs/${encodeURIComponent(id)}/logs/tail`;
    const headers = this.headers();
    const base = this.baseUrl;
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        // the websocket handshake of an unknown id fails without a reason: ask first, for a clear error
        await self.status(id);
        const queue: string[] = [];
        let done = false;
        let error: Error | undefined;
        let wake: (() => void) | undefined;
        const notify = () => {
          wake?.();
          wake = undefined;
        };
        const { default: WS } = await import('ws'); // loaded on first use
        const ws = new WS(url, { headers });
        ws.on('message', (data: WebSocket.RawData) => {
          queue.push(
            Buffer.isBuffer(data)
              ? data.toString('utf8')
              : Array.isArray(data)
                ? Buffer.concat(data).toString('utf8')
                : Buffer.from(data).toString('utf8'),
          );
          notify();
        });
        ws.on('unexpected-response', (_req, res) => {
          const st = res.statusCode ?? 0;
          error =
            st === 401 || st === 403
              ? new JobsAuthError(`Ray dashboard ${base} refused the log stream (${st}): check the token`, st)
              : st === 404
                ? new JobNotFoundError(id, `Ray ${base}`)
                : new JobsError('server', `Ray dashboard ${base}: the log stream of ${id} failed with ${st}`, st);
          done = true;
          ws.terminate();
          notify();
        });
        ws.on('error', (e) => {
          error ??= new JobsError('connection', `the log stream of ${id} from ${base} broke: ${e.message}`);
          done = true;
          notify();
        });
        ws.on('close', () => {
          done = true;
          notify();
        });
        const onAbort = () => {
          done = true;
          ws.close();
          notify();
        };
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        try {
          for (;;) {
            while (queue.length) yield queue.shift()!;
            if (done || opts.signal?.aborted) break;
            await new Promise<void>((r) => (wake = r));
          }
          while (queue.length && !opts.signal?.aborted) yield queue.shift()!;
          if (error && !opts.signal?.aborted) throw error;
        } finally {
          opts.signal?.removeEventListener('abort', onAbort);
          if (ws.readyState === WS.OPEN || ws.readyState === WS.CONNECTING) ws.terminate();
        }
      },
    };
  }

  async stop(id: string): Promise<boolean> {
    const { body } = await this.request('POST', `/api/jobs/${encodeURIComponent(id)}/stop`, `stopping ${id}`, { id });
    return Boolean((body as { stopped?: boolean }).stopped);
  }

  async delete(id: string): Promise<boolean> {
    const { body } = await this.request('DELETE', `/api/jobs/${encodeURIComponent(id)}`, `deleting ${id}`, { id });
    return Boolean((body as { deleted?: boolean }).deleted);
  }

  async dispose(): Promise<void> {
    /* stateless: nothing to close */
  }
}

/** A JSON answer parsed; not JSON after all (a proxy's HTML page): the text, which the callers' messages quote. */
function jsonOrText(text: string, contentType: string | null): unknown {
  if (!(contentType ?? '').includes('json') && !/^\s*[[{]/.test(text)) return text;
  try {
    return JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return text;
  }
}
