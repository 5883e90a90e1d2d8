/**
 * Starting one kernel process: the connection file (ports and HMAC key), the command line, the
 * environment, and the spawn. This is the only place that decides how a kernel is started, so
 * that a sandbox can wrap it (the command becomes the wrapper, the interpreter its argument).
 * Everything after the spawn (handshake, prelude) is incarnation.ts's.
 */
import { chownSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type ConnectionInfo, createConnectionInfo, createIpcConnectionInfo, writeConnectionFile } from './connection';
import { KernelProcess } from './process';
import { planKernelLaunch, sandboxedInterpreterPid, type SandboxOptions } from './sandbox';

export interface KernelLaunchSpec {
  /** the interpreter that runs ipykernel */
  python: string;
  /** the code's working folder (the kernel's cwd) */
  workdir: string;
  /** the session's private folder (connection file, ipc sockets, staged inputs) */
  runtimeDir: string;
  /** the incarnation number: names the connection file (kernel-<n>.json) */
  n: number;
  /** extra environment for the kernel (on top of the allow-listed host variables) */
  env?: Record<string, string>;
  /** sandbox, network, limits, passEnv (sandbox.ts) */
  sandbox?: SandboxOptions;
}

export interface LaunchedKernel {
  proc: KernelProcess;
  conn: ConnectionInfo;
  connectionFile: string;
  /** the command line, for error messages ("python -m ipykernel_launcher") */
  describe: string;
  sandboxed: boolean;
  /** the address-space limit the process got, MiB (0: none) */
  memoryLimitMb: number;
}

/** ipykernel arguments after the connection file: no history database, no banner */
export const KERNEL_ARGS = ['--HistoryManager.enabled=False', '--IPKernelApp.quiet=True'];

/** What the kernel is given on top of the allow-listed host environment (sandbox.ts). */
export function kernelEnv(extra: Record<string, string> | undefined): Record<string, string> {
  return {
    ...extra,
    MPLBACKEND: 'Agg',
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    PYTHONIOENCODING: 'utf-8',
  };
}

/**
 * Writes a fresh connection file and spawns `python -m ipykernel_launcher -f <file>`, in the
 * sandbox where there is one (then ZeroMQ runs over ipc sockets unless network is on).
 */
export async function launchKernel(spec: KernelLaunchSpec): Promise<LaunchedKernel> {
  const plan = await planKernelLaunch({ ...spec.sandbox, python: spec.python, args: [], env: kernelEnv(spec.env), workdir: spec.workdir, runtimeDir: spec.runtimeDir });
  let conn: ConnectionInfo;
  if (plan.transport === 'ipc') {
    const dir = path.join(spec.runtimeDir, 'ipc');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    conn = createIpcConnectionInfo(path.join(dir, `k${spec.n}`));
  } else conn = await createConnectionInfo();
  const connectionFile = path.join(spec.runtimeDir, `kernel-${spec.n}.json`);
  writeConnectionFile(connectionFile, conn);
  // run as root, the sandboxed code is nobody: it gets its folders (Node, as root, keeps access)
  if (plan.runAs) for (const p of [spec.workdir, spec.runtimeDir, connectionFile, ...(plan.transport === 'ipc' ? [path.dirname(conn.ip)] : [])]) chownSync(p, plan.runAs.uid, plan.runAs.gid);
  const args = [...plan.args, '-m', 'ipykernel_launcher', '-f', connectionFile, ...KERNEL_ARGS];
  const proc = new KernelProcess({
    command: plan.command,
    args,
    cwd: spec.workdir,
    env: plan.env,
    sandboxed: plan.sandboxed,
    innerPid: plan.interruptTarget === 'sandboxed-grandchild' ? sandboxedInterpreterPid : undefined,
  });
  return { proc, conn, connectionFile, describe: `${plan.sandboxed ? 'sandboxed ' : ''}${spec.python} -m ipykernel_launcher`, sandboxed: plan.sandboxed, memoryLimitMb: plan.memoryLimitMb };
}
