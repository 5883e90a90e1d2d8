/**
 * A failed kernel start names its real cause (startFailure.ts). The tails are what this machine
 * really printed: under RLIMIT_NPROC filled by another sandbox's processes, under RLIMIT_AS,
 * without ipykernel. A process-limit failure once read "install ipykernel".
 */
import { strict as assert } from 'node:assert';
import { explainStartFailure, startFailureMessage, type StartFailureInput, userTaskCount } from '../../../src/core/kernel/startFailure';

const PY = '/usr/bin/python3';
const base = (tail: string, exit: Partial<StartFailureInput['exit']> = {}, more: Partial<StartFailureInput> = {}): StartFailureInput => ({
  exit: { code: 1, signal: null, description: 'exited with code 1', outputTail: tail, ...exit },
  python: PY,
  sandboxed: true,
  memoryLimitMb: 8192,
  maxProcesses: 1024,
  processesPerSandbox: false,
  runAsUser: 'nobody',
  ...more,
});

// ipykernel under `prlimit --nproc` with the user's processes at the limit: libzmq cannot start its thread and aborts
const ZMQ_ABORT = `0.00s - Note: Debugging will proceed. Set PYDEVD_DISABLE_FILE_VALIDATION=1 to disable this validation.
/usr/lib/python3/dist-packages/IPython/paths.py:70: UserWarning: IPython parent '/root' is not a writable location, using a temp directory.
  warn("IPython parent '{0}' is not a writable location,"
Resource temporarily unavailable (src/thread.cpp:269)
`;
const OPENBLAS = `OpenBLAS blas_thread_init: pthread_create failed for thread 1 of 2: Resource temporarily unavailable
OpenBLAS blas_thread_init: RLIMIT_NPROC 30 current, 30 max
Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/numpy/core/__init__.py", line 23, in <module>
ImportError: PyCapsule_Import could not import module "datetime"
`;
const SUBPROCESS = `  File "/usr/lib/python3.11/subprocess.py", line 1834, in _execute_child
    self.pid = _fork_exec(
               ^^^^^^^^^^^
BlockingIOError: [Errno 11] Resource temporarily unavailable
`;
const THREAD = `  File "/usr/lib/python3.11/threading.py", line 957, in start
    _start_new_thread(self._bootstrap, ())
RuntimeError: can't start new thread
`;
const LAPACK = `  File "/usr/lib/python3/dist-packages/numpy/linalg/linalg.py", line 34, in <module>
    from numpy.linalg import _umath_linalg
ImportError: liblapack.so.3: failed to map segment from shared object
`;
const NO_IPYKERNEL = '/usr/bin/python3: No module named ipykernel_launcher\n';

