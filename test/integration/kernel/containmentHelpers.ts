/**
 * What the containment tests (containment.test.ts, containmentSupervisor.test.ts) share: the
 * interpreter, waiting on processes, a double-forked daemon, and bwrap arguments like the sandbox's.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const PY = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';
export const ROOT = path.resolve(__dirname, '../../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** a live (not zombie) process */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !['Z', 'X'].includes(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

export function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  let out = '';
  c.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  c.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  return new Promise((r) => c.on('close', (code, signal) => r({ code, signal, out })));
}

/** python code: a daemon (fork, setsid, fork, stdio to /dev/null) that writes its PID to `pidFile` and sleeps */
export const daemonCode = (pidFile: string) => `
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))
        time.sleep(600)
    os._exit(0)
`;

/** bwrap arguments like the kernel sandbox's (sandbox.ts): PID namespace, read-only root, no network */
export function bwrapArgs(extra: string[] = []): string[] {
  const caps = process.getuid?.() === 0 ? ['--cap-drop', 'ALL'] : [];
  return [
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-net',
    '--die-with-parent',
    '--new-session',
    ...caps,
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    ...extra,
  ];
}
