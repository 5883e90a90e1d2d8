import { strict as assert } from 'node:assert';
import { KernelPool } from '../../../src/core/kernel/pool';
import type { JupyterKernelSession } from '../../../src/core/kernel/session';
import { defaultStartConcurrency, machineStartGate, StartGate } from '../../../src/core/kernel/startGate';
import type { KernelSessionOptions } from '../../../src/core/kernel/types';

/** a stand-in session: only what the pool reads (state) and calls (dispose) */
function fakeSession(id: number): JupyterKernelSession {
  const s = { id: `k${id}`, state: 'idle', dispose: async () => void (s.state = 'disposed') };
  return s as unknown as JupyterKernelSession;
}

/**
 * Starts that end when the test says so: counts the starts running (called, not yet settled) and
 * the most ever at once; each start's session is numbered in the order the starts were called.
 */
function controlledStarts() {
  const running: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  const c = {
    calls: 0,
    inFlight: 0,
    maxInFlight: 0,
    running,
    start: (_o: KernelSessionOptions) =>
      new Promise<JupyterKernelSession>((resolve, reject) => {
        const n = ++c.calls;
        c.inFlight++;
        c.maxInFlight = Math.max(c.maxInFlight, c.inFlight);
        running.push({
          resolve: () => {
            c.inFlight--;
            resolve(fakeSession(n));
          },
          reject: (e) => {
            c.inFlight--;
            reject(e);
          },
        });
      }),
    /** ends the oldest running start, then lets the pool's promise callbacks run */
    async finishOne(fail?: Error) {
      const r = running.shift();
      assert.ok(r, 'a start is running');
      if (fail) r.reject(fail);
      else r.resolve();
      await settle();
    },
  };
  return c;
}

const settle = () => new Promise((r) => setImmediate(r));

