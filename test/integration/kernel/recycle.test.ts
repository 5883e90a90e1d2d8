/**
 * KernelPool({ recycle: true }).release(): a finished session is reset in place (same process)
 * for the next question: nothing of the last question's namespace, figures or files survives.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { KernelPool } from '../../../src/core/kernel';
import { PYTHON, testPng, waitFor } from './helpers';

describe('kernel (real ipykernel): recycled sessions', function () {
  this.timeout(90000);

  it('release() resets the session in place: same process, empty namespace, new folder, old files gone', async () => {
    const pool = new KernelPool({ python: PYTHON, size: 1, recycle: true });
    try {
      const a = await pool.acquire();
      await a.setInputImages([testPng(64, 48)], { resize: 'none' });
      const r1 = await a.execute('secret = 41\nopen("notes.txt", "w").write("q1")\nimport matplotlib.pyplot as plt\nplt.rcParams["lines.linewidth"] = 9\nfig = plt.figure()\nprint(input_image.size)');
      assert.equal(r1.stdout, '(64, 48)\n');
      const pid = a.pid;
      const oldDir = a.workdir;
      assert.ok(existsSync(path.join(oldDir, 'notes.txt')) && existsSync(path.join(oldDir, 'input_image.jpg')));

      await pool.release(a);
      assert.equal(pool.stats.recycled, 1);
      const t0 = performance.now();
      const b = await pool.acquire();
      const acquireMs = performance.now() - t0;
      assert.equal(b, a, 'the same session object comes back');
      assert.equal(b.pid, pid, 'no new process');
      assert.ok(acquireMs < 50, `acquire after recycle took ${acquireMs.toFixed(1)} ms`);
      if (b.sandboxed) {
        // a sandbox sees only the folder bound at its launch: it is emptied in place
        assert.equal(b.workdir, oldDir);
      } else {
        assert.notEqual(b.workdir, oldDir);
        assert.equal(existsSync(oldDir), false, 'the last question\'s folder is deleted');
      }
      assert.deepEqual(readdirSync(b.workdir), []);

      const r2 = await b.execute('import os\nprint("secret" in globals(), "input_image" in globals(), os.getcwd() == ' + JSON.stringify(b.workdir) + ')\nprint(len(plt.get_fignums()), plt.rcParams["lines.linewidth"])');
      assert.equal(r2.status, 'ok', JSON.stringify(r2.error));
      assert.equal(r2.stdout, 'False False True\n0 1.5\n');
      // the prelude's semantics are intact: plt.show() is captured, exit() does not kill
      const r3 = await b.execute('plt.plot([1, 2, 3]); plt.show()');
      assert.equal(r3.images.length, 1);
      const r4 = await b.execute('exit()');
      assert.match(r4.stdout, /Code execution was halted by a call to exit\(\) or quit\(\)/);
      await b.dispose();
    } finally {
      await pool.dispose();
    }
  });

  it('a session that died or is disposed is not recycled; without recycle, release() disposes', async () => {
    const pool = new KernelPool({ python: PYTHON, size: 0, recycle: true });
    const plain = new KernelPool({ python: PYTHON, size: 0 });
    try {
      const a = await pool.acquire();
      await a.dispose();
      await pool.release(a);
      assert.equal(pool.stats.recycled, 0);
      const b = await plain.acquire();
      await plain.release(b);
      assert.equal(b.state, 'disposed');
    } finally {
      await Promise.all([pool.dispose(), plain.dispose()]);
    }
  });

  it('an acquire while a session is being recycled takes that session when it is ready: no new process', async () => {
    const pool = new KernelPool({ python: PYTHON, size: 0, recycle: true });
    try {
      const a = await pool.acquire();
      await a.execute('x = 1');
      assert.equal(pool.stats.started, 1);
      const released = pool.release(a); // recycling now: nothing waits in the pool yet
      assert.equal(pool.warmCount, 0);
      const b = await pool.acquire();
      await released;
      assert.equal(b, a, 'the recycled session, not a new one');
      assert.equal(pool.stats.started, 1, 'no kernel was started for it');
      const r = await b.execute('print("x" in globals())');
      assert.equal(r.stdout, 'False\n');
      // a recycle that fails (the session died meanwhile) leaves the waiting acquire a new session
      const released2 = pool.release(b);
      const c = pool.acquire();
      await b.dispose();
      await released2;
      const s = await c;
      assert.notEqual(s, b);
      assert.equal((await s.execute('print(1)')).stdout, '1\n');
      assert.equal(pool.stats.started, 2);
      await s.dispose();
    } finally {
      await pool.dispose();
    }
  });

  it('a recycle that does not finish is given up: the acquire waiting for it gets a new session, not a wait for good', async () => {
    const pool = new KernelPool({ python: PYTHON, size: 0, recycle: true, recycleGiveUpMs: 300 });
    try {
      const a = await pool.acquire();
      a.recycle = () => new Promise<void>(() => {}); // a reset that never answers
      const released = pool.release(a);
      const b = await pool.acquire();
      await released;
      assert.notEqual(b, a, 'a new session');
      assert.equal(a.state, 'disposed', 'the stuck one is shut down');
      assert.equal(pool.stats.recycleFailures, 1);
      assert.equal((await b.execute('print(2)')).stdout, '2\n');
      await b.dispose();
    } finally {
      await pool.dispose();
    }
  });

  it('keeps at most maxIdle sessions waiting (recycled first); the rest are shut down', async () => {
    const pool = new KernelPool({ python: PYTHON, size: 0, recycle: true, maxIdle: 2 });
    try {
      const s = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
      for (const x of s) await pool.release(x);
      assert.equal(pool.warmCount, 2);
      // the trimmed one shuts down in the background
      await waitFor(() => s.some((x) => x.state === 'disposed'), 10_000, 'the third session to shut down');
      assert.equal(s.filter((x) => x.state === 'disposed').length, 1);
    } finally {
      await pool.dispose();
    }
  });
});
