/**
 * Why a kernel did not start, from what is known when it has died: how it exited, the tail of
 * what it wrote, the limits it ran under and (with a cgroup) how often they were hit. A process
 * limit that was reached is said as such (it used to be reported as "install ipykernel"); each
 * cause is named only when the evidence says it, else the fix says how to find out.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { CgroupEvents } from './cgroupHandle';
import { isOtherOrGoneProcEntry } from './pidErrors';

export type StartFailureCause =
  | 'fork' // the template could not fork the kernel into its sandbox (forkLaunch.ts)
  | 'process-limit' // fork/exec/clone refused: RLIMIT_NPROC or pids.max reached
  | 'thread-limit' // a thread could not be created: the process limit or the memory limit
  | 'memory' // MemoryError, ENOMEM, a library that could not be mapped, the OOM killer
  | 'missing-ipykernel'
  | 'broken-ipykernel' // ipykernel is there but one of its imports is not
  | 'interpreter-missing'
  | 'cgroup' // the process could not join its cgroup
  | 'sandbox' // bwrap itself failed
  | 'unknown';

export interface StartFailureInput {
  exit: { code: number | null; signal: NodeJS.Signals | null; description: string; outputTail: string };
  /** the interpreter, for commands in the fix */
  python: string;
  sandboxed: boolean;
  /** address-space or cgroup memory limit, MiB (0: none) */
  memoryLimitMb: number;
  /** the memory limit holds for the whole sandbox (a cgroup), not per process (RLIMIT_AS) */
  memoryPerSandbox?: boolean;
  /** the process limit in force (undefined or 0: none) */
  maxProcesses?: number;
  /** the process limit counts this sandbox only (pids.max, or RLIMIT_NPROC in its own user namespace) */
  processesPerSandbox?: boolean;
  /** the user the code runs as, when it is not the caller (as root: nobody) */
  runAsUser?: string;
  /** the cgroup's counters (cgroup.ts), when there is one */
  events?: CgroupEvents;
  /** processes and threads the code's user has now (userTaskCount), where the limit is per user */
  tasksOfUser?: number;
}

export interface StartFailureExplanation {
  cause: StartFailureCause;
  /** what happened, one sentence (empty for 'unknown': the exit and the output tail say it all) */
  summary: string;
  fix: string;
}

const EAGAIN = String.raw`(?:Resource temporarily unavailable|EAGAIN|\[Errno 11\])`;
const PROCESS_LIMIT = [
  new RegExp(
    String.raw`\b(?:fork|vfork|clone|execvp?|failed to execute|setresuid|spawn|Creating new namespace failed)\b[^\n]*${EAGAIN}`,
    'i',
  ),
  new RegExp(String.raw`${EAGAIN}[^\n]*\bfork\b`, 'i'),
  /\bCannot fork\b/i,
];
const FORK_IN_TRACEBACK = /\b(?:os\.fork|_posixsubprocess|fork_exec|_fork_exec|os\.posix_spawn)\b/;
// OpenBLAS says it outright: "blas_thread_init: RLIMIT_NPROC 30 current, 30 max"
const NPROC_SAID = /RLIMIT_NPROC (\d+) current, (\d+) max/;
const THREAD_LIMIT = [
  /can't start new thread/i,
  /pthread_create\b[^\n]*(?:failed|Resource temporarily unavailable|EAGAIN|\b11\b)/i,
  /Insufficient resources to create another thread/i,
  /Resource temporarily unavailable \(src\/thread\.cpp:\d+\)/, // libzmq's I/O thread (ipykernel then aborts)
];
const MEMORY = [
  /\bMemoryError\b/,
  /Cannot allocate memory/i,
  /\bENOMEM\b/,
  /std::bad_alloc/,
  /failed to map segment from shared object/i,
  /\bout of memory\b/i,
  /\bmemory exhausted\b/i,
  /mmap(?:\(\))? failed/i,
];
const NO_IPYKERNEL = /No module named '?ipykernel(?:_launcher)?'?(?![\w.])/;
const NO_MODULE = /No module named '?([\w.]+)'?/;

/** Turns a failed start into its cause, a sentence that says it, and the fix. */
export function explainStartFailure(f: StartFailureInput): StartFailureExplanation {
  return limitFailure(f) ?? forkFailure(f) ?? setupFailure(f);
}

/** the template could not fork the kernel into its sandbox (kernel/forkLaunch.ts): not the kernel's exit, nor the out-of-memory killer */
function forkFailure(f: StartFailureInput): StartFailureExplanation | undefined {
  const m = /the kernel could not be forked into its sandbox: (.*)/.exec(f.exit.outputTail);
  if (!m) return undefined;
  return {
    cause: 'fork',
    summary: `the kernel could not be forked into its sandbox (${m[1].trim()})`,
    fix: 'retry; if it persists, start kernels as new interpreters (forkedStarts: false)',
  };
}

