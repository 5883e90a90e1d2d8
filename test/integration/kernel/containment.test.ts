/**
 * Containment for real (issue #21, "limits per sandbox" and "persistence"), each part skipped
 * where this machine lacks what it needs:
 *  - seccomp.ts under bwrap (the filter passed from Node on fd 3): no user namespace can be
 *    made inside; threads, subprocesses and libzmq still work; without the filter it can;
 *  - cgroup.ts: three children together stay under ONE memory limit; a fork bomb stops at
 *    pids.max and killAll ends it; a double-forked, setsid() daemon dies with killAll; the
 *    cgroups of a CodeDance process killed outright are swept.
 * The supervisor and the process limit: containmentSupervisor.test.ts.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cgroupSupport, createKernelCgroup, type KernelCgroup, sweepStaleCgroups } from '../../../src/core/kernel/cgroup';
import { FolderCgroup } from '../../../src/core/kernel/cgroupHandle';
import { ownV2, readLayout } from '../../../src/core/kernel/cgroupHost';
import { sandboxStatus } from '../../../src/core/kernel/sandbox';
import { findOnPath } from '../../../src/core/kernel/sandboxHost';
import { seccompFilter } from '../../../src/core/kernel/seccomp';
import { alive, bwrapArgs, daemonCode, exited, PY, ROOT, until } from './containmentHelpers';

describe('containment: seccomp in the sandbox', function () {
  this.timeout(60000);
  const probe = `
import ctypes, os, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
def err(r):
    return "ok" if r >= 0 else os.strerror(ctypes.get_errno())
unshare = err(libc.unshare(0x10000000))  # first: a process with threads gets EINVAL
t = threading.Thread(target=lambda: None); t.start(); t.join()
print("thread ok")
print("subprocess", subprocess.run(["true"]).returncode)
import zmq
s = zmq.Context().socket(zmq.PUB); s.close()
print("zmq ok")
print("clone3", err(libc.syscall(435, 0, 0)))
print("unshare", unshare)
`;

  before(function () {
    if (process.platform !== 'linux' || !sandboxStatus().available || !seccompFilter()) this.skip();
  });

  async function runSandboxed(filter: Buffer | undefined) {
    const args = [...bwrapArgs(filter ? ['--seccomp', '3'] : []), '--', PY, '-c', probe];
    // how process.ts would pass it: a pipe on fd 3, written and closed at once (bwrap reads to EOF)
    const c = spawn(findOnPath('bwrap')!, args, { stdio: ['ignore', 'pipe', 'pipe', ...(filter ? (['pipe'] as const) : [])] });
    if (filter) (c.stdio[3] as NodeJS.WritableStream).end(filter);
    return exited(c);
  }

  it('with the filter: no user namespace (EPERM), clone3 falls back (ENOSYS), threads, subprocesses and libzmq work', async () => {
    const r = await runSandboxed(seccompFilter());
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /thread ok\nsubprocess 0\nzmq ok\nclone3 Function not implemented\nunshare Operation not permitted\n/);
  });

  it('without it, the same sandbox can make one (what the filter takes away)', async () => {
    const r = await runSandboxed(undefined);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /unshare ok/);
  });
});

describe('containment: a cgroup per sandbox', function () {
  this.timeout(60000);
  let tmp: string;
  const made: KernelCgroup[] = [];
  const cgroup = (memoryMb: number, maxProcesses: number) => {
    const cg = createKernelCgroup({ memoryMb, maxProcesses });
    assert.ok(cg, 'createKernelCgroup');
    made.push(cg);
    return cg;
  };
  /** wrapped in the cgroup, inside bwrap where it works */
  const spawnIn = (cg: KernelCgroup, code: string, sandboxed = sandboxStatus().available) => {
    const inner = sandboxed
      ? { command: findOnPath('bwrap')!, args: [...bwrapArgs(['--bind', tmp, tmp]), '--', PY, '-c', code] }
      : { command: PY, args: ['-c', code] };
    const w = cg.wrap(inner.command, inner.args);
    return spawn(w.command, w.args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: { ...process.env, ...w.env } });
  };

  before(function () {
    if (process.platform !== 'linux' || cgroupSupport().kind === 'none') this.skip();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-cg-'));
  });
  after(async () => {
    for (const cg of made) {
      await cg.killAll(2000);
      await cg.remove();
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('two copies of the module in one process (an extension host loads several bundles) never share a cgroup', () => {
    const file = require.resolve('../../../src/core/kernel/cgroup');
    const cached = require.cache[file];
    delete require.cache[file];
    try {
      const copy = require(file) as typeof import('../../../src/core/kernel/cgroup');
      const mine = cgroup(256, 64);
      const theirs = copy.createKernelCgroup({ memoryMb: 256, maxProcesses: 64 });
      assert.ok(theirs, 'the second copy makes its own');
      made.push(theirs);
      const joins = (cg: KernelCgroup) => cg.wrap('true', []).args.join(' ');
      assert.notEqual(joins(mine), joins(theirs), 'killing one kernel would kill the other');
    } finally {
      if (cached) require.cache[file] = cached;
    }
  });

  it('the joining prefix hands bwrap its fds as process.ts passes them (--info-fd 3, --seccomp 4)', async function () {
    if (!sandboxStatus().available || !seccompFilter()) this.skip();
    const cg = cgroup(256, 64);
    const probe =
      'import ctypes, os\nprint("unshare", ctypes.CDLL(None).unshare(0x10000000), open("/proc/self/cgroup").read().count("\\n") > 0)';
    const w = cg.wrap(findOnPath('bwrap')!, ['--info-fd', '3', '--seccomp', '4', ...bwrapArgs(), '--', PY, '-c', probe]);
    const c = spawn(w.command, w.args, {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, ...w.env },
    });
    (c.stdio[4] as NodeJS.WritableStream).end(seccompFilter()!);
    let info = '';
    (c.stdio[3] as NodeJS.ReadableStream).on('data', (b: Buffer) => (info += b.toString()));
    const r = await exited(c);
    assert.equal(r.code, 0, r.out);
    assert.match(info, /"child-pid"\s*:\s*\d+/, 'bwrap wrote its info through the prefix');
    assert.match(r.out, /unshare -1 True/, 'the filter read from fd 4 is in force');
  });

  it('three children together stay under one memory limit (RLIMIT_AS would let each have it)', async function () {
    if (!cgroupSupport().memory) this.skip();
    const cg = cgroup(300, 64);
    const code = `
import os, sys
kids = []
for i in range(3):
    pid = os.fork()
    if pid == 0:
        b = bytearray(150 * 1024 * 1024)
        for j in range(0, len(b), 4096): b[j] = 1
        import time; time.sleep(1.5); os._exit(0)
    kids.append(pid)
print("exits", [os.waitpid(p, 0)[1] for p in kids], flush=True)
`;
    const r = await exited(spawnIn(cg, code));
    const statuses = JSON.parse(/exits (\[.*\])/.exec(r.out)?.[1] ?? 'null') as number[] | null;
    assert.ok(statuses, r.out);
    assert.ok(statuses.filter((s) => s === 0).length <= 1, `at most one child can hold 150 MiB under 300 MiB: ${r.out}`);
    assert.ok(
      statuses.some((s) => (s & 0x7f) === 9),
      `the OOM killer ended the others: ${r.out}`,
    );
    assert.ok((cg.events().oomKills ?? 0) >= 1, JSON.stringify(cg.events()));
  });

  it('a fork bomb stops at pids.max, and killAll ends it', async function () {
    if (!cgroupSupport().pids) this.skip();
    const cg = cgroup(512, 40);
    const c = spawnIn(cg, 'import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n');
    const done = exited(c);
    await until(() => (cg.events().pidsMax ?? 0) > 0, 10000, 'pids.max to refuse forks');
    assert.ok(cg.pids().length <= 40, `${cg.pids().length} processes under pids.max 40`);
    const t0 = Date.now();
    assert.equal(await cg.killAll(5000), true);
    assert.deepEqual(cg.pids(), []);
    await done;
    assert.ok(Date.now() - t0 < 5000);
  });

  it('a double-forked setsid() daemon of an unsandboxed process dies with killAll; remove() removes the cgroup', async () => {
    const cg = cgroup(256, 64);
    const pidFile = path.join(tmp, 'daemon.pid');
    const r = await exited(spawnIn(cg, daemonCode(pidFile), false));
    assert.equal(r.code, 0, r.out);
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0, 5000, 'the daemon');
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(alive(daemon), 'the daemon outlived its parent');
    assert.deepEqual(cg.pids(), [daemon]);
    assert.equal(await cg.killAll(), true);
    await until(() => !alive(daemon), 2000, 'the daemon to die');
    const dirs = (cg as unknown as { folders(): string[] }).folders();
    await cg.remove();
    for (const d of dirs) assert.ok(!existsSync(d), `${d} removed`);
  });

  it('the cgroups of a CodeDance process killed outright are swept, with what is left in them', async function () {
    if (cgroupSupport().kind === 'systemd-scope') this.skip(); // scopes go with their last process
    const pidFile = path.join(tmp, 'orphan.pid');
    const script = path.join(tmp, 'owner.ts');
    writeFileSync(
      script,
      `import { spawn } from 'node:child_process';
import { createKernelCgroup } from ${JSON.stringify(path.join(ROOT, 'src/core/kernel/cgroup'))};
const cg = createKernelCgroup({ memoryMb: 128, maxProcesses: 16 })!;
const w = cg.wrap(${JSON.stringify(PY)}, ['-c', ${JSON.stringify(daemonCode(pidFile))}]);
spawn(w.command, w.args, { stdio: 'ignore', detached: true }).unref();
setInterval(() => undefined, 1000);
`,
    );
    const owner = spawn(process.execPath, ['--require', path.join(ROOT, 'scripts/registerTs.cjs'), script], { stdio: 'ignore' });
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').length > 0, 20000, 'the orphan daemon');
    const daemon = Number(readFileSync(pidFile, 'utf8'));
    owner.kill('SIGKILL');
    await exited(owner);
    assert.ok(alive(daemon), 'nothing killed it yet');
    assert.ok(sweepStaleCgroups() >= 1);
    await until(() => !alive(daemon), 2000, 'the swept daemon to die');
  });
});

