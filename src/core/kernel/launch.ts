/**
 * Starting one kernel process: the connection file (ports and HMAC key), the command line, the
 * environment, and the spawn. This is the only place that decides how a kernel is started, so
 * that a sandbox can wrap it (the command becomes the wrapper, the interpreter its argument).
 * Everything after the spawn (handshake, prelude) is incarnation.ts's.
 */
import { closeSync, constants, fchownSync, openSync } from 'node:fs';
import path from 'node:path';
import { type ConnectionInfo, connectionFileText, createConnectionInfo, createIpcConnectionInfo, endpoint } from './connection';
import { createKernelCgroup } from './cgroup';
import { forkablePlan, launchForked, planInterpreter } from './forkLaunch';
import { readyForkTemplate } from './forkTemplate';
import { allPresent, inputsDir, linkSockets, makeFreshDir, writeExclusive } from './hostFolders';
import type { LimitsInForce } from './limits';
import { KernelProcess } from './process';
import { type KernelCgroup } from './cgroup';
import { type LaunchPlan, planKernelLaunch, sandboxedInterpreterPid, type SandboxOptions } from './sandbox';

export interface KernelLaunchSpec {
  /** the interpreter that runs ipykernel */
  python: string;
  /** the code's working folder (the kernel's cwd) */
  workdir: string;
  /** the session's private folder (hostFolders.ts): never bound; k-<n>/ and links-<n>/ are made in it */
  runtimeDir: string;
  /** the incarnation number: names its folders (k-<n>, links-<n>); each is made anew */
  n: number;
  /** extra environment for the kernel (on top of the allow-listed host variables) */
  env?: Record<string, string>;
  /** sandbox, network, limits, passEnv (sandbox.ts) */
  sandbox?: SandboxOptions;
}

export interface LaunchedKernel {
  proc: KernelProcess;
  /** the connection as the kernel sees it (its connection file) */
  conn: ConnectionInfo;
  /** the kernel's user when it is not ours (root runs sandboxed code as nobody) */
  runAs?: { uid: number; gid: number };
  connectionFile: string;
  /** the command line, for error messages ("python -m ipykernel_launcher") */
  describe: string;
  sandboxed: boolean;
  /** the address-space limit the process got, MiB (0: none) */
  memoryLimitMb: number;
  /** the limits in force and what they count (for a failed start's cause) */
  limits: LimitsInForce;
  /** the memory and process limits hold for the whole sandbox (its cgroup) */
  cgroupLimited: { memory: boolean; pids: boolean };
  /** a fork of the template (forkTemplate.ts): the prelude is loaded already, only installed */
  forked: boolean;
}

