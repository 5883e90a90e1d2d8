/**
 * One SSH connection (the npm `ssh2` client, pure JS) to a cluster's login node: run a command
 * and collect its output, or stream a command's stdout. Settings come from a profile plus the
 * user's ~/.ssh/config; host keys are checked against known_hosts (knownHosts.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import type { ErrorFix } from '../errors';
import { JobsAuthError, JobsError } from './errors';
import { verifyHostKey, type HostKeyPolicy } from './knownHosts';
import { expandHome, parseSshConfig } from './sshConfig';
import type { JobSecrets, SlurmClusterProfile } from './types';

/** An SSH key that needs its passphrase: the adapters name where it is set (a VS Code command, a CLI variable). */
const PASSPHRASE_FIX: ErrorFix = { text: 'load the key into ssh-agent, or set its passphrase', setting: 'jobs.sshPassphrase' };

export interface ResolvedSshTarget {
  host: string;
  port: number;
  user: string;
  /** identity files that exist, in the order they are tried */
  identityFiles: string[];
  /** for messages: alias (host:port) */
  label: string;
}

/** The profile merged with the ssh_config Host block of its host (the profile wins). */
export function resolveSshTarget(profile: SlurmClusterProfile): ResolvedSshTarget {
  const configFile = expandHome(profile.sshConfig ?? '~/.ssh/config');
  const cfg = existsSync(configFile) ? parseSshConfig(readFileSync(configFile, 'utf8'), profile.host) : { identityFiles: [] as string[] };
  const host = cfg.hostName ?? profile.host;
  const port = profile.port ?? cfg.port ?? 22;
  const user = profile.user ?? cfg.user ?? os.userInfo().username;
  const candidates = profile.identityFile
    ? [expandHome(profile.identityFile)]
    : cfg.identityFiles.length
      ? cfg.identityFiles
      : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => path.join(os.homedir(), '.ssh', f));
  return { host, port, user, identityFiles: candidates.filter((f) => existsSync(f)), label: `${user}@${host}:${port}` };
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export class SshConnection {
  private client?: Client;
  private connecting?: Promise<Client>;
  readonly target: ResolvedSshTarget;
  /** ms the last connect took (handshake + auth) */
  connectMs = 0;

  constructor(
    private readonly profile: SlurmClusterProfile,
    private readonly secrets: JobSecrets = {},
  ) {
    this.target = resolveSshTarget(profile);
  }

  private hostKeyPolicy(): HostKeyPolicy {
    return { file: expandHome(this.profile.knownHosts ?? '~/.ssh/known_hosts'), mode: this.profile.strictHostKeyChecking ?? 'accept-new' };
  }

  private connect(): Promise<Client> {
    if (this.client) return Promise.resolve(this.client);
    if (this.connecting) return this.connecting;
    const t = this.target;
    const policy = this.hostKeyPolicy();
    let hostKeyProblem: string | undefined;
    const cfg: ConnectConfig = {
      host: t.host,
      port: t.port,
      username: t.user,
      readyTimeout: 20000,
      keepaliveInterval: 30000,
      hostVerifier: (key: Buffer) => {
        const r = verifyHostKey(policy, t.host, t.port, key);
        if (!r.ok) {
          hostKeyProblem =
            r.verdict === 'changed'
              ? `the host key of ${t.host}:${t.port} CHANGED since it was saved in ${policy.file} — someone may be intercepting the connection; if the server was reinstalled, remove its old line there`
              : `the host key of ${t.host}:${t.port} is not in ${policy.file} and strictHostKeyChecking is 'yes': connect once with ssh to add it`;
        }
        return r.ok;
      },
    };
    const keyFile = t.identityFiles[0];
    if (keyFile) cfg.privateKey = readFileSync(keyFile);
    if (this.secrets.passphrase) cfg.passphrase = this.secrets.passphrase;
    if (this.secrets.password) cfg.password = this.secrets.password;
    if (process.env.SSH_AUTH_SOCK) cfg.agent = process.env.SSH_AUTH_SOCK;
    if (!keyFile && !cfg.password && !cfg.agent) {
      return Promise.reject(new JobsError('config', `no SSH key for ${t.label}: set identityFile in the cluster profile, add IdentityFile to ~/.ssh/config, or run an ssh-agent`));
    }
    const t0 = Date.now();
    // loaded on first use: the editor activates without evaluating the SSH stack
    this.connecting = import('ssh2').then(({ Client: SshClient }) => new Promise<Client>((resolve, reject) => {
      const c = new SshClient();
      let settled = false;
      c.once('ready', () => {
        settled = true;
        this.connectMs = Date.now() - t0;
        this.client = c;
        this.connecting = undefined;
        resolve(c);
      });
      // `on`, not `once`: a connection that drops later (a reset, a killed session) emits 'error'
      // again, and an 'error' without a listener would crash the process
      c.on('error', (e: Error & { level?: string }) => {
        this.connecting = undefined;
        if (settled) return;
        settled = true;
        const msg = e.message || String(e);
        if (hostKeyProblem) reject(new JobsError('auth', `SSH to ${t.label}: ${hostKeyProblem}`));
        else if (/passphrase/i.test(msg)) reject(new JobsAuthError(`SSH key ${keyFile} is encrypted`, undefined, PASSPHRASE_FIX));
        else if (e.level === 'client-authentication' || /authentication methods failed/i.test(msg)) reject(new JobsAuthError(`SSH to ${t.label}: the server refused ${keyFile ? `the key ${keyFile}` : 'our credentials'} (${msg}): check user, identityFile and the server's authorized_keys`));
        else if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|Timed out/i.test(msg)) reject(new JobsError('connection', `cannot reach SSH at ${t.label} (${msg}): check host and port in the cluster profile / ~/.ssh/config`));
        else reject(new JobsError('connection', `SSH to ${t.label} failed: ${msg}`));
      });
      c.on('close', () => {
        if (this.client === c) this.client = undefined;
      });
      try {
        c.connect(cfg);
      } catch (e) {
        settled = true;
        this.connecting = undefined;
        const msg = (e as Error).message;
        reject(/passphrase|encrypted/i.test(msg) ? new JobsAuthError(`SSH key ${keyFile} cannot be read (${msg})`, undefined, PASSPHRASE_FIX) : new JobsError('config', `SSH to ${t.label}: ${msg}`));
      }
    }));
    return this.connecting;
  }

  private async channel(command: string): Promise<ClientChannel> {
    const c = await this.connect();
    return new Promise((resolve, reject) => {
      c.exec(command, (err, stream) => {
        if (err) reject(new JobsError('connection', `SSH to ${this.target.label}: cannot run a command (${err.message})`));
        else resolve(stream);
      });
    });
  }

  /** Runs `command` in the remote login shell; resolves with its output and exit code. */
  async exec(command: string, stdin?: string | Buffer): Promise<ExecResult> {
    const ch = await this.channel(command);
    return new Promise((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | null = null;
      ch.on('data', (d: Buffer) => out.push(d));
      ch.stderr.on('data', (d: Buffer) => err.push(d));
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('close', () => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code }));
      if (stdin !== undefined) ch.end(stdin);
      else ch.end();
    });
  }

  /**
   * Streams the stdout of `command` as text chunks until it exits or `signal` aborts. On abort,
   * stdin is closed (the command is expected to stop on EOF) and the channel is closed.
   */
  stream(command: string, signal?: AbortSignal): AsyncIterable<string> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        const ch = await self.channel(command);
        const queue: string[] = [];
        let done = false;
        let wake: (() => void) | undefined;
        const notify = () => {
          wake?.();
          wake = undefined;
        };
        ch.setEncoding('utf8');
        ch.on('data', (d: string) => {
          queue.push(d);
          notify();
        });
        ch.stderr.resume();
        ch.on('close', () => {
          done = true;
          notify();
        });
        const onAbort = () => {
          ch.end();
          ch.close();
          done = true;
          notify();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        try {
          for (;;) {
            while (queue.length) yield queue.shift()!;
            if (done || signal?.aborted) break;
            await new Promise<void>((r) => (wake = r));
          }
          while (queue.length && !signal?.aborted) yield queue.shift()!;
        } finally {
          signal?.removeEventListener('abort', onAbort);
          if (!done) {
            ch.end();
            ch.close();
          }
        }
      },
    };
  }

  /**
   * Opens a direct-tcpip channel through the login node to `host:port` (what `ssh -L` does), on
   * this connection (reconnecting first when it dropped). Rejects with a JobsError that says why:
   * forwarding refused by the server (AllowTcpForwarding), nothing listening there, the name unknown.
   */
  async forwardOut(host: string, port: number): Promise<ClientChannel> {
    const c = await this.connect();
    return new Promise((resolve, reject) => {
      c.forwardOut('127.0.0.1', 0, host, port, (err, ch) => {
        if (!err) return resolve(ch);
        const reason = (err as Error & { reason?: number | string }).reason;
        const where = `${host}:${port} through ${this.target.label}`;
        if (reason === 1) reject(new JobsError('rejected', `SSH to ${this.target.label} refused to forward a port to ${host}:${port} (${err.message}): the server does not allow TCP forwarding — ask the cluster admins for AllowTcpForwarding yes in sshd_config (or use a login node that allows it)`));
        else if (reason === 2) reject(new JobsError('connection', `nothing answers at ${where} (${err.message}): the server is not listening there (yet)`));
        else reject(new JobsError('connection', `cannot open a tunnel to ${where}: ${err.message}`));
      });
    });
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return !!this.client;
  }

  close(): void {
    this.client?.end();
    this.client = undefined;
  }
}
