/**
 * The fork template (fork/template.py; docs/kernels.md, "Forked kernels"): one long-lived
 * Python process per interpreter and kernel environment that has imported what a kernel imports
 * and executed the prelude, and forks each kernel into a sandbox bubblewrap made for it. It runs
 * no model code. Started on the first forked launch, kept for the process's life (or until it
 * dies: the next launch starts another), killed with Node.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import TEMPLATE_PY from './fork/template.py';
import { makeRuntimeDir, writeExclusive } from './hostFolders';
import { PRELUDE_PY } from './prelude';
import { matplotlibFontCaches } from './sandboxHost';

export interface ForkRequest {
  /** the holder sandbox's init (bwrap --info-fd's child-pid): the namespaces to join */
  holder: number;
  workdir: string;
  connectionFile: string;
  /** ipykernel's arguments after the connection file */
  kernelArgs: string[];
  /** exactly the kernel's environment */
  env: Record<string, string>;
  /** the user the code runs as (root runs it as nobody) */
  runAs?: { uid: number; gid: number };
  /** as prlimit sets them: address space (bytes), processes, CPU seconds */
  limits: { as?: number; nproc?: number; cpu?: number };
  seccomp?: Uint8Array;
  /** the kernel's cgroup: its cgroup.procs files, joined before the namespaces */
  cgroupProcs: string[];
}

export interface ForkExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the waiter ended without saying how the kernel did (it was killed with its cgroup) */
  lost?: boolean;
  /** the last of what the kernel wrote to its stdout and stderr (a fatal error's last words) */
  tail?: string;
}

export interface ForkedKernel {
  /** the kernel's PID on this host */
  pid: number;
  /** resolves when the kernel has ended (never rejects) */
  exited: Promise<ForkExit>;
}

interface Pending {
  started: (k: ForkedKernel) => void;
  failed: (e: Error) => void;
  ended?: (x: ForkExit) => void;
}

const signalName = (n: number | null): NodeJS.Signals | null =>
  n === null ? null : ((Object.entries(os.constants.signals).find(([, v]) => v === n)?.[0] as NodeJS.Signals | undefined) ?? null);

/** a fork that failed; structural: every fork of this template would (forkLaunch.ts then marks it broken) */
export class ForkError extends Error {
  constructor(
    message: string,
    readonly structural: boolean,
  ) {
    super(message);
    this.name = 'ForkError';
  }
}

const templateKey = (python: string, env: Record<string, string>) =>
  JSON.stringify([python, Object.entries(env).sort(([a], [b]) => a.localeCompare(b))]);

const TAIL = 8 * 1024;
/** the template's script (its name is what `ps` shows for the template and every forked kernel) */
export const TEMPLATE_FILE = 'codedance-kernel-template.py';

export class ForkTemplate {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private tail = '';
  private dead: string | undefined;
  /** no more forks: it is stopped once its last kernel has ended */
  private retired = false;
  /** resolves when the template has imported everything; rejects with why it could not */
  readonly ready: Promise<void>;

