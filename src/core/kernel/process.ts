/**
 * The kernel OS process (the command line comes from launch.ts), in its own process group
 * (so a terminal Ctrl+C reaches Node, not the kernel, and a kill reaches the kernel's own
 * children too), with exit detection and a tail of what it wrote to stdout/stderr.
 *
 * Orphans: every live kernel is registered; on Node's 'exit' all of them are SIGKILLed and
 * their folders removed. If Node dies without running 'exit' handlers (SIGKILL), the Linux
 * kernel ends the kernel process at once, even while it holds Python's GIL: bwrap's
 * --die-with-parent, or PR_SET_PDEATHSIG set by the launcher unsandboxed (sandbox.ts); the
 * prelude's parent watchdog (prelude/install.py) is the fallback elsewhere and removes folders.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** human wording: "exited with code 3", "killed by signal SIGSEGV" */
  description: string;
  /** the last output of the process (stderr and stdout interleaved), for diagnostics */
  outputTail: string;
}

/** What to spawn: built by launch.ts (`launchKernel`), which owns the command line. */
export interface ProcessSpec {
  /** the executable: the interpreter, or a wrapper that runs it (a sandbox) */
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string | undefined>;
  /** the interpreter's PID when it is not the spawned process (a sandbox: the interpreter
   * inside it); SIGINT goes there, and `pid` reports it */
  innerPid?: (childPid: number) => number | undefined;
  /** the process runs in a sandbox (sandbox.ts): it sees only the folders bound at launch */
  sandboxed?: boolean;
}

const TAIL_BYTES = 16 * 1024;

const SIGNAL_NOTES: Partial<Record<NodeJS.Signals, string>> = {
  SIGSEGV: 'segmentation fault',
  SIGBUS: 'bus error',
  SIGABRT: 'aborted',
  SIGKILL: 'killed, e.g. by the out-of-memory killer',
  SIGILL: 'illegal instruction',
  SIGFPE: 'floating-point exception',
};

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) {
    const note = SIGNAL_NOTES[signal];
    return `killed by signal ${signal}${note ? ` (${note})` : ''}`;
  }
  return `exited with code ${code ?? 'unknown'}`;
}

// ---------------------------------------------------------------------------------------------
// registry: kill everything on Node's exit
// ---------------------------------------------------------------------------------------------

const liveProcesses = new Set<ChildProcess>();
const liveFolders = new Set<string>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // the whole group: the kernel and anything it spawned
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of liveProcesses) killGroup(c, 'SIGKILL');
    liveProcesses.clear();
    for (const d of liveFolders) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
    liveFolders.clear();
  });
}

/** Folders removed on Node's exit if their session was not disposed. */
export function registerFolder(dir: string): void {
  installExitHook();
  liveFolders.add(dir);
}

export function unregisterFolder(dir: string): void {
  liveFolders.delete(dir);
}

// ---------------------------------------------------------------------------------------------
// stale folders of a Node process that was killed outright
// ---------------------------------------------------------------------------------------------

const OWNER_FILE = 'owner.json';
export const RUNTIME_PREFIX = 'codedance-rt-';
let swept = false;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Records which Node process owns a session's folders (for sweepStaleFolders). */
export function writeOwner(runtimeDir: string, workdir: string): void {
  writeFileSync(path.join(runtimeDir, OWNER_FILE), JSON.stringify({ nodePid: process.pid, workdir }));
}

/**
 * Removes the folders of sessions whose Node process is gone (it was SIGKILLed: no 'exit'
 * handler ran, and the kernel's own watchdog may have lost the race with ipykernel's parent
 * poller). Runs once per process, when the first session is created; cheap (one readdir).
 */
export function sweepStaleFolders(root = os.tmpdir(), force = false): number {
  if (swept && !force) return 0;
  swept = true;
  let removed = 0;
  let entries: string[];
  try {
    entries = readdirSync(root).filter((n) => n.startsWith(RUNTIME_PREFIX));
  } catch {
    return 0;
  }
  for (const name of entries) {
    const rt = path.join(root, name);
    try {
      const owner = JSON.parse(readFileSync(path.join(rt, OWNER_FILE), 'utf8')) as { nodePid: number; workdir: string };
      if (typeof owner.nodePid !== 'number' || owner.nodePid === process.pid || pidAlive(owner.nodePid)) continue;
      if (typeof owner.workdir === 'string' && path.isAbsolute(owner.workdir) && path.basename(owner.workdir).startsWith('codedance-')) {
        rmSync(owner.workdir, { recursive: true, force: true });
      }
      rmSync(rt, { recursive: true, force: true });
      removed++;
    } catch {
      /* not ours, or being written: leave it */
    }
  }
  return removed;
}

