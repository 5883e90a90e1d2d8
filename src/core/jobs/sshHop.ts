/**
 * One SSH client session of a route (sshRoute.ts): dial a hop — over TCP, over a ProxyCommand's
 * stdio, or over a channel opened on the hop before it — check its host key against known_hosts,
 * authenticate, and turn each failure into a JobsError that names the hop. Also the channel one
 * hop opens to the next (what `ssh -W host:port` asks the jump host for).
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import type { ErrorFix } from '../errors';
import { JobsAuthError, JobsError } from './errors';
import { verifyHostKey, type HostKeyPolicy } from './knownHosts';
import type { ResolvedSshHop } from './sshRoute';

/** An SSH key that needs its passphrase: the adapters name where it is set (a VS Code command, a CLI variable). */
const PASSPHRASE_FIX: ErrorFix = { text: 'load the key into ssh-agent, or set its passphrase', setting: 'jobs.sshPassphrase' };

export interface DialOptions {
  hop: ResolvedSshHop;
  /** the subject of messages: "SSH to <who>: …" */
  who: string;
  /** what to check when nothing answers */
  reachHint: string;
  /** what to set when there is no key */
  keyHint: string;
  /** a stream to run SSH over (a ProxyCommand's stdio, a channel of the hop before); default: TCP to hop.host:hop.port */
  sock?: Duplex;
  /** a ProxyCommand's account of its failure */
  proxyFailure?: () => Promise<string | undefined>;
  policy: HostKeyPolicy;
  /** decrypts the local key file; never sent */
  passphrase?: string;
  /** sent to this hop only: pass it for the cluster's login node, never for a jump host */
  password?: string;
}

function hostKeyMessage(policy: HostKeyPolicy, hop: ResolvedSshHop, verdict: string): string {
  return verdict === 'changed'
    ? `the host key of ${hop.host}:${hop.port} CHANGED since it was saved in ${policy.file} — someone may be intercepting the connection; if the server was reinstalled, remove its old line there`
    : `the host key of ${hop.host}:${hop.port} is not in ${policy.file} and strictHostKeyChecking is 'yes': connect once with ssh to add it`;
}

/** A connected, authenticated client for `o.hop`. It keeps an 'error' listener for its whole life (a late error must not crash the process). */
export async function dialHop(o: DialOptions): Promise<Client> {
  const { hop, who, policy } = o;
  let hostKeyProblem: string | undefined;
  const cfg: ConnectConfig = {
    host: hop.host,
    port: hop.port,
    username: hop.user,
    readyTimeout: 20000,
    keepaliveInterval: 30000,
    hostVerifier: (key: Buffer) => {
      const r = verifyHostKey(policy, hop.host, hop.port, key);
      if (!r.ok) hostKeyProblem = hostKeyMessage(policy, hop, r.verdict);
      return r.ok;
    },
  };
  if (o.sock) cfg.sock = o.sock;
  const keyFile = hop.identityFiles[0];
  if (keyFile) cfg.privateKey = readFileSync(keyFile);
  if (o.passphrase) cfg.passphrase = o.passphrase;
  if (o.password) cfg.password = o.password;
  if (process.env.SSH_AUTH_SOCK) cfg.agent = process.env.SSH_AUTH_SOCK;
  if (!keyFile && !cfg.password && !cfg.agent) throw new JobsError('config', `no SSH key for ${who}: ${o.keyHint}`);
  // loaded on first use: the editor activates without evaluating the SSH stack
  const { Client: SshClient } = await import('ssh2');
  return new Promise<Client>((resolve, reject) => {
    const c = new SshClient();
    let settled = false;
    c.once('ready', () => {
      settled = true;
      resolve(c);
    });
    // `on`, not `once`: a connection that drops later (a reset, a killed session) emits 'error'
    // again, and an 'error' without a listener would crash the process
    c.on('error', (e: Error & { level?: string }) => {
      if (settled) return;
      settled = true;
      const msg = e.message || String(e);
      void (async () => {
        const proxySaid = o.proxyFailure && !hostKeyProblem ? await o.proxyFailure() : undefined;
        if (hostKeyProblem) reject(new JobsError('auth', `SSH to ${who}: ${hostKeyProblem}`));
        else if (/passphrase/i.test(msg))
          reject(new JobsAuthError(`SSH key ${keyFile} (for ${who}) is encrypted`, undefined, PASSPHRASE_FIX));
        else if (e.level === 'client-authentication' || /authentication methods failed/i.test(msg))
          reject(
            new JobsAuthError(
              `SSH to ${who}: the server refused ${keyFile ? `the key ${keyFile}` : 'our credentials'} (${msg}): check user, identityFile and the server's authorized_keys`,
            ),
          );
        else if (proxySaid) reject(new JobsError('connection', `SSH to ${who} failed (${msg}): ${proxySaid}`));
        else if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|Timed out/i.test(msg))
          reject(new JobsError('connection', `cannot reach SSH at ${who} (${msg}): ${o.reachHint}`));
        else reject(new JobsError('connection', `SSH to ${who} failed: ${msg}`));
      })();
    });
    try {
      c.connect(cfg);
    } catch (e) {
      settled = true;
      const msg = (e as Error).message;
      reject(
        /passphrase|encrypted/i.test(msg)
          ? new JobsAuthError(`SSH key ${keyFile} (for ${who}) cannot be read (${msg})`, undefined, PASSPHRASE_FIX)
          : new JobsError('config', `SSH to ${who}: ${msg}`),
      );
    }
  });
}

/** The channel from a jump host to the next hop's SSH port (a direct-tcpip channel, as `ssh -W` opens). */
export function openHopChannel(via: Client, who: string, next: ResolvedSshHop): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, next.host, next.port, (err, ch) => {
      if (!err) return resolve(ch);
      const reason = (err as Error & { reason?: number | string }).reason;
      const to = `${next.host}:${next.port}`;
      if (reason === 1)
        reject(
          new JobsError(
            'rejected',
            `${who} refused to open a connection to ${to} (${err.message}): the jump host does not allow TCP forwarding (AllowTcpForwarding / PermitOpen in its sshd_config)`,
          ),
        );
      else if (reason === 2)
        reject(
          new JobsError(
            'connection',
            `${who} cannot connect to ${to} (${err.message}): check the HostName and Port of ${next.alias} as the jump host sees them`,
          ),
        );
      else reject(new JobsError('connection', `${who} cannot open a connection to ${to}: ${err.message}`));
    });
  });
}
