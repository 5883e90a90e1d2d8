/**
 * Jupyter connection files: five free TCP ports on 127.0.0.1 and a random HMAC-SHA256 key,
 * written (mode 0600) in a folder made for one launch — never in the code's working folder.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { KernelLaunchError } from './errors';

export interface ConnectionInfo {
  /** 'ipc': unix sockets named `<ip>-<port>` (sandboxed kernels without a network) */
  transport: 'tcp' | 'ipc';
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: 'hmac-sha256';
  kernel_name: string;
}

export type Channel = 'shell' | 'iopub' | 'stdin' | 'control' | 'hb';

/** One port the OS says is free now (bound to port 0, then released). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() =>
        port
          ? resolve(port)
          : reject(
              new KernelLaunchError({
                reason: 'the system assigned no free TCP port for the kernel',
                fix: 'retry; if it persists, check the local network configuration',
                retryable: true,
              }),
            ),
      );
    });
  });
}

/**
 * Five distinct free ports. There is a short window in which another process could take
 * one; the session retries the launch with new ports if the kernel fails to bind.
 */
export async function pickPorts(host = '127.0.0.1', count = 5): Promise<number[]> {
  const ports = new Set<number>();
  // ask for them while the previous ones are still closed-but-fresh: duplicates are rare, retry them
  for (let tries = 0; ports.size < count && tries < count * 10; tries++) ports.add(await freePort(host));
  if (ports.size < count)
    throw new KernelLaunchError({
      reason: `could not find ${count} free TCP ports on ${host} for the kernel`,
      fix: 'free some ports or retry; too many processes may hold local ports',
      retryable: true,
    });
  return [...ports];
}

export async function createConnectionInfo(host = '127.0.0.1'): Promise<ConnectionInfo> {
  const [shell, iopub, stdin, control, hb] = await pickPorts(host, 5);
  return {
    transport: 'tcp',
    ip: host,
    shell_port: shell,
    iopub_port: iopub,
    stdin_port: stdin,
    control_port: control,
    hb_port: hb,
    key: randomBytes(32).toString('hex'),
    signature_scheme: 'hmac-sha256',
    kernel_name: 'codedance',
  };
}

/**
 * Unix-socket transport for a kernel without network access: `ip` is a path prefix (in a
 * folder bound into the sandbox), each socket is `<ip>-<port>`; the ports are just names.
 */
export function createIpcConnectionInfo(prefix: string): ConnectionInfo {
  return {
    transport: 'ipc',
    ip: prefix,
    shell_port: 1,
    iopub_port: 2,
    stdin_port: 3,
    control_port: 4,
    hb_port: 5,
    key: randomBytes(32).toString('hex'),
    signature_scheme: 'hmac-sha256',
    kernel_name: 'codedance',
  };
}

/** the connection file's text (launch.ts creates the file, exclusively, in a folder it just made) */
export function connectionFileText(info: ConnectionInfo): string {
  return JSON.stringify(info, null, 1);
}

export function endpoint(info: ConnectionInfo, channel: Channel): string {
  const port = info[`${channel}_port` as const];
  return info.transport === 'ipc' ? `ipc://${info.ip}-${port}` : `${info.transport}://${info.ip}:${port}`;
}