describe('containment: killing through cgroup v2 (cgroup.kill)', function () {
  this.timeout(30000);
  let dir: string | undefined;
  before(function () {
    // a child of this process's own v2 cgroup: no controller needed to hold and kill processes
    const own = process.platform === 'linux' ? ownV2(readLayout()) : undefined;
    if (!own) return this.skip();
    dir = path.join(own.dir, `codedance-test-${process.pid}`);
    try {
      mkdirSync(dir);
    } catch {
      dir = undefined;
      return this.skip();
    }
    if (!existsSync(path.join(dir, 'cgroup.kill'))) this.skip(); // Linux < 5.14
  });
  after(() => dir && rmdirSync(dir));

  it('a v2 folder: a setsid() daemon dies with killAll, and the folder is empty', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-v2-'));
    try {
      const cg = new FolderCgroup('v2', false, false, [dir!]);
      const f = path.join(tmp, 'd.pid');
      const w = cg.wrap(PY, ['-c', daemonCode(f)]);
      const r = await exited(spawn(w.command, w.args, { stdio: ['ignore', 'pipe', 'pipe'] }));
      assert.equal(r.code, 0, r.out);
      await until(() => existsSync(f) && readFileSync(f, 'utf8').length > 0, 5000, 'the daemon');
      const daemon = Number(readFileSync(f, 'utf8'));
      assert.deepEqual(cg.pids(), [daemon]);
      assert.equal(await cg.killAll(), true);
      await until(() => !alive(daemon), 2000, 'the daemon to die');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
