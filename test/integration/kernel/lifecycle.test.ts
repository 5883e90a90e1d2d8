import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelPool, InterpreterPool, liveKernelPids, resolvePython } from '../../../src/core/kernel';
import type { JupyterKernelSession } from '../../../src/core/kernel/session';
import { PYTHON, processAlive, waitFor } from './helpers';

describe('kernel (real ipykernel): lifecycles of handed-out kernels', function () {
  this.timeout(120000);
  const held: JupyterKernelSession[] = [];
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-interp-'));
  });
  afterEach(async () => {
    await Promise.all(held.splice(0).map((s) => s.dispose()));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('KernelPool.dispose() shuts down the waiting kernels, never a handed-out one; one released after it is shut down', async () => {
    const pool = new KernelPool({ python: PYTHON, size: 2 });
    const s = await pool.acquire();
    held.push(s);
    await pool.warm();
    const cell = s.execute('import time\ntime.sleep(1.5)\nprint("finished")');
    await new Promise((r) => setTimeout(r, 300));
    await pool.dispose();
    const r = await cell;
    assert.equal(r.status, 'ok', `the cell was not cut short: ${JSON.stringify(r.error)}`);
    assert.equal(r.stdout, 'finished\n');
    assert.equal(s.state, 'idle');
    assert.equal((await s.execute('print(1 + 1)')).stdout, '2\n', 'the holder keeps using its kernel');
    const pid = s.pid!;
    await pool.release(s);
    assert.equal(s.state, 'disposed', 'given back to a disposed pool: shut down');
    await waitFor(() => !processAlive(pid), 5000, 'the released kernel to end');
    await assert.rejects(pool.acquire(), /disposed/);
  });

  it('an interpreter change during a running cell lets the cell finish with its output; the next kernel runs the new interpreter', async () => {
    const other = path.join(dir, 'python3-other');
    symlinkSync(PYTHON, other);
    let current = PYTHON;
    const source = new InterpreterPool({ size: 1, resolve: () => resolvePython({ explicit: current, env: {} }) });
    try {
      const first = await source.acquire();
      held.push(first.session);
      await first.pool.warm();
      // another conversation's kernel from the same pool
      const another = await first.pool.acquire();
      held.push(another);
      const oldPython = (await source.python()).python;
      const cell = first.session.execute(
        'import sys, time\nx = 41\nprint("started", flush=True)\ntime.sleep(1.5)\nprint("done", sys.executable)',
      );
      await new Promise((r) => setTimeout(r, 400));
      // the Python extension picked another interpreter
      current = other;
      source.invalidate();
      const r = await cell;
      assert.equal(r.status, 'ok', `the running cell was not killed: ${JSON.stringify(r.error)}`);
      assert.equal(r.stdout, `started\ndone ${oldPython}\n`);
      assert.equal(r.restarted, undefined);
      assert.equal((await first.session.execute('print(x + 1)')).stdout, '42\n', 'its variables are intact until its holder retires it');
      assert.ok(processAlive(another.pid), "a kernel handed out by the old pool is its holder's too");
      // the holder retires its kernel after the run; its next kernel comes from the new interpreter
      await first.session.dispose();
      const second = await source.acquire();
      held.push(second.session);
      assert.notEqual(second.pool, first.pool);
      assert.equal(second.session.python, other);
      const r2 = await second.session.execute('import sys\nprint(sys.executable)\nprint("x" in globals())');
      assert.equal(r2.stdout, `${other}\nFalse\n`);
    } finally {
      await source.dispose();
    }
  });

  it("the old pool's waiting kernel is shut down when the interpreter changes", async () => {
    const source = new InterpreterPool({ size: 1, resolve: () => resolvePython({ explicit: PYTHON, env: {} }) });
    try {
      const pool = await source.ensurePool();
      await pool.warm();
      const before = new Set(liveKernelPids()); // the one about to be handed out included
      const handed = await pool.acquire();
      held.push(handed);
      await pool.warm(); // its replacement is waiting
      const waiting = liveKernelPids().filter((p) => !before.has(p));
      assert.equal(waiting.length, 1, 'one kernel waits');
      source.invalidate();
      await waitFor(() => !processAlive(waiting[0]), 10000, 'the waiting kernel to go');
      assert.equal(handed.state, 'idle', 'the handed-out one lives on');
      assert.equal((await handed.execute('print(3)')).stdout, '3\n');
    } finally {
      await source.dispose();
    }
  });
});
