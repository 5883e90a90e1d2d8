/**
 * The kernel OS process (the command line comes from launch.ts), in its own process group
 * (so a terminal Ctrl+C reaches Node, not the kernel, and a kill reaches the kernel's own
 * children too), with exit detection and a tail of what it wrote to stdout/stderr.
 *
 * Orphans: every live kernel is registered; on Node's 'exit' all of them are SIGKILLed (a
 * sandbox: its PID namespace's init too, which takes every process inside with it), and their
 * folders are removed once those processes are gone (at most a second's wait). If Node dies without running 'exit' handlers (SIGKILL), the Linux
 * kernel ends the kernel process at once, even while it holds Python's GIL: bwrap's
 * --die-with-parent, or PR_SET_PDEATHSIG set by the launcher unsandboxed (sandbox.ts); the
 * prelude's parent watchdog (prelude/install.py) is the fallback elsewhere and removes folders.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { CgroupEvents, KernelCgroup } from './cgroup';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { isProcessGone } from './pidErrors';
import { markerWatch } from './startMarker';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** human wording: "exited with code 3", "killed by signal SIGSEGV" */
  description: string;
  /** the last output of the process (stderr and stdout interleaved), for diagnostics */
  outputTail: string;
  /** how often its cgroup's limits were hit (when it had one) */
  cgroupEvents?: CgroupEvents;
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
  /** bwrap writes `{"child-pid": N}` (its PID namespace's init, on this host) to fd 3 (`--info-fd 3`) */
  infoFd?: boolean;
  /** a seccomp program bwrap reads from fd 4 (`--seccomp 4`) */
  seccomp?: Uint8Array;
  /** the process is supervisor.ts: SIGTERM makes it stop the kernel and kill every descendant */
  supervised?: boolean;
  /** the cgroup the process runs in (cgroup.ts): everything in it is killed when the kernel ends */
  cgroup?: KernelCgroup;
  /** a line the process prints on stdout once it is set up (a fork's holder sandbox): kept out of
   * the tail; `marked` resolves when it is seen */
  startMarker?: string;
}

/** how a kernel that is not the spawned process ended (a forked kernel: forkTemplate.ts) */
export interface InnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** nobody could say (its waiter was killed first) */
  lost?: boolean;
  /** what it wrote to its stdout and stderr, last part */
  tail?: string;
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

// Process-wide on purpose (module state): what must die or go when this Node process exits is a
// fact of the process, whoever started it, and the exit hook is installed once per process.
const liveProcesses = new Set<KernelProcess>();
const liveFolders = new Set<string>();
let exitHookInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // the whole group: the kernel and anything it spawned
  } catch {
    try {
      child.kill(signal);
    } catch (e) {
      if (!isProcessGone(e)) throw e;
    }
  }
}

/** 'gone' (reaped or never there), 'zombie' (exited, not reaped) or 'running' */
function pidState(pid: number): 'gone' | 'zombie' | 'running' {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'gone';
  }
  const st = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return st === 'X' ? 'gone' : st === 'Z' ? 'zombie' : 'running';
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    const inits: number[] = [];
    for (const p of liveProcesses) {
      // a supervisor kills the kernel's descendants on SIGTERM (SIGKILL would leave them to the cgroup, if any)
      killGroup(p.child, p.supervised ? 'SIGTERM' : 'SIGKILL');
      p.cgroup?.killAllSync();
      p.cgroup?.removeSync();
      if (p.sandboxInitPid !== undefined) {
        signalPid(p.sandboxInitPid, 'SIGKILL');
        inits.push(p.sandboxInitPid);
      }
    }
    liveProcesses.clear();
    // a sandbox's folders are deleted only once nothing inside can change them any more
    const until = Date.now() + 1000;
    const pause = new Int32Array(new SharedArrayBuffer(4));
    while (inits.some((pid) => pidState(pid) === 'running') && Date.now() < until) Atomics.wait(pause, 0, 0, 5);
    if (inits.some((pid) => pidState(pid) === 'running')) return;
    for (const d of liveFolders) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // the process is exiting: a kernel's scratch folder left behind holds nothing to keep
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

