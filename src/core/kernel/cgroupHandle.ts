/**
 * One kernel's control group (made by cgroup.ts): joining it before the command runs, killing
 * everything in it, reading how often its limits were hit, removing it. Folders of cgroupfs
 * (v1: one per hierarchy; v2: one leaf) or a transient systemd scope (its folder asked of systemd).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, rmdirSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { type CgroupMount, readKeyed, readPids, readText, writeControl } from './cgroupHost';
import { isProcessGone } from './pidErrors';
import { findOnPath } from './sandboxHost';

export const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface CgroupLimits {
  /** memory of the whole sandbox, MiB; 0 or undefined: none */
  memoryMb?: number;
  /** processes and threads of the whole sandbox; 0 or undefined: none */
  maxProcesses?: number;
}

/** how often the limits were hit (undefined: not known here) */
export interface CgroupEvents {
  /** processes killed by the out-of-memory killer inside the cgroup */
  oomKills?: number;
  /** times the memory limit was reached */
  memoryMax?: number;
  /** forks refused by pids.max */
  pidsMax?: number;
}

export interface KernelCgroup {
  readonly kind: 'v1' | 'v2' | 'systemd-scope';
  readonly memoryLimited: boolean;
  readonly pidsLimited: boolean;
  /** the command line that joins the cgroup, then execs `command` (env: variables the wrapper needs in the spawn environment; it unsets them before the command runs) */
  wrap(command: string, args: string[]): { command: string; args: string[]; env?: Record<string, string> };
  /** the cgroup.procs files a process writes its PID to, to join it later (a forked kernel);
   * undefined where only the wrapper can join (a systemd scope) */
  joinFiles(): string[] | undefined;
  /** the host PIDs in the cgroup now */
  pids(): number[];
  /** SIGKILLs everything in the cgroup until it is empty (true) or `timeoutMs` passed (false) */
  killAll(timeoutMs?: number): Promise<boolean>;
  /** one synchronous pass of killAll, for process.on('exit') */
  killAllSync(): void;
  events(): CgroupEvents;
  /** removes the cgroup (after killAll; best effort) */
  remove(): Promise<void>;
  /** true when it is gone */
  removeSync(): boolean;
}

/** how to reach systemd for a scope */
export interface ScopeSpec {
  run: string;
  ctl: string;
  user: boolean;
  mount: CgroupMount;
}

