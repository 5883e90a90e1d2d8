/**
 * ssh_config's ProxyCommand: the command runs as ssh runs it (`$SHELL -c "exec COMMAND"`, tokens
 * already expanded by sshRoute.ts), and its stdin/stdout become the socket the SSH client talks
 * over (ssh2's `sock`). Its stderr is kept (the last 2 KB) to say why it failed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';

export interface ProxyCommandStream {
  /** the command's stdout (read) and stdin (write), for ssh2's `sock` */
  sock: Duplex;
  /** once the SSH handshake failed: what the command said or how it ended (waits up to 1 s for it to exit) */
  failure(): Promise<string | undefined>;
  /** ends the command (SIGTERM) if it still runs */
  stop(): void;
}

function run(command: string): ChildProcessWithoutNullStreams {
  if (process.platform === 'win32') return spawn(command, { shell: true, windowsHide: true, stdio: 'pipe' });
  return spawn(process.env.SHELL || '/bin/sh', ['-c', `exec ${command}`], { stdio: 'pipe' });
}

export function startProxyCommand(command: string): ProxyCommandStream {
  const child = run(command);
  let stderr = '';
  let spawnError: Error | undefined;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    stderr = (stderr + d).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (e) => {
      spawnError = e;
      resolve();
    });
  });
  // 'exit' can come before the last of stderr is read: what it said is whole once stderr closed too
  const stderrClosed = new Promise<void>((resolve) => child.stderr.once('close', () => resolve()));
  const ended = Promise.all([exited, stderrClosed]);
  const sock = Duplex.from({ readable: child.stdout, writable: child.stdin });
  // a write after the command exited (EPIPE) also reaches ssh2 as a socket error; this keeps it from being unhandled
  sock.on('error', () => undefined);
  const running = () => child.exitCode === null && child.signalCode === null && !spawnError;
  return {
    sock,
    async failure() {
      await Promise.race([ended, new Promise((r) => setTimeout(r, 1000).unref())]);
      const said = stderr.trim() ? `: ${stderr.trim()}` : '';
      if (spawnError) return `the ProxyCommand "${command}" cannot be started (${spawnError.message})`;
      if (child.exitCode !== null) return `the ProxyCommand "${command}" exited with code ${child.exitCode}${said}`;
      if (child.signalCode !== null) return `the ProxyCommand "${command}" was ended by ${child.signalCode}${said}`;
      return said ? `the ProxyCommand "${command}" said${said}` : undefined;
    },
    stop() {
      child.stdin.end();
      if (running() && child.pid !== undefined) child.kill('SIGTERM');
    },
  };
}