describe('a failed kernel start says its real cause', () => {
  it('the process limit, not "install ipykernel" (libzmq aborting, bash, subprocess, OpenBLAS)', () => {
    for (const [tail, exit] of [
      [ZMQ_ABORT, { code: null, signal: 'SIGABRT' as const, description: 'killed by signal SIGABRT (aborted)' }],
      ['/bin/bash: fork: retry: Resource temporarily unavailable\n/bin/bash: fork: Resource temporarily unavailable\n', {}],
      ['sh: 1: Cannot fork\n', {}],
      [SUBPROCESS, {}],
      [OPENBLAS, {}],
      ['prlimit: failed to execute /usr/bin/python3: Resource temporarily unavailable\n', {}],
    ] as const) {
      const x = explainStartFailure(base(tail, exit, { memoryLimitMb: 0 }));
      assert.equal(x.cause, 'process-limit', tail);
      assert.match(
        x.summary,
        /could not start a process: the limit of 1024 processes and threads, which counts EVERY process of user nobody/,
      );
      assert.ok(!/ipykernel/.test(x.fix), x.fix);
      assert.match(x.fix, /ps -u nobody.*raise maxProcesses \(now 1024\)/);
    }
    const m = startFailureMessage(
      base(ZMQ_ABORT, { code: null, signal: 'SIGABRT', description: 'killed by signal SIGABRT (aborted)' }, { memoryLimitMb: 0 }),
      'sandboxed /usr/bin/python3 -m ipykernel_launcher',
      (s, n) => s.trim().split('\n').slice(-n),
    );
    assert.match(
      m.reason,
      /^The Python kernel \(sandboxed \/usr\/bin\/python3 -m ipykernel_launcher\) killed by signal SIGABRT \(aborted\) while starting: it could not start a process: .*\.\nIts last output:\n/,
    );
    assert.match(m.reason, /src\/thread\.cpp:269\)$/);
  });

  it('a thread that cannot start: the process limit when the user is at it, else both candidates', () => {
    assert.equal(explainStartFailure(base(THREAD, {}, { tasksOfUser: 1030 })).cause, 'process-limit');
    const both = explainStartFailure(base(THREAD, {}, { tasksOfUser: 12 }));
    assert.equal(both.cause, 'thread-limit');
    assert.match(both.summary, /the process limit \(1024 .*\) or the memory limit \(8192 MiB of address space per process/);
    assert.match(both.fix, /raise maxProcesses \(now 1024\) or raise memoryLimitMb \(now 8192\)/);
    // a cgroup's memory.max does not refuse thread stacks: with it, the process limit it is
    assert.equal(explainStartFailure(base(ZMQ_ABORT, {}, { memoryPerSandbox: true, processesPerSandbox: true })).cause, 'process-limit');
    assert.match(
      explainStartFailure(base(ZMQ_ABORT, {}, { memoryPerSandbox: true, processesPerSandbox: true })).summary,
      /this sandbox's limit of 1024 processes/,
    );
  });

  it("a cgroup's counters decide: pids.max refused forks, or the OOM killer struck", () => {
    assert.equal(
      explainStartFailure(
        base(
          '',
          { code: null, signal: 'SIGKILL', description: 'killed by signal SIGKILL' },
          { events: { pidsMax: 4 }, processesPerSandbox: true },
        ),
      ).cause,
      'process-limit',
    );
    const oom = explainStartFailure(
      base(
        '',
        { code: null, signal: 'SIGKILL', description: 'killed by signal SIGKILL' },
        { events: { oomKills: 1 }, memoryPerSandbox: true },
      ),
    );
    assert.equal(oom.cause, 'memory');
    assert.match(oom.summary, /out-of-memory killer ended it under the sandbox's memory limit of 8192 MiB/);
    assert.equal(
      explainStartFailure(
        base(
          '',
          { code: null, signal: 'SIGKILL', description: 'killed by signal SIGKILL' },
          { events: { memoryMax: 3 }, memoryPerSandbox: true },
        ),
      ).cause,
      'memory',
    );
    assert.equal(
      explainStartFailure(base('', { code: null, signal: 'SIGKILL', description: 'killed by signal SIGKILL' }, { events: {} })).cause,
      'unknown',
      'a SIGKILL alone proves nothing',
    );
  });

  it('memory: a library that cannot be mapped under RLIMIT_AS, MemoryError', () => {
    const x = explainStartFailure(base(LAPACK));
    assert.equal(x.cause, 'memory');
    assert.match(
      x.summary,
      /a library could not be loaded into its address space under the limit of 8192 MiB of address space per process \(RLIMIT_AS/,
    );
    assert.match(x.fix, /raise memoryLimitMb \(now 8192; 0 for none\)/);
    assert.equal(explainStartFailure(base('MemoryError\n')).cause, 'memory');
    assert.match(explainStartFailure(base('MemoryError\n', {}, { memoryLimitMb: 0 })).summary, /no limit was set/);
  });

  it('install ipykernel only when the output says it is missing', () => {
    const x = explainStartFailure(base(NO_IPYKERNEL));
    assert.equal(x.cause, 'missing-ipykernel');
    assert.match(x.fix, /pip install ipykernel.*python3-ipykernel/);
    assert.match(x.fix, /folder the sandbox hides/);
    const broken = explainStartFailure(base(`  File "/x/ipykernel/kernelapp.py", line 3\nModuleNotFoundError: No module named 'zmq'\n`));
    assert.equal(broken.cause, 'broken-ipykernel');
    assert.match(broken.summary, /ipykernel cannot import zmq/);
    const unknown = explainStartFailure(
      base('Segmentation fault\n', { code: null, signal: 'SIGSEGV', description: 'killed by signal SIGSEGV' }),
    );
    assert.equal(unknown.cause, 'unknown');
    assert.equal(unknown.summary, '');
    assert.match(unknown.fix, /^run `\/usr\/bin\/python3 -m ipykernel_launcher --version` to see why it fails; if ipykernel is missing:/);
  });

  it('a missing interpreter, a cgroup that could not be joined, bwrap failing', () => {
    assert.equal(
      explainStartFailure(base('', { code: null, description: 'could not be started (spawn /nope/python ENOENT)' })).cause,
      'interpreter-missing',
    );
    assert.equal(explainStartFailure(base('bwrap: execvp /opt/py/bin/python3: No such file or directory\n')).cause, 'interpreter-missing');
    assert.equal(
      explainStartFailure(base('codedance: cannot join the cgroup /sys/fs/cgroup/x/cgroup.procs\n', { code: 125 })).cause,
      'cgroup',
    );
    const b = explainStartFailure(base("bwrap: Can't mount proc on /newroot/proc: Operation not permitted\n"));
    assert.equal(b.cause, 'sandbox');
    assert.match(b.summary, /bwrap: Can't mount proc/);
  });

  it('counts the tasks of a user as RLIMIT_NPROC does (threads included)', function () {
    if (process.platform !== 'linux') this.skip();
    assert.ok(userTaskCount(process.getuid!()) >= 1);
    assert.equal(userTaskCount(2 ** 31 - 7), 0);
  });
});