export function rmdirQuiet(d: string): boolean {
  try {
    rmdirSync(d);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

async function rmdirAsync(d: string): Promise<boolean> {
  try {
    await rmdir(d);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

export function killPids(pids: number[]): void {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch (e) {
      if (!isProcessGone(e)) throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// one kernel's cgroup
// ---------------------------------------------------------------------------------------------

/** the folders (one per v1 hierarchy, or one v2 leaf) that hold a kernel */
export class FolderCgroup implements KernelCgroup {
  constructor(
    readonly kind: 'v1' | 'v2' | 'systemd-scope',
    readonly memoryLimited: boolean,
    readonly pidsLimited: boolean,
    protected dirs: string[],
    private readonly freezer?: string,
  ) {}

  wrap(command: string, args: string[]) {
    // joins every hierarchy, then becomes the command: nothing runs outside the cgroup
    const join =
      'for f do case $f in --) break;; esac; echo $$ > "$f" || { echo "codedance: cannot join the cgroup $f" >&2; exit 125; }; shift; done; shift; exec "$@"';
    return {
      command: '/bin/sh',
      args: ['-c', join, 'codedance-cgroup', ...this.folders().map((d) => path.join(d, 'cgroup.procs')), '--', command, ...args],
    };
  }

  protected folders(): string[] {
    return this.freezer ? [...this.dirs, this.freezer] : this.dirs;
  }

  joinFiles(): string[] | undefined {
    return this.folders().map((d) => path.join(d, 'cgroup.procs'));
  }

  pids(): number[] {
    return [...new Set(this.folders().flatMap((d) => readPids(path.join(d, 'cgroup.procs'))))];
  }

  killAllSync(): void {
    const kill = this.dirs.map((d) => path.join(d, 'cgroup.kill')).find((f) => existsSync(f));
    if (kill && !writeControl(kill, '1')) return;
    const freezer = this.freezeFiles();
    if (freezer) writeControl(freezer.file, freezer.frozen);
    killPids(this.pids());
    if (freezer) writeControl(freezer.file, freezer.thawed);
  }

  async killAll(timeoutMs = 5000): Promise<boolean> {
    const t0 = Date.now();
    for (;;) {
      if (!this.pids().length) return true;
      if (Date.now() - t0 > timeoutMs) return false;
      const freezer = this.freezeFiles();
      if (freezer && !this.dirs.some((d) => existsSync(path.join(d, 'cgroup.kill')))) {
        // frozen, nothing forks while the list is read and killed; killed tasks die once thawed
        writeControl(freezer.file, freezer.frozen);
        for (let i = 0; i < 50 && !freezer.done(); i++) await sleep(2);
      }
      this.killAllSync();
      await sleep(10);
    }
  }

  /** v1 freezer.state, or v2 cgroup.freeze */
  private freezeFiles(): { file: string; frozen: string; thawed: string; done: () => boolean } | undefined {
    if (this.freezer)
      return {
        file: path.join(this.freezer, 'freezer.state'),
        frozen: 'FROZEN',
        thawed: 'THAWED',
        done: () => (readText(path.join(this.freezer!, 'freezer.state')) ?? '').trim() === 'FROZEN',
      };
    const v2 = this.kind !== 'v1' ? this.dirs[0] : undefined;
    if (v2 && existsSync(path.join(v2, 'cgroup.freeze')))
      return {
        file: path.join(v2, 'cgroup.freeze'),
        frozen: '1',
        thawed: '0',
        done: () => readKeyed(path.join(v2, 'cgroup.events')).frozen === 1,
      };
    return undefined;
  }

  events(): CgroupEvents {
    const out: CgroupEvents = {};
    for (const d of this.folders()) {
      const mem = readKeyed(path.join(d, 'memory.events'));
      if ('oom_kill' in mem) [out.oomKills, out.memoryMax] = [mem.oom_kill, mem.max];
      const oom = readKeyed(path.join(d, 'memory.oom_control'));
      if ('oom_kill' in oom) out.oomKills = oom.oom_kill;
      const failcnt = readText(path.join(d, 'memory.failcnt'));
      if (failcnt !== undefined) out.memoryMax = Number(failcnt.trim());
      const pids = readKeyed(path.join(d, 'pids.events'));
      if ('max' in pids) out.pidsMax = pids.max;
    }
    return out;
  }

  /** removes the folders, and the `codedance` folders above them once empty (EBUSY while other kernels use them) */
  removeSync(): boolean {
    const gone = this.folders().map((d) => rmdirQuiet(d) && (rmdirQuiet(path.dirname(d)), true));
    return gone.every(Boolean);
  }

  /** removeSync off the event loop: a cgroup's rmdir can block for milliseconds (v1 hierarchies), with many kernels ending at once */
  private async removeAsync(): Promise<boolean> {
    const gone = await Promise.all(this.folders().map(async (d) => (await rmdirAsync(d)) && (await rmdirAsync(path.dirname(d)), true)));
    return gone.every(Boolean);
  }

  async remove(): Promise<void> {
    for (let i = 0; i < 100 && !(await this.removeAsync()); i++) {
      if (i % 10 === 0) this.killAllSync();
      await sleep(20);
    }
  }
}

/** a transient systemd scope; its folder is asked of systemd when first needed */
export class ScopeCgroup extends FolderCgroup {
  private resolved = false;

  constructor(
    private readonly scope: ScopeSpec,
    private readonly unit: string,
    private readonly limits: CgroupLimits,
    memory: boolean,
    pids: boolean,
  ) {
    super('systemd-scope', memory, pids, []);
  }

  override joinFiles(): undefined {
    return undefined;
  }

  override wrap(command: string, args: string[]) {
    const { run, user } = this.scope;
    const props: string[] = [];
    if (this.memoryLimited && this.limits.memoryMb) props.push('-p', `MemoryMax=${this.limits.memoryMb * MiB}`, '-p', 'MemorySwapMax=0');
    if (this.pidsLimited && this.limits.maxProcesses) props.push('-p', `TasksMax=${this.limits.maxProcesses}`);
    const names = user ? ['XDG_RUNTIME_DIR', 'DBUS_SESSION_BUS_ADDRESS'].filter((n) => process.env[n]) : [];
    const env = Object.fromEntries(names.map((n) => [n, process.env[n]!]));
    const unset = names.length ? [findOnPath('env') ?? '/usr/bin/env', ...names.flatMap((n) => ['-u', n])] : [];
    return {
      command: run,
      args: [
        ...(user ? ['--user'] : []),
        '--scope',
        '--quiet',
        '--collect',
        `--unit=${this.unit}`,
        ...props,
        '--',
        ...unset,
        command,
        ...args,
      ],
      env,
    };
  }

  protected override folders(): string[] {
    if (!this.resolved) {
      const r = spawnSync(this.scope.ctl, [...(this.scope.user ? ['--user'] : []), 'show', '-p', 'ControlGroup', '--value', this.unit], {
        encoding: 'utf8',
        timeout: 5000,
      });
      const cg = (r.stdout ?? '').trim();
      if (r.status === 0 && cg.startsWith('/')) {
        this.dirs = [path.join(this.scope.mount.mountPoint, cg)];
        this.resolved = true;
      }
    }
    return this.dirs;
  }

  override async killAll(timeoutMs = 5000): Promise<boolean> {
    if (this.folders().length) return super.killAll(timeoutMs);
    // no folder known (systemd did not say, or the scope is gone): let systemd kill what is left
    await new Promise((r) =>
      execFile(this.scope.ctl, [...(this.scope.user ? ['--user'] : []), 'kill', '--signal=SIGKILL', this.unit], { timeout: timeoutMs }, r),
    );
    return true;
  }

  override killAllSync(): void {
    if (this.folders().length) super.killAllSync();
    else spawnSync(this.scope.ctl, [...(this.scope.user ? ['--user'] : []), 'kill', '--signal=SIGKILL', this.unit], { timeout: 5000 });
  }

  override async remove(): Promise<void> {
    await new Promise((r) => execFile(this.scope.ctl, [...(this.scope.user ? ['--user'] : []), 'stop', this.unit], { timeout: 10000 }, r));
  }

  override removeSync(): boolean {
    return !spawnSync(this.scope.ctl, [...(this.scope.user ? ['--user'] : []), 'stop', '--no-block', this.unit], { timeout: 5000 }).status;
  }
}

/** A cgroup for one kernel with these limits; undefined where there is none (cgroupSupport says why). */