/** kernel processes this Node process has launched (diagnostics and tests: "this run started no kernel") */
let launches = 0;
export function kernelLaunchCount(): number {
  return launches;
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
 * sandbox where there is one (then ZeroMQ runs over ipc sockets unless network is on). The
 * connection file and sockets live in a folder made for this launch (k-<n>), the only part of
 * the runtime folder the sandbox sees (writable); staged inputs are bound read-only.
 */
export async function launchKernel(spec: KernelLaunchSpec): Promise<LaunchedKernel> {
  const kdir = path.join(spec.runtimeDir, `k-${spec.n}`);
  const plan = await planKernelLaunch({
    ...spec.sandbox,
    python: spec.python,
    args: [],
    env: kernelEnv(spec.env),
    workdir: spec.workdir,
    writable: [kdir],
    readOnly: [inputsDir(spec.runtimeDir)],
  });
  // run as root, the sandboxed code is nobody: it gets its folders (Node, as root, keeps access)
  const owner = plan.runAs;
  if (owner) chownFolder(spec.workdir, owner);
  makeFreshDir(kdir, 0o700, owner);
  const conn = plan.transport === 'ipc' ? createIpcConnectionInfo(path.join(kdir, 'k')) : await createConnectionInfo();
  const connectionFile = path.join(kdir, 'kernel.json');
  writeExclusive(connectionFile, connectionFileText(conn), 0o600, owner);
  const args = [...plan.args, '-m', 'ipykernel_launcher', '-f', connectionFile, ...KERNEL_ARGS];
  // the kernel and all it starts in a cgroup of their own (memory.max, pids.max), where there is one;
  // not a missing interpreter: its spawn must fail as such (ENOENT), not as a shell's exit 127
  const cgroup = plan.cgroupLimits && !plan.interpreterMissing ? createKernelCgroup(plan.cgroupLimits) : undefined;
  const template = forkedStartsWanted(spec.sandbox?.forkedStarts) && forkablePlan(plan, cgroup) ? await forkTemplate(plan) : undefined;
  const run = cgroup ? cgroup.wrap(plan.command, args) : { command: plan.command, args };
  launches++;
  const proc = template
    ? launchForked({ plan, cgroup, template, workdir: spec.workdir, connectionFile, kernelArgs: KERNEL_ARGS })
    : coldProcess(plan, run, spec.workdir, cgroup);
  const cgroupLimited = { memory: cgroup?.memoryLimited ?? false, pids: cgroup?.pidsLimited ?? false };
  return {
    proc,
    conn,
    runAs: owner,
    connectionFile,
    describe: `${plan.sandboxed ? 'sandboxed ' : ''}${spec.python} -m ipykernel_launcher${template ? ' (forked from the template)' : ''}`,
    sandboxed: plan.sandboxed,
    memoryLimitMb: plan.memoryLimitMb,
    limits: plan.limits,
    cgroupLimited,
    forked: template !== undefined,
  };
}

/** forked starts unless turned off (the option, or CODEDANCE_KERNEL_FORKED_STARTS=0) */
export function forkedStartsWanted(option: boolean | undefined): boolean {
  return option ?? process.env.CODEDANCE_KERNEL_FORKED_STARTS !== '0';
}

/** the fork template for this plan's interpreter and environment, when one can be had */
function forkTemplate(plan: LaunchPlan) {
  return readyForkTemplate(planInterpreter(plan), plan.env, process.env);
}

/** a new interpreter: the plan's command line, in the kernel's cgroup */
function coldProcess(
  plan: LaunchPlan,
  run: { command: string; args: string[]; env?: Record<string, string> },
  workdir: string,
  cgroup: KernelCgroup | undefined,
): KernelProcess {
  return new KernelProcess({
    command: run.command,
    args: run.args,
    cwd: workdir,
    env: { ...plan.env, ...(run.env ?? {}) },
    sandboxed: plan.sandboxed,
    infoFd: plan.infoFd,
    seccomp: plan.seccomp,
    supervised: plan.supervised,
    cgroup,
    innerPid: plan.interruptTarget === 'sandboxed-grandchild' ? sandboxedInterpreterPid : undefined,
  });
}

/** hands a folder we made to the sandbox's user, through its descriptor (never following a link) */
function chownFolder(dir: string, owner: { uid: number; gid: number }): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchownSync(fd, owner.uid, owner.gid);
  } finally {
    closeSync(fd);
  }
}

const CHANNELS = ['shell', 'iopub', 'stdin', 'control', 'hb'] as const;

/**
 * Where the host connects. TCP: the kernel's own ports. IPC: once the kernel has bound its five
 * sockets (in k-<n>, which the code can change), they are hard-linked into links-<n> (which it
 * cannot) and checked to be sockets; the host connects through those links only. Resolves
 * 'exited' or 'timeout' when the kernel ends or does not bind in time.
 */
export async function hostConnection(
  launched: LaunchedKernel,
  runtimeDir: string,
  n: number,
  timeoutMs: number,
): Promise<ConnectionInfo | 'exited' | 'timeout'> {
  const { conn, proc } = launched;
  if (conn.transport !== 'ipc') return conn;
  const sockets = CHANNELS.map((c) => endpoint(conn, c).slice('ipc://'.length));
  const until = Date.now() + timeoutMs;
  while (!allPresent(sockets)) {
    if (!proc.alive) return 'exited';
    if (Date.now() > until) return 'timeout';
    await new Promise((r) => setTimeout(r, 5));
  }
  const links = makeFreshDir(path.join(runtimeDir, `links-${n}`));
  const host = { ...conn, ip: path.join(links, 'k') };
  linkSockets(
    sockets,
    CHANNELS.map((c) => endpoint(host, c).slice('ipc://'.length)),
    launched.runAs?.uid ?? process.getuid?.(),
  );
  return host;
}
