/**
 * A kernel started as a fork of the template (forkTemplate.ts; docs/kernels.md, "Forked
 * kernels"): the sandbox is made by bubblewrap exactly as for a new interpreter (the same plan:
 * mounts, namespaces, cgroup, working and connection folders), with `sleep` in it (the holder);
 * the template's fork joins it and becomes the kernel, with the limits, user, capabilities and
 * seccomp program the plan's setpriv and prlimit would have given it. The holder is the process
 * Node watches: killing it ends everything inside, and when the kernel ends the holder is stopped.
 */
import { statSync } from 'node:fs';
import type { KernelCgroup } from './cgroup';
import { ForkError, type ForkRequest, type ForkTemplate, markForkBroken, noteForkUnavailable } from './forkTemplate';
import { KernelProcess } from './process';
import type { LaunchPlan } from './sandbox';

/** what the holder prints once bwrap has made the sandbox (its info-fd comes before the mounts) */
export const HOLDER_MARK = 'codedance-sandbox-made';

/** a plan the template can fork into: bubblewrap's, an interpreter that exists, a cgroup a fork can join, a sandbox it may enter */
export function forkablePlan(plan: LaunchPlan, cgroup: KernelCgroup | undefined): boolean {
  const shape = plan.sandboxed && plan.infoFd === true && !plan.interpreterMissing && plan.args.includes('--');
  return shape && (!cgroup || !!cgroup.joinFiles()) && joinable(plan.command);
}

/**
 * A setuid bwrap (where user namespaces are off) makes its namespaces with root's privilege: a
 * template that is not root may not enter them (setns: EPERM), so its kernels start anew.
 */
function joinable(bwrap: string): boolean {
  if (process.getuid?.() === 0) return true;
  let setuid: boolean;
  try {
    setuid = (statSync(bwrap).mode & 0o4000) !== 0;
  } catch (e) {
    noteForkUnavailable(`${bwrap} could not be examined (${(e as Error).message})`);
    return false;
  }
  if (setuid) noteForkUnavailable(`${bwrap} is setuid root: a process that is not root may not join the sandboxes it makes`);
  return !setuid;
}

/** holders whose fork failed for a structural reason (ForkError.structural) */
const refusedForks = new WeakSet<KernelProcess>();

/**
 * The fork into this holder failed in a way every fork of its template would: the template's key
 * is marked broken (forkUnavailable() says why) and the next launch starts a new interpreter.
 * This start has failed: a retry starts it anew.
 */
export function forkRefused(proc: KernelProcess): boolean {
  return refusedForks.has(proc);
}

/** the interpreter the plan runs (its last argument: the launch passes none after it) */
export function planInterpreter(plan: LaunchPlan): string {
  return plan.args[plan.args.length - 1];
}

/** the limits prlimit would set (`--as=`, `--nproc=`, `--cpu=`) */
export function planLimits(plan: LaunchPlan): ForkRequest['limits'] {
  const out: ForkRequest['limits'] = {};
  for (const a of plan.args.slice(plan.args.indexOf('--') + 1)) {
    const m = /^--(as|nproc|cpu)=(\d+)$/.exec(a);
    if (m) out[m[1] as keyof ForkRequest['limits']] = Number(m[2]);
  }
  return out;
}

export interface ForkedLaunch {
  plan: LaunchPlan;
  cgroup: KernelCgroup | undefined;
  template: ForkTemplate;
  workdir: string;
  connectionFile: string;
  kernelArgs: string[];
}

/**
 * Spawns the holder (watched as the kernel's process) and, once its sandbox is made, has the
 * template fork the kernel into it. A fork that fails stops the holder, with the cause in its tail
 * (and, when no fork of that template can work, marks it broken: forkRefused).
 */
export function launchForked(f: ForkedLaunch): KernelProcess {
  const { plan, cgroup } = f;
  const end = plan.args.indexOf('--');
  const holderArgs = [...plan.args.slice(0, end + 1), '/bin/sh', '-c', `echo ${HOLDER_MARK}; exec sleep infinity`];
  const run = cgroup ? cgroup.wrap(plan.command, holderArgs) : { command: plan.command, args: holderArgs };
  const proc = new KernelProcess({
    command: run.command,
    args: run.args,
    cwd: f.workdir,
    env: { ...plan.env, ...('env' in run ? run.env : {}) },
    sandboxed: true,
    infoFd: true,
    seccomp: plan.seccomp,
    cgroup,
    startMarker: HOLDER_MARK,
  });
  // bwrap --chdir sets PWD for the interpreter it starts: the fork's environment has it too
  const env = { ...plan.env, PWD: f.workdir };
  const req: ForkRequest = {
    holder: 0,
    workdir: f.workdir,
    connectionFile: f.connectionFile,
    kernelArgs: f.kernelArgs,
    env,
    runAs: plan.runAs,
    limits: planLimits(plan),
    seccomp: plan.seccomp,
    cgroupProcs: cgroup?.joinFiles() ?? [],
  };
  void forkInto(proc, f.template, req, planInterpreter(plan));
  return proc;
}

async function forkInto(proc: KernelProcess, template: ForkTemplate, req: ForkRequest, python: string): Promise<void> {
  const made = await Promise.race([Promise.all([proc.marked, proc.initKnown]).then(() => true), proc.exited.then(() => false)]);
  if (!made || !proc.alive) return;
  if (proc.sandboxInitPid === undefined) {
    await proc.abort('the sandbox did not say which process is its init (bwrap --info-fd)');
    return;
  }
  try {
    const k = await template.fork({ ...req, holder: proc.sandboxInitPid });
    proc.adopt(k.pid, k.exited);
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof ForkError && e.structural) {
      refusedForks.add(proc);
      markForkBroken(template, `${msg} (kernels of ${python} start as new interpreters from now on)`);
    }
    await proc.abort(msg);
  }
}
