/**
 * Containment for real (issue #21, "persistence"), each part skipped where this machine lacks
 * what it needs (the sandbox's own containment: containment.test.ts):
 *  - supervisor.ts: an unsandboxed kernel's daemons do not outlive it, its SIGTERM or its Node;
 *  - startFailure.ts: a kernel started while the user's processes fill RLIMIT_NPROC is said to
 *    have hit the process limit (it was told to install ipykernel).
 */
import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findOnPath } from '../../../src/core/kernel/sandboxHost';
import { explainStartFailure, userTaskCount } from '../../../src/core/kernel/startFailure';
import { supervisedArgs } from '../../../src/core/kernel/supervisor';
import { alive, daemonCode, exited, PY, until } from './containmentHelpers';

describe('containment: the supervisor of an unsandboxed kernel', function () {
  this.timeout(60000);
  let tmp: string;
  before(function () {
    if (process.platform !== 'linux') this.skip();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-sup-'));
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));
  const daemonPid = async (f: string) => {
    await until(() => existsSync(f) && readFileSync(f, 'utf8').length > 0, 5000, 'the daemon');
    return Number(readFileSync(f, 'utf8'));
  };

  it('when the kernel exits, its double-forked setsid() daemon goes too; the exit code is the kernel’s', async () => {
    const f = path.join(tmp, 'd1.pid');
    const c = spawn(PY, supervisedArgs(['-c', `${daemonCode(f)}\nimport time, sys\ntime.sleep(0.3)\nsys.exit(7)`]), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const r = await exited(c);
    assert.deepEqual([r.code, r.signal], [7, null], r.out);
    assert.ok(!alive(await daemonPid(f)), 'the daemon was killed');
  });

  it('SIGINT reaches the kernel; SIGTERM to the supervisor ends the kernel and its daemon', async () => {
    const f = path.join(tmp, 'd2.pid');
    const code = `${daemonCode(f)}
import signal, time
signal.signal(signal.SIGINT, lambda *a: print("interrupted", flush=True))
print("ready", flush=True)
while True: time.sleep(0.05)
`;
    const c = spawn(PY, supervisedArgs(['-c', code]), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const done = exited(c);
    let out = '';
    c.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await until(() => out.includes('ready'), 10000, 'the kernel');
    const daemon = await daemonPid(f);
    c.kill('SIGINT');
    await until(() => out.includes('interrupted'), 5000, 'the forwarded SIGINT');
    assert.ok(c.exitCode === null, 'an interrupt does not end it');
    c.kill('SIGTERM');
    const r = await done;
    assert.equal(r.signal, 'SIGTERM', JSON.stringify(r));
    assert.ok(!alive(daemon), 'the daemon was killed');
  });

  it('when Node (the parent) is SIGKILLed, the kernel and its daemon go', async () => {
    const f = path.join(tmp, 'd3.pid');
    const k = path.join(tmp, 'k3.pid');
    const kernel = `${daemonCode(f)}\nimport os, time\nopen(${JSON.stringify(k)}, "w").write(str(os.getpid()))\ntime.sleep(600)`;
    // a stand-in for Node: a shell that starts the supervisor with its own PID as the parent's
    const parent = spawn('/bin/sh', ['-c', '"$0" -c "$1" $$ -c "$2" & wait', PY, supervisedArgs([])[1], kernel], {
      stdio: 'ignore',
      detached: true,
    });
    const daemon = await daemonPid(f);
    await until(() => existsSync(k) && readFileSync(k, 'utf8').length > 0, 5000, 'the kernel');
    const kernelPid = Number(readFileSync(k, 'utf8'));
    parent.kill('SIGKILL');
    await until(() => !alive(kernelPid) && !alive(daemon), 5000, 'the kernel and the daemon to die');
  });

  it('a kernel killed by a signal: the supervisor dies of the same signal', async () => {
    const r = await exited(
      spawn(PY, supervisedArgs(['-c', 'import os, signal; os.kill(os.getpid(), signal.SIGSEGV)']), { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    assert.equal(r.signal, 'SIGSEGV', JSON.stringify(r));
  });
});

describe('containment: a start that hits the process limit says so', function () {
  this.timeout(60000);
  const N = 40;
  let fillers: ChildProcess[] = [];
  before(function () {
    // RLIMIT_NPROC counts per user: as root, fill nobody's count as another sandbox's fork bomb would
    if (process.platform !== 'linux' || process.getuid?.() !== 0 || !findOnPath('setpriv') || !findOnPath('prlimit')) this.skip();
    if (spawnSync(PY, ['-c', 'import ipykernel']).status !== 0) this.skip();
  });
  after(() => fillers.forEach((c) => c.kill('SIGKILL')));

  it('ipykernel under `prlimit --nproc` with the user at the limit: the process limit, not "install ipykernel"', async () => {
    const asNobody = [findOnPath('setpriv')!, '--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs'];
    fillers = Array.from({ length: N }, () => spawn(asNobody[0], [...asNobody.slice(1), 'sleep', '60'], { stdio: 'ignore' }));
    await until(() => userTaskCount(65534) >= N, 10000, 'the filler processes');
    const conn = path.join(os.tmpdir(), `codedance-nproc-${process.pid}.json`);
    const c = spawn(
      asNobody[0],
      [...asNobody.slice(1), findOnPath('prlimit')!, `--nproc=${N}`, '--', PY, '-m', 'ipykernel_launcher', '-f', conn],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' },
    );
    const r = await exited(c);
    rmSync(conn, { force: true });
    const tasksOfUser = userTaskCount(65534);
    const description = r.signal ? `killed by signal ${r.signal}` : `exited with code ${r.code}`;
    const x = explainStartFailure({
      exit: { code: r.code, signal: r.signal, description, outputTail: r.out },
      python: PY,
      sandboxed: true,
      memoryLimitMb: 8192,
      maxProcesses: N,
      runAsUser: 'nobody',
      tasksOfUser,
    });
    assert.equal(x.cause, 'process-limit', `${description}\n${r.out}`);
    assert.ok(!/ipykernel/.test(x.fix));
  });
});