/** PIDs of kernels started by this Node process and still running (for tests and diagnostics). */
export function liveKernelPids(): number[] {
  return [...liveProcesses].map((c) => c.pid!).filter((p) => p !== undefined);
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

/** resolves when `pid` is gone from /proc (exited and reaped), or after `ms` */
async function untilGone(pid: number | undefined, ms: number): Promise<void> {
  const t0 = Date.now();
  while (pid !== undefined && Date.now() - t0 < ms) {
    let state: string;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    } catch {
      return;
    }
    if (state === 'X') return;
    await new Promise((r) => setTimeout(r, 10)); // a zombie too: the test of `kill(pid, 0)` still sees it
  }
}

// ---------------------------------------------------------------------------------------------
// one process
// ---------------------------------------------------------------------------------------------

export class KernelProcess {
  readonly child: ChildProcess;
  /** resolves once, when the process has exited (never rejects) */
  readonly exited: Promise<ExitInfo>;
  private tail = '';
  private exitInfo: ExitInfo | undefined;
  private spawnError: Error | undefined;

  readonly sandboxed: boolean;
  private readonly innerPid: ((childPid: number) => number | undefined) | undefined;
  private innerPidFound: number | undefined;

  constructor(opts: ProcessSpec) {
    installExitHook();
    this.sandboxed = opts.sandboxed === true;
    this.innerPid = opts.innerPid;
    if (this.innerPid) {
      // learn the interpreter's PID while the chain bwrap -> init -> interpreter exists
      let tries = 0;
      const find = () => {
        if (this.alive && this.interpreterPid() === undefined && ++tries < 100) setTimeout(find, 50).unref();
      };
      setTimeout(find, 20).unref();
    }
    this.child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      env: opts.env as NodeJS.ProcessEnv,
      detached: true, // own process group
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    liveProcesses.add(this.child);
    const keep = (b: Buffer) => {
      this.tail = (this.tail + b.toString('utf8')).slice(-TAIL_BYTES);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo) return;
        liveProcesses.delete(this.child);
        // bwrap exits with 128+N when the sandboxed interpreter was killed by signal N
        if (this.sandboxed && code !== null && code > 128 && !signal) {
          const sig = code - 128;
          const name = Object.entries(os.constants.signals).find(([, n]) => n === sig)?.[0] as NodeJS.Signals | undefined;
          if (name) [code, signal] = [null, name];
        }
        const description = this.spawnError ? `could not be started (${this.spawnError.message})` : describeExit(code, signal);
        this.exitInfo = { code, signal, description, outputTail: this.tail };
        resolve(this.exitInfo);
      };
      this.child.once('error', (e) => {
        this.spawnError = e;
        // 'exit' may not follow a spawn error (ENOENT): settle here
        if (this.child.pid === undefined) done(null, null);
      });
      this.child.once('exit', (code, signal) => {
        // anything the kernel spawned (subprocesses in its group) goes with it
        killGroup(this.child, 'SIGKILL');
        // let the pipes drain so the tail holds the last words (e.g. a Python fatal error);
        // sandboxed: bwrap may exit before the PID namespace's teardown has ended the interpreter
        setTimeout(() => void untilGone(this.innerPidFound, 2000).then(() => done(code, signal)), 20);
      });
    });
  }

  /** the interpreter's PID (inside a sandbox: its PID on this host, once it runs) */
  get pid(): number | undefined {
    return this.innerPid ? (this.interpreterPid() ?? this.child.pid) : this.child.pid;
  }

  private interpreterPid(): number | undefined {
    if (this.innerPidFound === undefined && this.alive) this.innerPidFound = this.innerPid!(this.child.pid!);
    return this.innerPidFound;
  }

  get alive(): boolean {
    return this.exitInfo === undefined && this.child.pid !== undefined;
  }

  get outputTail(): string {
    return this.tail;
  }

  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** SIGINT to the kernel process only (ipykernel's interrupt_mode 'signal') */
  interrupt(): void {
    if (!this.alive) return;
    try {
      if (this.innerPid) {
        const pid = this.interpreterPid();
        if (pid !== undefined) process.kill(pid, 'SIGINT');
      } else this.child.kill('SIGINT');
    } catch {
      /* gone */
    }
  }

  /** SIGKILL to the process group; resolves when the process is gone */
  async kill(): Promise<ExitInfo> {
    if (this.alive) killGroup(this.child, 'SIGKILL');
    if (this.innerPidFound !== undefined) signalPid(this.innerPidFound, 'SIGKILL');
    return this.exited;
  }

  /** waits up to `ms` for the process to exit; true if it did */
  async waitExit(ms: number): Promise<boolean> {
    if (!this.alive) return true;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.exited.then(() => true), new Promise<boolean>((res) => (timer = setTimeout(() => res(false), ms)))]);
    clearTimeout(timer);
    return r;
  }
}
