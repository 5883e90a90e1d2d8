/**
 * Limits per sandbox, not per process (issue #21), through real kernel sessions: the memory of
 * all the code's processes together, a fork bomb that must not starve another, independent
 * kernel, a double-forked daemon that must not outlive its kernel (sandboxed or not), and no
 * user namespaces inside the sandbox. Each failed on the code before (RLIMIT_AS per process,
 * RLIMIT_NPROC shared by every sandbox of nobody, PR_SET_PDEATHSIG on the kernel alone, no
 * seccomp filter). Parts the machine cannot do (no cgroup controller) are skipped with the reason.
 */
import { strict as assert } from 'node:assert';
import { cgroupSupport } from '../../../src/core/kernel/cgroup';
import { sandboxStatus } from '../../../src/core/kernel/sandbox';
import { disposeAll, newSession, processAlive, waitFor } from './helpers';

describe('kernel limits hold for the whole sandbox (real kernels)', function () {
  this.timeout(120_000);
  afterEach(disposeAll);

  it('three children together cannot hold more than the memory limit', async function () {
    if (!cgroupSupport().memory) this.skip(); // only per-process RLIMIT_AS here: said in the notice
    const s = await newSession({ memoryLimitMb: 1200 });
    const r = await s.execute(
      [
        'import subprocess, sys',
        // each child holds its 500 MiB until all three hold theirs (or 15 s): they overlap however slowly they start
        "child = \"import os, sys, time\\nb = bytearray(500 * 1024 * 1024)\\nfor i in range(0, len(b), 4096): b[i] = 1\\nopen(f'held-{sys.argv[1]}', 'w').close()\\nt = time.time()\\nwhile len([f for f in os.listdir('.') if f.startswith('held-')]) < 3 and time.time() - t < 15: time.sleep(0.05)\\nprint('held', flush=True)\"",
        'procs = [subprocess.Popen([sys.executable, "-c", child, str(i)], stdout=subprocess.PIPE, text=True) for i in range(3)]',
        'held = sum(1 for p in procs if "held" in (p.communicate()[0] or ""))',
        'print("held", held)',
      ].join('\n'),
      { timeoutMs: 60_000 },
    );
    const held = Number(/held (\d)/.exec(r.stdout)?.[1] ?? NaN);
    assert.ok(held < 3, `all three children held 500 MiB each under a 1200 MiB limit: ${r.stdout} ${r.stderr}`);
  });

  it('a fork bomb in one sandbox leaves another, independent kernel able to start and run', async function () {
    if (!sandboxStatus().available || !cgroupSupport().pids) this.skip();
    const a = await newSession({ sandbox: 'on', maxProcesses: 64 });
    const bomb = await a.execute(
      [
        'import os, time',
        'n = 0',
        'try:',
        '    for _ in range(500):',
        '        if os.fork() == 0:',
        '            time.sleep(60); os._exit(0)',
        '        n += 1',
        'except OSError as e:',
        '    print("fork refused after", n, e.errno)',
      ].join('\n'),
      { timeoutMs: 30_000 },
    );
    assert.match(bomb.stdout, /fork refused after \d+/, bomb.stderr);
    // A's processes are still there, at its limit; B has the same limit, counted for itself
    const b = await newSession({ sandbox: 'on', maxProcesses: 64 });
    const r = await b.execute('print(6 * 7)');
    assert.equal(r.stdout.trim(), '42');
  });

  for (const sandbox of ['on', 'off'] as const) {
    it(`a double-forked daemon does not outlive its kernel (sandbox ${sandbox})`, async function () {
      if (sandbox === 'on' && !sandboxStatus().available) this.skip();
      if (process.platform !== 'linux') this.skip();
      const s = await newSession({ sandbox });
      const r = await s.execute(
        [
          'import os, time',
          'r, w = os.pipe()',
          'middle = os.fork()',
          'if middle == 0:',
          '    os.setsid()',
          '    if os.fork() == 0:',
          '        os.write(w, str(os.getpid()).encode()); time.sleep(120); os._exit(0)',
          '    os._exit(0)',
          '# the middle process is gone (the daemon re-parented) before the PID is printed',
          'os.waitpid(middle, 0)',
          'print("daemon", os.read(r, 32).decode())',
        ].join('\n'),
      );
      const inner = Number(/daemon (\d+)/.exec(r.stdout)?.[1]);
      assert.ok(inner > 0, r.stdout + r.stderr);
      // sandboxed, the PID printed is the namespace's; find the daemon on the host by its command line
      const hostPids = sandbox === 'off' ? [inner] : daemonsOf(s.pid!);
      assert.ok(hostPids.length > 0, 'the daemon runs');
      await s.dispose();
      await waitFor(() => hostPids.every((p) => !processAlive(p)), 5000, 'the daemon to end').catch(() => undefined);
      assert.deepEqual(
        hostPids.filter((p) => processAlive(p)),
        [],
        'the daemon outlived its kernel',
      );
    });
  }

  it('no user namespace can be made inside the sandbox', async function () {
    if (!sandboxStatus().available || !['x64', 'arm64'].includes(process.arch)) this.skip();
    const s = await newSession({ sandbox: 'on' });
    const r = await s.execute(
      'import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nrc = libc.unshare(0x10000000)\nprint("unshare", rc, os.strerror(ctypes.get_errno()) if rc else "ok")',
    );
    assert.match(r.stdout, /unshare -1 Operation not permitted/, r.stdout + r.stderr);
  });
});

/** host PIDs of Python processes in the kernel's PID namespace, in a session other than the kernel's (sandboxed: the daemon) */
function daemonsOf(kernelPid: number): number[] {
  const { readdirSync, readFileSync, readlinkSync } = require('node:fs') as typeof import('node:fs');
  const stat = (p: string) => {
    try {
      const s = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      return { ppid: Number(f[1]), sid: Number(f[3]), state: f[0] };
    } catch {
      return undefined;
    }
  };
  const k = stat(String(kernelPid));
  if (!k) return [];
  const pidNs = (p: string) => {
    try {
      return readlinkSync(`/proc/${p}/ns/pid`);
    } catch {
      return undefined;
    }
  };
  const ns = pidNs(String(kernelPid));
  // not the sandbox's init (bwrap) nor, forked, the holder's `sleep`: the kernel's Python daemon
  const isPython = (p: string) => {
    try {
      return /python/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0]);
    } catch {
      return false;
    }
  };
  // the daemon lives in the kernel's PID namespace (re-parented to the sandbox's init) with a session of its own
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      const st = stat(n);
      return st && Number(n) !== kernelPid && st.sid !== k.sid && st.state !== 'Z' && pidNs(n) === ns && isPython(n);
    })
    .map(Number);
}