/** A start that hit a limit: processes, memory, threads, or the cgroup that holds them; undefined when it was none of these. */
function limitFailure(f: StartFailureInput): StartFailureExplanation | undefined {
  const tail = f.exit.outputTail;
  const ev = f.events ?? {};
  const forkRefused =
    PROCESS_LIMIT.some((r) => r.test(tail)) ||
    (new RegExp(EAGAIN).test(tail) && /BlockingIOError/.test(tail) && FORK_IN_TRACEBACK.test(tail));
  if ((ev.pidsMax ?? 0) > 0 || forkRefused) return processLimit(f);
  if ((ev.oomKills ?? 0) > 0) return memory(f, 'the out-of-memory killer ended it');
  if (THREAD_LIMIT.some((r) => r.test(tail))) return noThread(f);
  if (MEMORY.some((r) => r.test(tail)))
    return memory(f, /failed to map segment/i.test(tail) ? 'a library could not be loaded into its address space' : 'it ran out of memory');
  if (f.exit.signal === 'SIGKILL' && f.memoryLimitMb > 0 && f.memoryPerSandbox && (ev.memoryMax ?? 0) > 0)
    return memory(f, 'it was killed on reaching the memory limit');
  if (/codedance: cannot join the cgroup/.test(tail)) {
    return {
      cause: 'cgroup',
      summary: 'it could not join its control group (the per-sandbox limits)',
      fix: 'a cgroup folder CodeDance made was removed or became unwritable; retry (a new one is made at each start)',
    };
  }
  return undefined;
}

/** A thread could not be made: the process limit when it is full or the only candidate, else the thread's own limit. */
function noThread(f: StartFailureInput): StartFailureExplanation {
  const said = NPROC_SAID.exec(f.exit.outputTail);
  const full =
    (said && Number(said[1]) >= Number(said[2])) || (!!f.maxProcesses && !f.processesPerSandbox && (f.tasksOfUser ?? 0) >= f.maxProcesses);
  // a cgroup's memory limit does not refuse thread stacks (they are charged when used): only RLIMIT_AS does
  return full || (f.memoryPerSandbox && !!f.maxProcesses) || !(f.memoryLimitMb > 0) ? processLimit(f) : threadLimit(f);
}

/** A start that failed on its setup: no interpreter, ipykernel missing or broken, the sandbox refused; else unknown, with how to find out. */
function setupFailure(f: StartFailureInput): StartFailureExplanation {
  const tail = f.exit.outputTail;
  if (
    /\bENOENT\b/.test(f.exit.description) ||
    new RegExp(String.raw`(?:execvp?|failed to execute)[^\n]*No such file or directory`).test(tail)
  ) {
    return {
      cause: 'interpreter-missing',
      summary: `the interpreter ${f.python} does not exist`,
      fix: 'choose an interpreter that exists (and has ipykernel, Pillow, numpy and matplotlib)',
    };
  }
  if (NO_IPYKERNEL.test(tail))
    return {
      cause: 'missing-ipykernel',
      summary: `ipykernel is not installed for ${f.python}`,
      fix: `${installIpykernel(f.python)}, or choose another interpreter${hiddenHint(f)}`,
    };
  const missing = NO_MODULE.exec(tail);
  if (missing && /ipykernel|jupyter_client|traitlets|zmq|tornado|IPython/.test(tail)) {
    return {
      cause: 'broken-ipykernel',
      summary: `ipykernel cannot import ${missing[1]}`,
      fix: `reinstall ipykernel with its dependencies (\`${f.python} -m pip install --force-reinstall ipykernel\`), or choose another interpreter${hiddenHint(f)}`,
    };
  }
  const bwrap = /^bwrap: (.*)$/m.exec(tail);
  if (f.sandboxed && bwrap)
    return {
      cause: 'sandbox',
      summary: `the sandbox could not start it (bwrap: ${bwrap[1].trim()})`,
      fix: `turn the sandbox off for this interpreter if it lives in a hidden or private folder, or fix what bwrap says${hiddenHint(f)}`,
    };
  return {
    cause: 'unknown',
    summary: '',
    fix: `run \`${f.python} -m ipykernel_launcher --version\` to see why it fails; if ipykernel is missing: ${installIpykernel(f.python)}; or choose another interpreter${hiddenHint(f)}`,
  };
}

