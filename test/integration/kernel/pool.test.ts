import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelPool, liveKernelPids } from '../../../src/core/kernel';
import { PYTHON, processAlive, waitFor } from './helpers';

function runChild(
  how: string,
  env: Record<string, string> = {},
): Promise<{ pids: number[]; workdir: string; child: ReturnType<typeof spawn> }> {
  const child = spawn(
    process.execPath,
    ['--require', path.join(__dirname, '../../../scripts/registerTs.cjs'), path.join(__dirname, 'fixtures/poolChild.ts'), how, PYTHON],
    {
      cwd: path.join(__dirname, '../../..'),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve({ ...JSON.parse(line), child });
    });
    child.on('exit', (code) => {
      if (!out.includes('\n')) reject(new Error(`child exited ${code} before reporting: ${err}`));
    });
  });
}

describe('kernel (real ipykernel): KernelPool', function () {
  this.timeout(90000);

  it('acquire() is instant when a kernel is waiting, and starts a replacement in the background', async () => {
    const pool = new KernelPool({ python: PYTHON, size: 1 });
    try {
      await pool.warm();
      assert.equal(pool.warmCount, 1);
      const t0 = performance.now();
      const s = await pool.acquire();
      const acquireMs = performance.now() - t0;
      assert.ok(acquireMs < 50, `acquire took ${acquireMs.toFixed(1)} ms`);
      assert.equal(s.state, 'idle');
      const t1 = performance.now();
      const r = await s.execute('print(1 + 1)');
      assert.equal(r.stdout, '2\n');
      assert.ok(performance.now() - t1 < 500, 'the first cell does not wait for a start');
      assert.equal(pool.stats.acquiredWarm, 1);
      await pool.warm();
      assert.equal(pool.warmCount, 1, 'a replacement is waiting again');
      await s.dispose();
    } finally {
      await pool.dispose();
    }
  });

  it('hands out independent sessions with fresh working folders; waits for a start when none is ready', async () => {
    const pool = new KernelPool({ python: PYTHON, size: 1 });
    const got = Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
    try {
      const [a, b, c] = await got;
      const dirs = new Set([a.workdir, b.workdir, c.workdir]);
      assert.equal(dirs.size, 3);
      const pids = new Set([a.pid, b.pid, c.pid]);
      assert.equal(pids.size, 3);
      await a.execute('v = "a"\nopen("a.txt", "w").write("a")');
      const r = await b.execute('import os\nprint("v" in globals(), os.listdir("."))');
      assert.equal(r.stdout, 'False []\n');
    } finally {
      await Promise.all([pool.dispose(), ...(await got.catch(() => [])).map((s) => s.dispose())]);
    }
  });

  it("dispose() shuts down the waiting kernels; a handed-out one stays its holder's", async () => {
    const pool = new KernelPool({ python: PYTHON, size: 2 });
    const s = await pool.acquire();
    await pool.warm();
    const before = new Set(liveKernelPids());
    await pool.dispose();
    await waitFor(() => liveKernelPids().length === before.size - 2, 10000, 'the two waiting kernels to end');
    assert.equal(s.state, 'idle');
    const dir = s.workdir;
    await s.dispose();
    assert.ok(!existsSync(dir));
    await assert.rejects(pool.acquire(), /disposed/);
  });

  it('a workRoot keeps working folders under it', async () => {
    const root = path.join(__dirname, '../../.tmp/kernel-workroot');
    const pool = new KernelPool({ python: PYTHON, size: 0, workRoot: root });
    try {
      const s = await pool.acquire();
      assert.ok(s.workdir.startsWith(path.resolve(root)));
      await s.dispose();
    } finally {
      await pool.dispose();
    }
  });

  for (const how of ['exit', 'throw']) {
    it(`leaves no python process behind when Node ends without dispose (${how})`, async () => {
      const { pids, workdir, child } = await runChild(how);
      assert.ok(pids.length >= 2, `pool kernel and acquired kernel: ${pids}`);
      await new Promise((r) => child.once('exit', r));
      await waitFor(() => pids.every((p) => !processAlive(p)), 5000, 'kernels to end');
      assert.ok(!existsSync(workdir), 'folders removed too');
    });
  }

  it('kernels end by themselves within seconds when Node is SIGKILLed (parent watchdog), removing their folders', async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-orphan-'));
    try {
      const { pids, workdir, child } = await runChild('hang', { TMPDIR: tmp });
      assert.ok(pids.every(processAlive));
      assert.ok(workdir.startsWith(tmp));
      const ours = () => readdirSync(tmp).filter((f) => f.startsWith('codedance-'));
      assert.equal(ours().length, 4, 'two sessions: a working folder and a runtime folder each');
      child.kill('SIGKILL');
      await waitFor(() => pids.every((p) => !processAlive(p)), 8000, 'orphaned kernels to notice');
      // the kernel's watchdog removes its folders unless ipykernel's own parent poller ended it
      // first; then the next CodeDance process sweeps them (folders of a dead owner)
      const next = await runChild('exit', { TMPDIR: tmp });
      await new Promise((r) => next.child.once('exit', r));
      assert.deepEqual(ours(), []);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
