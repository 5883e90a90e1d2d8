/**
 * cgroup.ts without touching the machine's cgroups: what the mount table and /proc/self/cgroup
 * say, the joining prefix (on plain files standing in for cgroup.procs), the scope's command
 * line, and the one-sentence description of the limits (real cgroups: test/integration/kernel/containment).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FolderCgroup, ScopeCgroup } from '../../../src/core/kernel/cgroupHandle';
import { cgroupDir, parseCgroupMounts, parseProcCgroup } from '../../../src/core/kernel/cgroupHost';
import { cgroupSupport } from '../../../src/core/kernel/cgroup';
import { describeLimits } from '../../../src/core/kernel/limits';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 23 0:40 / /mnt/with\\040space rw - ext4 /dev/sda1 rw`;

describe('cgroup: reading the machine', () => {
  it('finds v1 hierarchies with their controllers and the v2 one', () => {
    const m = parseCgroupMounts(HYBRID);
    assert.deepEqual(
      m.map((x) => [x.mountPoint, x.version, x.controllers.join(',')]),
      [
        ['/sys/fs/cgroup/memory', 1, 'memory'],
        ['/sys/fs/cgroup/freezer', 1, 'freezer'],
        ['/sys/fs/cgroup/pids', 1, 'pids'],
        ['/sys/fs/cgroup/cpu,cpuacct', 1, 'cpu,cpuacct'],
        ['/sys/fs/cgroup/systemd', 1, 'name=systemd'],
        ['/sys/fs/cgroup/unified', 2, ''],
      ],
    );
    const pure = parseCgroupMounts('29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot');
    assert.deepEqual(pure, [{ mountPoint: '/sys/fs/cgroup', root: '/', version: 2, controllers: [] }]);
  });

  it("reads this process's place in each hierarchy", () => {
    const own = parseProcCgroup('9:name=systemd:/\n4:memory:/process_api/02b7\n2:cpu,cpuacct:/x\n0::/user.slice/app.scope\n');
    assert.equal(own.get(''), '/user.slice/app.scope');
    assert.equal(own.get('memory'), '/process_api/02b7');
    assert.equal(own.get('cpuacct'), '/x');
    assert.equal(own.get('name=systemd'), '/');
  });

  it('maps a cgroup to its folder, also where a container mounted only its sub-tree', () => {
    const m = { mountPoint: '/sys/fs/cgroup/memory', root: '/', version: 1 as const, controllers: ['memory'] };
    assert.equal(cgroupDir(m, '/process_api/02b7'), '/sys/fs/cgroup/memory/process_api/02b7');
    assert.equal(cgroupDir(m, '/'), '/sys/fs/cgroup/memory');
    const sub = { ...m, root: '/docker/abc' };
    assert.equal(cgroupDir(sub, '/docker/abc'), '/sys/fs/cgroup/memory');
    assert.equal(cgroupDir(sub, '/docker/abc/k'), '/sys/fs/cgroup/memory/k');
    assert.equal(cgroupDir(sub, '/docker/other'), undefined);
    assert.equal(cgroupDir(m, '/../outside'), undefined);
  });

  it('says what this machine allows, once (cached)', function () {
    const s = cgroupSupport();
    assert.ok(['v1', 'v2', 'systemd-scope', 'none'].includes(s.kind));
    assert.ok(s.reason.length > 0);
    assert.equal(s.kind === 'none', !s.memory && !s.pids);
    assert.equal(cgroupSupport(), s);
  });
});

describe('cgroup: joining before the command runs', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-cgtest-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('the prefix writes its own PID to every cgroup.procs, then execs the command with its arguments intact', function () {
    if (process.platform === 'win32') this.skip();
    const dirs = ['a', 'b', 'f'].map((d) => (mkdirSync(path.join(tmp, d)), path.join(tmp, d)));
    const cg = new FolderCgroup('v1', true, true, dirs.slice(0, 2), dirs[2]);
    const w = cg.wrap('/bin/sh', ['-c', 'echo "$$ $# [$1] [$2]"', 'x', 'two words', '--']);
    const r = spawnSync(w.command, w.args, { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [pid, ...rest] = r.stdout.trim().split(' ');
    assert.equal(rest.join(' '), '2 [two words] [--]', 'arguments after the command, "--" included, reach it as they were');
    for (const d of dirs)
      assert.equal(
        readFileSync(path.join(d, 'cgroup.procs'), 'utf8').trim(),
        pid,
        `joined ${d} as the same process that then ran the command`,
      );
  });

  it('a cgroup it cannot join stops the start with exit 125 and says so', function () {
    if (process.platform === 'win32') this.skip();
    const cg = new FolderCgroup('v2', false, true, [path.join(tmp, 'missing')]);
    const w = cg.wrap('/bin/echo', ['ran']);
    const r = spawnSync(w.command, w.args, { encoding: 'utf8' });
    assert.equal(r.status, 125);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /codedance: cannot join the cgroup/);
  });

  it('counts limit hits from v2 and v1 counter files', () => {
    const v2 = path.join(tmp, 'v2');
    mkdirSync(v2);
    writeFileSync(path.join(v2, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n');
    writeFileSync(path.join(v2, 'pids.events'), 'max 3\n');
    assert.deepEqual(new FolderCgroup('v2', true, true, [v2]).events(), { oomKills: 1, memoryMax: 12, pidsMax: 3 });
    const v1m = path.join(tmp, 'v1m');
    mkdirSync(v1m);
    writeFileSync(path.join(v1m, 'memory.failcnt'), '7\n');
    writeFileSync(path.join(v1m, 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    assert.deepEqual(new FolderCgroup('v1', true, false, [v1m]).events(), { oomKills: 2, memoryMax: 7 });
  });

  it('a systemd scope: systemd-run with the limits, the bus variables only for systemd-run', () => {
    const saved = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS };
    process.env.XDG_RUNTIME_DIR = '/run/user/1000';
    delete process.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      const mount = { mountPoint: '/sys/fs/cgroup', root: '/', version: 2 as const, controllers: [] };
      const cg = new ScopeCgroup(
        { run: '/usr/bin/systemd-run', ctl: '/usr/bin/systemctl', user: true, mount },
        'codedance-kernel-1-1.scope',
        { memoryMb: 512, maxProcesses: 64 },
        true,
        true,
      );
      const w = cg.wrap('/usr/bin/bwrap', ['--unshare-pid', '--', 'python3']);
      assert.equal(w.command, '/usr/bin/systemd-run');
      assert.deepEqual(w.env, { XDG_RUNTIME_DIR: '/run/user/1000' });
      const sep = w.args.indexOf('--');
      assert.deepEqual(w.args.slice(0, sep), [
        '--user',
        '--scope',
        '--quiet',
        '--collect',
        '--unit=codedance-kernel-1-1.scope',
        '-p',
        `MemoryMax=${512 * 1024 * 1024}`,
        '-p',
        'MemorySwapMax=0',
        '-p',
        'TasksMax=64',
      ]);
      assert.match(w.args[sep + 1], /env$/);
      assert.deepEqual(w.args.slice(sep + 2), ['-u', 'XDG_RUNTIME_DIR', '/usr/bin/bwrap', '--unshare-pid', '--', 'python3']);
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

describe('limits: one sentence that claims no more than holds', () => {
  const cg = { kind: 'v2' as const, reason: 'a cgroup v2 per sandbox', memory: true, pids: true };
  const none = { kind: 'none' as const, reason: 'no usable cgroup', memory: false, pids: false };

  it('with a cgroup: memory and processes for the whole sandbox', () => {
    assert.equal(
      describeLimits(cg, { memoryLimitMb: 8192, maxProcesses: 1024 }),
      'Limits: per sandbox (a cgroup v2, for the kernel and all it starts): 8192 MiB of memory, 1024 processes.',
    );
  });

  it('without one: address space per process, and a process limit shared by the user', () => {
    const s = describeLimits(none, { memoryLimitMb: 8192, maxProcesses: 1024, nproc: 'per-user', runAsUser: 'nobody' });
    assert.match(
      s,
      /^Limits: per process only \(no usable cgroup here\): 8192 MiB of address space per process \(RLIMIT_AS: several processes together can use more\); 1024 processes shared by every process of user nobody, other sandboxes included/,
    );
    assert.ok(!/per sandbox/.test(s));
    assert.equal((s.match(/\./g) ?? []).length, 1, 'one sentence');
  });

  it('RLIMIT_NPROC in its own user namespace is per sandbox; what is not set is said', () => {
    assert.match(
      describeLimits(none, { memoryLimitMb: 0, maxProcesses: 512, nproc: 'per-sandbox' }),
      /per sandbox \(its own user namespace.*512 processes.*; none on memory\.$/,
    );
    assert.equal(describeLimits(none, { memoryLimitMb: 0, maxProcesses: 1024, nproc: 'none' }), 'Limits: none on memory or processes.');
    assert.match(
      describeLimits({ ...cg, pids: false }, { memoryLimitMb: 4096, maxProcesses: 0, cpuTimeLimitS: 60 }),
      /4096 MiB of memory; per process only: 60 CPU seconds per process; none on processes\.$/,
    );
  });
});