/** The reason and fix for a KernelLaunchError, with the explanation folded in. */
export function startFailureMessage(
  f: StartFailureInput,
  command: string,
  tailLines: (s: string, n: number) => string[],
): { reason: string; fix: string; cause: StartFailureCause } {
  const x = explainStartFailure(f);
  const tail = f.exit.outputTail.trim() ? `\nIts last output:\n${tailLines(f.exit.outputTail, 15).join('\n')}` : '';
  return {
    cause: x.cause,
    reason: `The Python kernel (${command}) ${f.exit.description} while starting${x.summary ? `: ${x.summary}` : ''}.${tail}`,
    fix: x.fix,
  };
}

function processLimit(f: StartFailureInput): StartFailureExplanation {
  const n = f.maxProcesses && f.maxProcesses > 0 ? f.maxProcesses : undefined;
  const who = f.runAsUser ? `user ${f.runAsUser}` : 'your user';
  const scope = !n
    ? `the system's limit on processes of ${who}`
    : f.processesPerSandbox
      ? `this sandbox's limit of ${n} processes and threads`
      : `the limit of ${n} processes and threads, which counts EVERY process of ${who} (RLIMIT_NPROC), other kernels and anything they left running included`;
  const cleanup = f.processesPerSandbox
    ? ''
    : `end the processes that fill it (\`ps -u ${f.runAsUser ?? '$USER'} | wc -l\`; e.g. a fork bomb or daemons left by earlier code), or `;
  return {
    cause: 'process-limit',
    summary: `it could not start a process: ${scope} was reached`,
    fix: `${cleanup}${n ? `raise maxProcesses (now ${n})` : 'raise the limit (ulimit -u)'}`,
  };
}

function threadLimit(f: StartFailureInput): StartFailureExplanation {
  const mem =
    f.memoryLimitMb > 0
      ? `the memory limit (${f.memoryLimitMb} MiB${f.memoryPerSandbox ? '' : ' of address space per process; each thread reserves its stack'})`
      : undefined;
  const procs =
    f.maxProcesses && f.maxProcesses > 0
      ? `the process limit (${f.maxProcesses} processes and threads${f.processesPerSandbox ? '' : `, shared by every process of ${f.runAsUser ? `user ${f.runAsUser}` : 'your user'}`})`
      : undefined;
  const which = [procs, mem].filter(Boolean).join(' or ') || 'a limit of the system on threads or memory';
  const fix = [procs && `raise maxProcesses (now ${f.maxProcesses})`, mem && `raise memoryLimitMb (now ${f.memoryLimitMb})`]
    .filter(Boolean)
    .join(' or ');
  return {
    cause: 'thread-limit',
    summary: `it could not create a thread: ${which} was reached`,
    fix:
      fix ||
      'see `ulimit -a` and the free memory; a library starting many threads can be limited with OMP_NUM_THREADS/OPENBLAS_NUM_THREADS (passEnv)',
  };
}

function memory(f: StartFailureInput, what: string): StartFailureExplanation {
  if (!(f.memoryLimitMb > 0))
    return {
      cause: 'memory',
      summary: `${what}: the machine's memory ran out (no limit was set)`,
      fix: 'free memory (close other programs or kernels), or run on a machine with more',
    };
  const limit = f.memoryPerSandbox
    ? `the sandbox's memory limit of ${f.memoryLimitMb} MiB`
    : `the limit of ${f.memoryLimitMb} MiB of address space per process (RLIMIT_AS: libraries such as OpenBLAS or CUDA reserve much more than they use)`;
  return { cause: 'memory', summary: `${what} under ${limit}`, fix: `raise memoryLimitMb (now ${f.memoryLimitMb}; 0 for none)` };
}

function installIpykernel(python: string): string {
  return `install it for this interpreter (\`${python} -m pip install ipykernel\`, or on Debian/Ubuntu's /usr/bin/python3: \`sudo apt-get install python3-ipykernel\`)`;
}

function hiddenHint(f: StartFailureInput): string {
  return f.sandboxed
    ? '; if it starts outside the sandbox only, the interpreter or its packages may live in a folder the sandbox hides (/home, /root, /tmp, /run, /mnt, /media): turn the sandbox off for it'
    : '';
}

/** Processes and threads whose real user is `uid` (what RLIMIT_NPROC counts outside a user namespace); Linux only, 0 elsewhere. */
export function userTaskCount(uid: number): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync('/proc').filter((x) => /^\d+$/.test(x));
  } catch {
    return 0;
  }
  for (const name of names) {
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid) n += Number(/^Threads:\s+(\d+)/m.exec(status)?.[1] ?? 1);
    } catch (e) {
      if (!isOtherOrGoneProcEntry(e)) throw e;
    }
  }
  return n;
}