/** PIDs of kernels started by this Node process and still running (for tests and diagnostics). */
export function liveKernelPids(): number[] {
  return [...liveProcesses].map((p) => p.child.pid!).filter((p) => p !== undefined);
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if (!isProcessGone(e)) throw e;
  }
}

/** resolves when `pid` has exited (a zombie or reaped), or after `ms` */
async function untilExited(pid: number | undefined, ms: number): Promise<void> {
  const t0 = Date.now();
  while (pid !== undefined && Date.now() - t0 < ms && pidState(pid) === 'running') await new Promise((r) => setTimeout(r, 10));
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
  readonly supervised: boolean;
  readonly cgroup: KernelCgroup | undefined;
  /** a sandbox's PID namespace init (bwrap --info-fd): when it is gone, so is every process inside */
  sandboxInitPid: number | undefined;
  /** resolves when bwrap's info was read (sandboxInitPid) or is not coming */
  readonly initKnown: Promise<void>;
  private readonly innerPid: ((childPid: number) => number | undefined) | undefined;
  private innerPidFound: number | undefined;
  private abortedWhy: string | undefined;
  /** how the kernel inside ended, when it is not the spawned process (adopt()) */
  private innerExit: InnerExit | undefined;
  /** resolves when the start marker was printed (at once without one) */
  readonly marked: Promise<void>;

  constructor(opts: ProcessSpec) {
    installExitHook();
    this.sandboxed = opts.sandboxed === true;
    this.supervised = opts.supervised === true;
    this.cgroup = opts.cgroup;
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
      stdio: ['ignore', 'pipe', 'pipe', opts.infoFd ? 'pipe' : 'ignore', opts.seccomp ? 'pipe' : 'ignore'],
      windowsHide: true,
    });
    liveProcesses.add(this);
    this.initKnown = this.readInfo(opts.infoFd === true);
    const keep = (b: Buffer) => {
      this.tail = (this.tail + b.toString('utf8')).slice(-TAIL_BYTES);
    };
    const { marked, onStdout } = markerWatch(opts.startMarker, keep);
    this.marked = marked;
    // A process killed before it read its pipes resets them (ECONNRESET, EPIPE): unheard, that
    // error would end this Node process. The exit is reported below; the tail says what happened.
    const pipeError = (what: string) => (e: Error) => keep(Buffer.from(`\n(${what}: ${e.message})\n`));
    if (opts.seccomp) {
      const filter = this.child.stdio[4] as NodeJS.WritableStream;
      filter.on('error', pipeError('passing the seccomp filter'));
      filter.end(Buffer.from(opts.seccomp));
    }
    this.child.stdout?.on('data', onStdout);
    this.child.stderr?.on('data', keep);
    this.child.stdout?.on('error', pipeError("reading the kernel's output"));
    this.child.stderr?.on('error', pipeError("reading the kernel's output"));
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exitInfo) return;
        liveProcesses.delete(this);
        this.exitInfo = this.exitInfoOf(code, signal);
        void this.cgroup?.remove();
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
        // sandboxed: bwrap may exit before its PID namespace is torn down: 'exited' means every
        // process inside is gone (its folders may be deleted then, nothing can change them)
        // a cgroup: whatever is left in it (a daemon that left the process group) is killed first
        setTimeout(
          () =>
            void this.initKnown
              .then(() => untilExited(this.sandboxInitPid ?? this.innerPidFound, 10_000))
              .then(() => this.cgroup?.killAll(5000))
              .then(() => done(code, signal)),
          20,
        );
      });
    });
  }

  /** the exit as reported: a forked kernel's own, bwrap's 128+N as signal N, and the words for it */
  private exitInfoOf(code: number | null, signal: NodeJS.Signals | null): ExitInfo {
    // a forked kernel: how it ended, not how its holder sandbox was then stopped
    if (this.innerExit && !this.innerExit.lost) [code, signal] = [this.innerExit.code, this.innerExit.signal];
    // bwrap exits with 128+N when the sandboxed interpreter was killed by signal N
    if (this.sandboxed && code !== null && code > 128 && !signal) {
      const sig = code - 128;
      const name = Object.entries(os.constants.signals).find(([, n]) => n === sig)?.[0] as NodeJS.Signals | undefined;
      if (name) [code, signal] = [null, name];
    }
    const description = this.spawnError
      ? `could not be started (${this.spawnError.message})`
      : this.abortedWhy
        ? `was stopped before its kernel ran (${this.abortedWhy})`
        : describeExit(code, signal);
    const cgroupEvents = this.cgroup?.events();
    return { code, signal, description, outputTail: this.tail, ...(cgroupEvents ? { cgroupEvents } : {}) };
  }

  /** the kernel is `pid` (forked into this holder sandbox): SIGINT goes there; when it ends the holder is stopped */
  adopt(pid: number, exited: Promise<InnerExit>): void {
    this.innerPidFound = pid;
    void exited.then((x) => {
      this.innerExit = x;
      if (x.tail) this.note(x.tail);
      void this.kill();
    });
  }

  /** stops a process whose kernel never ran (a fork that failed): its exit says why, not the SIGKILL */
  abort(why: string): Promise<ExitInfo> {
    this.abortedWhy ??= why;
    this.note(`\n${why}\n`);
    return this.kill();
  }

  /** a line for the tail (why a start failed outside the process) */
  note(text: string): void {
    this.tail = (this.tail + text).slice(-TAIL_BYTES);
  }

  /** reads bwrap's info (the PID of the sandbox's init); resolves when known or not coming */
  private readInfo(expected: boolean): Promise<void> {
    const info = this.child.stdio[3] as NodeJS.ReadableStream | null;
    if (!expected || !info) return Promise.resolve();
    return new Promise((resolve) => {
      let text = '';
      info.on('data', (b: Buffer) => {
        text += b.toString('utf8');
        const m = /"child-pid"\s*:\s*(\d+)/.exec(text);
        if (m) {
          this.sandboxInitPid = Number(m[1]);
          resolve();
        }
      });
      info.on('error', () => resolve());
      info.on('close', () => resolve());
    });
  }

  /** the interpreter's PID (inside a sandbox: its PID on this host, once it runs) */
  get pid(): number | undefined {
    return this.innerPid || this.innerPidFound !== undefined ? (this.interpreterPid() ?? this.child.pid) : this.child.pid;
  }

  private interpreterPid(): number | undefined {
    if (this.innerPidFound === undefined && this.alive && this.innerPid) this.innerPidFound = this.innerPid(this.child.pid!);
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
      if (this.innerPid || this.innerPidFound !== undefined) {
        const pid = this.interpreterPid();
        if (pid !== undefined) process.kill(pid, 'SIGINT');
      } else this.child.kill('SIGINT');
    } catch (e) {
      if (!isProcessGone(e)) throw e;
    }
  }

  /** SIGKILL to the process group (a sandbox: to its init, which ends everything inside); resolves when all is gone */
  async kill(): Promise<ExitInfo> {
    if (this.alive && this.supervised) {
      // the supervisor stops the kernel and kills every descendant (it cannot once SIGKILLed)
      killGroup(this.child, 'SIGTERM');
      if (await this.waitExit(2000)) return this.exited;
    }
    if (this.alive) {
      // while bwrap lives its init is its unreaped child: the PID cannot belong to anyone else
      if (this.sandboxInitPid !== undefined) signalPid(this.sandboxInitPid, 'SIGKILL');
      killGroup(this.child, 'SIGKILL');
    }
    if (this.innerPidFound !== undefined && this.alive) signalPid(this.innerPidFound, 'SIGKILL');
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
