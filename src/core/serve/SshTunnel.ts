/**
 * An SSH local port forward (`ssh -L 127.0.0.1:LOCAL:node:port login`) on the ssh2 connection the
 * Slurm backend already has: a TCP server on 127.0.0.1 whose every connection becomes a
 * direct-tcpip channel to `node:port`. When the SSH connection drops, the next local connection
 * re-opens it (SshConnection reconnects), so the local port — and the base URL clients hold —
 * stays the same across drops.
 */
import * as net from 'node:net';
import type { SshConnection } from '../jobs/SshConnection';

export class SshTunnel {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** the last failure to open a channel (for readiness messages) */
  lastError?: Error;
  /** channels opened so far */
  channelsOpened = 0;
  /** times the SSH connection had to be opened again for a channel */
  reconnects = 0;
  localPort = 0;

  constructor(
    private readonly ssh: SshConnection,
    readonly host: string,
    readonly port: number,
  ) {}

  get localUrl(): string {
    return `http://127.0.0.1:${this.localPort}`;
  }

  /** Listens on 127.0.0.1 (a free port unless `localPort` is given); resolves with the port. */
  open(localPort = 0): Promise<number> {
    if (this.server) return Promise.resolve(this.localPort);
    const server = net.createServer((sock) => this.onConnection(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(localPort, '127.0.0.1', () => {
        server.off('error', reject);
        this.localPort = (server.address() as net.AddressInfo).port;
        resolve(this.localPort);
      });
    });
  }

  /** Opens (and closes) one channel: resolves when `node:port` accepts through the login node, rejects with why not. */
  async probe(): Promise<void> {
    const ch = await this.channel();
    ch.close();
  }

  private async channel() {
    const wasConnected = this.ssh.connected;
    try {
      const ch = await this.ssh.forwardOut(this.host, this.port);
      this.channelsOpened++;
      if (!wasConnected && this.channelsOpened > 1) this.reconnects++;
      this.lastError = undefined;
      return ch;
    } catch (e) {
      this.lastError = e as Error;
      throw e;
    }
  }

  private onConnection(sock: net.Socket): void {
    this.sockets.add(sock);
    sock.on('close', () => this.sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    sock.pause();
    this.channel().then(
      (ch) => {
        if (sock.destroyed) return ch.close();
        ch.on('error', () => sock.destroy());
        ch.on('close', () => sock.destroy());
        sock.on('close', () => ch.close());
        sock.pipe(ch).pipe(sock);
        sock.resume();
      },
      () => sock.destroy(),
    );
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