describe('KernelPool: paced starts (fake sessions, no Python)', () => {
  it('never has more than maxConcurrentStarts starts in flight; callers are served first come, first served', async () => {
    const c = controlledStarts();
    const pool = new KernelPool({ python: 'unused', size: 0, maxConcurrentStarts: 2 }, c.start);
    const order: string[] = [];
    const got = Array.from({ length: 7 }, (_, i) => pool.acquire().then((s) => (order.push(`caller${i}:${s.id}`), s)));
    await settle();
    assert.equal(c.calls, 2, 'two starts let through, five waiting at the gate');
    assert.deepEqual(pool.pending, { starts: 7, waiters: 7 });
    while (c.running.length) {
      assert.ok(c.inFlight <= 2);
      await c.finishOne();
    }
    await Promise.all(got);
    assert.equal(c.calls, 7);
    assert.equal(c.maxInFlight, 2, 'at most two at once, and the gate was used fully');
    assert.deepEqual(
      order,
      Array.from({ length: 7 }, (_, i) => `caller${i}:k${i + 1}`),
    );
    assert.equal(pool.stats.started, 7);
    await pool.dispose();
  });

  it("pools without a limit of their own share the machine's gate: one start per core in this process", async () => {
    const c = controlledStarts();
    const gate = machineStartGate();
    assert.equal(gate.limit, defaultStartConcurrency());
    const before = gate.inFlight;
    const a = new KernelPool({ python: 'unused', size: gate.limit + 1 }, c.start);
    const b = new KernelPool({ python: 'unused', size: gate.limit + 1 }, c.start);
    await settle();
    assert.equal(c.calls, gate.limit - before, 'the two pools together start no more than the gate lets through');
    while (c.running.length) {
      assert.ok(gate.inFlight <= gate.limit);
      await c.finishOne();
    }
    assert.equal(c.calls, 2 * (gate.limit + 1));
    assert.equal(a.warmCount + b.warmCount, 2 * (gate.limit + 1));
    await Promise.all([a.dispose(), b.dispose()]);
  });

  it('a caller whose signal fires leaves the line: its start is dropped before it begins, and the next caller is served', async () => {
    const c = controlledStarts();
    const pool = new KernelPool({ python: 'unused', size: 0, maxConcurrentStarts: 1 }, c.start);
    const first = pool.acquire();
    const ctrl = new AbortController();
    const cancelled = pool.acquire(ctrl.signal);
    await settle();
    assert.equal(c.calls, 1);
    assert.deepEqual(pool.pending, { starts: 2, waiters: 2 });
    ctrl.abort();
    await assert.rejects(cancelled, /no longer wanted/);
    assert.deepEqual(pool.pending, { starts: 1, waiters: 1 }, 'its start left the gate with it');
    await c.finishOne();
    assert.equal((await first).id, 'k1');
    assert.equal(c.calls, 1, 'the dropped start never ran');
    assert.equal(pool.stats.startsDropped, 1);
    // a later caller is not held up by the one that left
    const later = pool.acquire();
    await settle();
    assert.equal(c.calls, 2);
    await c.finishOne();
    assert.equal((await later).id, 'k2');
    await pool.dispose();
  });

  it('a start already running when its caller leaves serves the next caller in line', async () => {
    const c = controlledStarts();
    const pool = new KernelPool({ python: 'unused', size: 0, maxConcurrentStarts: 1 }, c.start);
    const ctrl = new AbortController();
    const cancelled = pool.acquire(ctrl.signal);
    await settle();
    assert.equal(c.calls, 1);
    ctrl.abort();
    await assert.rejects(cancelled, /no longer wanted/);
    const next = pool.acquire();
    await settle();
    assert.equal(c.calls, 1, 'no second start: the running one is for the next caller');
    await c.finishOne();
    assert.equal((await next).id, 'k1');
    await pool.dispose();
  });

  it('a caller gets the start error at its second failed start; with no caller left, failed starts are not retried', async () => {
    const c = controlledStarts();
    const pool = new KernelPool({ python: 'unused', size: 1, maxConcurrentStarts: 1 }, c.start);
    const got = assert.rejects(pool.acquire(), /no ipykernel/);
    await settle();
    await c.finishOne(new Error('no ipykernel'));
    await c.finishOne(new Error('no ipykernel'));
    await got;
    assert.equal(pool.stats.startFailures, 2);
    // the start made for `size` may still run; once it fails, nothing new begins
    while (c.running.length) await c.finishOne(new Error('no ipykernel'));
    const calls = c.calls;
    await settle();
    assert.equal(c.calls, calls);
    assert.match(pool.lastStartError!.message, /no ipykernel/);
    await pool.dispose();
  });

  it('dispose() rejects the callers in line, drops starts not begun, and disposes sessions that start afterwards', async () => {
    const c = controlledStarts();
    const pool = new KernelPool({ python: 'unused', size: 0, maxConcurrentStarts: 1 }, c.start);
    const a = assert.rejects(pool.acquire(), /disposed/);
    const b = assert.rejects(pool.acquire(), /disposed/);
    await settle();
    const disposed = pool.dispose();
    await Promise.all([a, b]);
    await c.finishOne();
    await disposed;
    assert.equal(c.calls, 1);
    assert.equal(pool.stats.startsDropped, 1);
    await assert.rejects(pool.acquire(), /disposed/);
  });
});

describe('StartGate', () => {
  it('lets `limit` through, the rest in arrival order; an entry whose signal fires leaves the line', async () => {
    const gate = new StartGate(1);
    const log: string[] = [];
    const endA = await gate.enter();
    const ctrl = new AbortController();
    const b = gate.enter(ctrl.signal).then(
      () => log.push('b'),
      () => log.push('b left'),
    );
    const c = gate.enter().then((end) => (log.push('c'), end));
    assert.equal(gate.waiting, 2);
    ctrl.abort();
    await b;
    assert.equal(gate.waiting, 1);
    endA();
    endA(); // a second call does nothing
    const endC = await c;
    assert.deepEqual(log, ['b left', 'c']);
    assert.equal(gate.inFlight, 1);
    endC();
    assert.equal(gate.inFlight, 0);
    assert.deepEqual(gate.stats, { entered: 2, maxRunning: 1, cancelled: 1 });
  });
});
