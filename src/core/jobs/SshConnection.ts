/**
 * One SSH connection (the npm `ssh2` client, pure JS) to a cluster's login node: run a command
 * and collect its output, or stream a command's stdout. Settings come from a profile plus the
 * user's ~/.ssh/config, including its ProxyJump (one ssh2 client per jump host, each reaching the
 * next through a direct-tcpip channel) and ProxyCommand (sshRoute.ts); every hop's host key is
 * checked against known_hosts (knownHosts.ts). Files are read over the same connection's SFTP
 * subsystem (`sftp()`): paths travel as they are, never through a shell.
 */
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import type { Duplex } from 'node:stream';
import { JobsError } from './errors';
import type { HostKeyPolicy } from './knownHosts';
import { expandHome } from './sshConfig';
import { dialHop, openHopChannel } from './sshHop';
import { startProxyCommand, type ProxyCommandStream } from './sshProxyCommand';
import { describeHop, resolveSshTarget, type ResolvedSshTarget, type SshRouteOptions } from './sshRoute';
import type { JobSecrets, SlurmClusterProfile } from './types';

export type { ResolvedSshTarget } from './sshRoute';

/** A Slurm profile's SSH fields, with `proxyJump` (ssh's `-J`: jump hosts that replace ssh_config's). */
export type SshProfile = SlurmClusterProfile & Pick<SshRouteOptions, 'proxyJump'>;

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export class SshConnection {
  private client?: Client;
  private connecting?: Promise<Client>;
  /** the SFTP session of `client`, while both are open */
  private sftpSession?: { client: Client; sftp: Promise<SFTPWrapper> };
  readonly target: ResolvedSshTarget;
  /** ms the last connect took (every hop's handshake + auth) */
  connectMs = 0;

  constructor(
    private readonly profile: SshProfile,
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
    const t0 = Date.now();
    this.connecting = this.open().then(
      (c) => {
        this.connectMs = Date.now() - t0;
        this.client = c;
        this.connecting = undefined;
        return c;
      },
      (e: unknown) => {
        this.connecting = undefined;
        throw e;
      },
    );
    return this.connecting;
  }

  /**
   * Dials the route: the ProxyCommand (if any), then each jump host over a channel opened on the
   * one before, then the login node. When any of them ends, the login node's client closes too
   * (its socket is the last channel), and the rest are ended with it.
   */
  private async open(): Promise<Client> {
    const t = this.target;
    const policy = this.hostKeyPolicy();
    const hops = [...t.jumps, t];
    const opened: Client[] = [];
    let proxy: ProxyCommandStream | undefined;
    const teardown = () => {
      for (const c of opened.splice(0).reverse()) c.end();
      proxy?.stop();
    };
    const via = t.jumps.length ? ` through ${t.jumps.map((j) => j.alias).join(', ')}` : '';
    try {
      let sock: Duplex | undefined;
      if (t.proxyCommand !== undefined) {
        proxy = startProxyCommand(t.proxyCommand);
        sock = proxy.sock;
      }
      for (let i = 0; i < hops.length; i++) {
        const isTarget = i === hops.length - 1;
        const who = isTarget ? `${t.label}${via}` : describeHop(t, i);
        const c = await dialHop({
          hop: hops[i],
          who,
          sock,
          proxyFailure: i === 0 ? proxy?.failure : undefined,
          policy,
          passphrase: this.secrets.passphrase,
          // the password is the login node's: a jump host never gets it
          password: isTarget ? this.secrets.password : undefined,
          reachHint:
            isTarget && !t.jumps.length
              ? 'check host and port in the cluster profile / ~/.ssh/config'
              : `check HostName and Port of ${hops[i].alias} in ~/.ssh/config and the ProxyJump list`,
          keyHint: isTarget
            ? 'set identityFile in the cluster profile, add IdentityFile to ~/.ssh/config, or run an ssh-agent'
            : `add IdentityFile to the Host ${hops[i].alias} block of ~/.ssh/config, or run an ssh-agent`,
        });
        opened.push(c);
        if (!isTarget) sock = await openHopChannel(c, describeHop(t, i), hops[i + 1]);
      }
    } catch (e) {
      teardown();
      throw e;
    }
    const final = opened[opened.length - 1];
    final.on('close', () => {
      if (this.client === final) this.client = undefined;
      teardown();
    });
    return final;
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
        if (reason === 1)
          reject(
            new JobsError(
              'rejected',
              `SSH to ${this.target.label} refused to forward a port to ${host}:${port} (${err.message}): the server does not allow TCP forwarding — ask the cluster admins for AllowTcpForwarding yes in sshd_config (or use a login node that allows it)`,
            ),
          );
        else if (reason === 2)
          reject(new JobsError('connection', `nothing answers at ${where} (${err.message}): the server is not listening there (yet)`));
        else reject(new JobsError('connection', `cannot open a tunnel to ${where}: ${err.message}`));
      });
    });
  }

  /**
   * The SFTP session on this connection (the server's `sftp` subsystem: OpenSSH's `Subsystem sftp`),
   * opened on first use and shared; after a dropped connection the next call reconnects and opens
   * a new one. Rejects with a JobsError: `config` when the server offers no SFTP, `connection` else.
   */
  async sftp(): Promise<SFTPWrapper> {
    const c = await this.connect();
    if (this.sftpSession?.client === c) return this.sftpSession.sftp;
    const where = `SSH to ${this.target.label}`;
    const sftp = new Promise<SFTPWrapper>((resolve, reject) => {
      const fail = (e: Error) =>
        reject(
          /subsystem/i.test(e.message)
            ? new JobsError(
                'config',
                `${where}: the server offers no SFTP (${e.message}): files are read over SFTP; ask the cluster admins for "Subsystem sftp" in sshd_config`,
              )
            : new JobsError('connection', `${where}: cannot open an SFTP session (${e.message})`),
        );
      try {
        c.sftp((err, s) => {
          if (err) return fail(err);
          // `on`: an error after the session opened (a dropped connection) must not crash the process;
          // the request that was waiting gets its own error
          s.on('error', () => undefined);
          s.on('close', () => {
            if (this.sftpSession?.sftp === sftp) this.sftpSession = undefined;
          });
          resolve(s);
        });
      } catch (e) {
        fail(e as Error); // "Not connected": the socket closed before 'close' reached this client
      }
    });
    this.sftpSession = { client: c, sftp };
    sftp.catch(() => {
      if (this.sftpSession?.sftp === sftp) this.sftpSession = undefined;
    });
    return sftp;
  }

  /** Whether a connection is open now. */
  get connected(): boolean {
    return !!this.client;
  }

  close(): void {
    // ending the login node's client ends its jump hosts and ProxyCommand too (its 'close')
    this.client?.end();
    this.client = undefined;
    this.sftpSession = undefined;
  }
}