  private constructor(
    private readonly proc: ChildProcess,
    private readonly home: string,
    /** its interpreter and environment (templateKey) */
    readonly key: string,
  ) {
    proc.stderr!.on('data', (b: Buffer) => (this.tail = (this.tail + b.toString('utf8')).slice(-TAIL)));
    proc.stdin!.on('error', () => undefined); // a dead template: its exit says so
    let readyFn!: () => void;
    let failFn!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => ((readyFn = res), (failFn = rej)));
    this.ready.catch(() => undefined); // its failure is read where it is awaited (readyForkTemplate): no unhandled rejection here
    createInterface({ input: proc.stdout! }).on('line', (line) => this.heard(JSON.parse(line) as Record<string, unknown>, readyFn));
    // once it has read its script and imported everything, its folder is not needed any more
    void this.ready.then(
      () => rmSync(home, { recursive: true, force: true }),
      () => undefined,
    );
    proc.once('error', (e) => this.ended(`could not be started (${e.message})`, failFn));
    proc.once('exit', (code, sig) => this.ended(sig ? `was killed by ${sig}` : `exited with code ${code}`, failFn));
    // it keeps Node alive only while something waits for it (its start, a fork's answer)
    this.hold();
    void this.ready.then(
      () => this.release(),
      () => this.release(),
    );
  }

  private holds = 0;

  private hold(): void {
    if (this.holds++ === 0) this.setRef(true);
  }

  private release(): void {
    if (--this.holds === 0) this.setRef(false);
  }

  private setRef(on: boolean): void {
    if (on) this.proc.ref();
    else this.proc.unref();
    for (const s of [this.proc.stdin, this.proc.stdout, this.proc.stderr]) {
      const h = s as unknown as { ref?: () => void; unref?: () => void };
      if (on) h.ref?.();
      else h.unref?.();
    }
  }

  /** the template for `python`, with the kernels' environment (its HOME and matplotlib's folder are its own) */
  static start(python: string, env: Record<string, string>, hostEnv: Record<string, string | undefined>): ForkTemplate {
    // a runtime folder (hostFolders.ts): swept by the next CodeDance process if this one is SIGKILLed
    const home = makeRuntimeDir('');
    const script = path.join(home, TEMPLATE_FILE);
    writeExclusive(script, TEMPLATE_PY);
    const fonts = matplotlibFontCaches(hostEnv);
    const mpl = fonts.length ? path.dirname(fonts[0]) : path.join(home, 'matplotlib');
    mkdirSync(mpl, { recursive: true });
    // `ps` shows the template, and each kernel forked from it, as `python …/codedance-kernel-template.py`
    const proc = spawn(python, [script], { cwd: home, env: { ...env, HOME: home, MPLCONFIGDIR: mpl }, stdio: ['pipe', 'pipe', 'pipe'] });
    proc.stdin!.write(`${JSON.stringify({ prelude: PRELUDE_PY })}\n`);
    return new ForkTemplate(proc, home, templateKey(python, env));
  }

  get usable(): boolean {
    return this.dead === undefined;
  }

  /** why the template ended, with its last words */
  get whyDead(): string | undefined {
    return this.dead && `the fork template ${this.dead}${this.tail.trim() ? `: ${this.tail.trim().split('\n').slice(-5).join('\n')}` : ''}`;
  }

  /** forks a kernel into the holder's sandbox; resolves with its PID once it runs there */
  fork(req: ForkRequest): Promise<ForkedKernel> {
    if (this.dead) return Promise.reject(new Error(this.whyDead));
    const id = this.nextId++;
    const wire = { ...req, id, seccomp: req.seccomp ? Buffer.from(req.seccomp).toString('base64') : null, runAs: req.runAs ?? null };
    this.hold();
    const answered = new Promise<ForkedKernel>((started, failed) => {
      this.pending.set(id, { started, failed });
      this.proc.stdin!.write(`${JSON.stringify(wire)}\n`);
    });
    void answered.then(
      () => this.release(),
      () => this.release(),
    );
    return answered;
  }

  private heard(msg: Record<string, unknown>, ready: () => void): void {
    if (msg.ready) return ready();
    const p = this.pending.get(Number(msg.id));
    if (!p) return;
    if (typeof msg.pid === 'number') {
      const exited = new Promise<ForkExit>((r) => (p.ended = r));
      p.started({ pid: msg.pid, exited });
    } else if (typeof msg.error === 'string') {
      this.settled(Number(msg.id));
      p.failed(new ForkError(`the kernel could not be forked into its sandbox: ${msg.error}`, msg.structural === true));
    } else if ('exit' in msg) {
      this.settled(Number(msg.id));
      const x: ForkExit = { code: (msg.exit as number | null) ?? null, signal: signalName((msg.signal as number | null) ?? null) };
      if (msg.lost) x.lost = true;
      if (typeof msg.tail === 'string' && msg.tail) x.tail = msg.tail;
      if (p.ended) p.ended(x);
      else p.failed(new Error('the fork ended before the kernel ran'));
    }
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.retired && this.pending.size === 0) this.close();
  }

  /** takes no more forks; stops once the kernels it forked (their waiters) are gone */
  retire(): void {
    this.retired = true;
    if (this.pending.size === 0) this.close();
  }

  private ended(why: string, fail: (e: Error) => void): void {
    if (this.dead) return;
    this.dead = why;
    fail(new Error(this.whyDead));
    // its waiters die with it (PR_SET_PDEATHSIG), and their kernels with them
    for (const p of this.pending.values()) {
      if (p.ended) p.ended({ code: null, signal: null, lost: true });
      else p.failed(new Error(this.whyDead));
    }
    this.pending.clear();
    rmSync(this.home, { recursive: true, force: true });
  }

  close(): void {
    this.proc.kill('SIGKILL');
  }
}

// Process-wide (module state on purpose): a template serves every session of this Node process
// that uses the same interpreter and environment. It dies with the process (PR_SET_PDEATHSIG),
// after the exit hook of process.ts has stopped the kernels: their waiters must still be there to
// reap them, or the sandboxes' PID namespaces cannot end.
const byKey = new Map<string, ForkTemplate>();

/** the template for this interpreter and environment, started if there is none (or it died) */
export function forkTemplateFor(python: string, env: Record<string, string>, hostEnv: Record<string, string | undefined>): ForkTemplate {
  const key = templateKey(python, env);
  const have = byKey.get(key);
  if (have?.usable) return have;
  const t = ForkTemplate.start(python, env, hostEnv);
  byKey.set(key, t);
  return t;
}

/** keys whose template could not start, or whose forks cannot work here: their kernels start cold, and this says why */
const broken = new Map<string, string>();

/**
 * Kernels of this template's interpreter and environment start cold from now on: a fork failed
 * in a way every fork would (ForkError.structural). The template stops once its kernels are gone.
 */
export function markForkBroken(t: ForkTemplate, why: string): void {
  broken.set(t.key, why);
  t.retire();
}

/** forks cannot work for any key here (the plan says so before a template is asked): recorded as why */
export function noteForkUnavailable(why: string): void {
  broken.set(`host:${why}`, why);
}

/**
 * A ready template for this interpreter and environment, or undefined when none can be had here
 * (it failed to start once: then every kernel of that key starts cold; `forkUnavailable` says why).
 */
export async function readyForkTemplate(
  python: string,
  env: Record<string, string>,
  hostEnv: Record<string, string | undefined>,
): Promise<ForkTemplate | undefined> {
  const key = templateKey(python, env);
  if (broken.has(key)) return undefined;
  const t = forkTemplateFor(python, env, hostEnv);
  try {
    await t.ready;
    return t;
  } catch (e) {
    broken.set(key, (e as Error).message);
    return undefined;
  }
}

/** why kernels do not start as forks here (the reasons seen so far), or undefined */
export function forkUnavailable(): string | undefined {
  return broken.size ? [...new Set(broken.values())].join('; ') : undefined;
}

/** stops every template (tests, and a setting turned off); forgets why any could not be used */
export function closeForkTemplates(): void {
  for (const t of byKey.values()) t.close();
  byKey.clear();
  broken.clear();
}
