import { strict as assert } from 'node:assert';
import { cgroupSupport } from '../../../src/core/kernel/cgroup';
import { describeSandbox } from '../../../src/core/kernel/sandboxNotice';
import {
  defaultMemoryLimitMb,
  kernelEnvironment,
  planKernelLaunch,
  SandboxUnavailableError,
  sandboxStatus,
} from '../../../src/core/kernel/sandbox';

const HOST = {
  PATH: '/usr/bin:/bin',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  HOME: '/home/someone',
  OPENAI_API_KEY: 'sk-nope',
  AWS_SECRET_ACCESS_KEY: 'nope',
  SSH_AUTH_SOCK: '/run/user/1000/ssh',
  HF_TOKEN: 'hf-xyz',
  PYTHONPATH: '/opt/lib',
};
const PY = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

describe('sandbox: the kernel launch', () => {
  it('the environment is an allow-list: secrets and sockets stay out, passEnv and explicit values get in', () => {
    const env = kernelEnvironment(HOST, { passEnv: ['HF_TOKEN'], explicit: { MPLBACKEND: 'Agg' }, home: '/tmp/home' });
    assert.deepEqual(env, {
      PATH: '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      LC_ALL: 'C.UTF-8',
      HOME: '/tmp/home',
      HF_TOKEN: 'hf-xyz',
      PYTHONPATH: '/opt/lib',
      MPLBACKEND: 'Agg',
    });
    assert.equal(kernelEnvironment(HOST, {}).HOME, '/home/someone');
  });

  it('memory limit default: min(8192 MiB, half the RAM)', () => {
    assert.equal(defaultMemoryLimitMb(64 * 1024 ** 3), 8192);
    assert.equal(defaultMemoryLimitMb(4 * 1024 ** 3), 2048);
  });

  it('unsandboxed on Linux: the supervisor (parent-death signal, subreaper), limits through prlimit, the ipykernel parent poller', async function () {
    if (process.platform !== 'linux') this.skip();
    const p = await planKernelLaunch({
      python: PY,
      args: ['-m', 'ipykernel_launcher'],
      hostEnv: HOST,
      workdir: '/w',
      sandbox: 'off',
      memoryLimitMb: 1000,
    });
    assert.equal(p.sandboxed, false);
    assert.equal(p.transport, 'tcp');
    assert.equal(p.unsandboxedReason, undefined, 'turned off on purpose is not "unavailable"');
    assert.match(p.command, /prlimit$/);
    assert.deepEqual(p.args.slice(0, 3), [`--as=${1000 * 1024 * 1024}`, '--', PY]);
    const code = p.args[4];
    assert.match(code, /PR_SET_CHILD_SUBREAPER/);
    assert.match(code, /prctl\(PR_SET_PDEATHSIG/);
    assert.equal(p.supervised, true);
    assert.equal(p.args[5], String(process.pid));
    assert.deepEqual(p.args.slice(-2), ['-m', 'ipykernel_launcher']);
    assert.equal(p.env.JPY_PARENT_PID, String(process.pid));
    assert.equal(p.env.OPENAI_API_KEY, undefined);
  });

  it('sandboxed: namespaces, read-only root, hidden homes and /tmp, the work folders bound, ipc transport', async function () {
    if (!sandboxStatus().available) this.skip();
    const p = await planKernelLaunch({
      python: PY,
      args: [],
      hostEnv: HOST,
      workdir: '/tmp/w',
      writable: ['/tmp/r/k-1'],
      readOnly: ['/tmp/r/in'],
      memoryLimitMb: 0,
      maxProcesses: 0,
    });
    assert.equal(p.sandboxed, true);
    assert.equal(p.transport, 'ipc');
    assert.match(p.command, /bwrap$/);
    const a = p.args.join(' ');
    for (const f of [
      '--unshare-pid',
      '--unshare-net',
      '--die-with-parent',
      '--new-session',
      '--ro-bind / /',
      '--proc /proc',
      '--tmpfs /tmp',
      '--tmpfs /home',
      '--bind /tmp/w /tmp/w',
      '--bind /tmp/r/k-1 /tmp/r/k-1',
      '--ro-bind /tmp/r/in /tmp/r/in',
      '--chdir /tmp/w',
      '--info-fd 3',
    ])
      assert.ok(a.includes(f), `missing ${f} in ${a}`);
    assert.ok(!/--bind \/tmp\/r /.test(a), 'the private runtime folder itself is never bound');
    assert.ok(!a.includes('prlimit'), 'no limits asked: no prlimit');
    assert.ok(a.startsWith('--info-fd 3 --seccomp 4 ') === (p.seccomp !== undefined), 'the seccomp filter goes to fd 4');
    if (process.arch === 'x64' || process.arch === 'arm64') assert.ok(p.seccomp && p.seccomp.length > 0);
    assert.equal(p.env.HOME, '/tmp/home');
    assert.equal(p.env.JPY_PARENT_PID, undefined, "ipykernel's parent poller would see PID 1 and quit");
    const n = await planKernelLaunch({ python: PY, args: [], hostEnv: HOST, workdir: '/tmp/w', network: true });
    assert.equal(n.transport, 'tcp');
    assert.ok(!n.args.includes('--unshare-net'));
    // as root the code runs as nobody; the process limit is the cgroup's pids.max where there is
    // one (per sandbox), else RLIMIT_NPROC (then shared by every sandbox of nobody)
    if (process.getuid?.() === 0) {
      assert.deepEqual(n.runAs, { uid: 65534, gid: 65534 });
      const nproc = cgroupSupport().pids ? '' : ' --nproc=1024';
      assert.match(
        n.args.join(' '),
        new RegExp(
          `--cap-drop ALL .*setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- \\S*prlimit --as=\\d+${nproc} --`,
        ),
      );
      assert.equal(n.cgroupLimits?.maxProcesses ?? 0, cgroupSupport().pids ? 1024 : 0);
    } else assert.equal(n.runAs, undefined);
  });

  it('without bwrap: auto runs unsandboxed and says why and how to fix it; on refuses', async function () {
    if (process.platform !== 'linux') this.skip();
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const s = sandboxStatus(true);
      assert.equal(s.available, false);
      assert.match(s.reason!, /bubblewrap \(bwrap\) is not installed/);
      assert.match(
        describeSandbox(),
        /^Python cells run UNSANDBOXED: .*not installed.*To sandbox: install it: sudo apt-get install bubblewrap/,
      );
      const p = await planKernelLaunch({ python: PY, args: [], hostEnv: HOST, workdir: '/w' });
      assert.equal(p.sandboxed, false);
      assert.match(p.unsandboxedReason!, /not installed/);
      await assert.rejects(
        planKernelLaunch({ python: PY, args: [], hostEnv: HOST, workdir: '/w', sandbox: 'on' }),
        (e: unknown) => e instanceof SandboxUnavailableError && /apt-get install bubblewrap/.test((e as Error).message),
      );
    } finally {
      process.env.PATH = path;
      sandboxStatus(true);
    }
  });
});
