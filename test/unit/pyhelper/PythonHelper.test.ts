/**
 * The Python helper protocol (src/core/pyhelper): a real python3 child speaking JSON lines.
 * Replies matched by id in any order, a handler that raises, a request that hangs (timeout → a
 * new process, the requests behind it carried over, time in the queue not counted), a process
 * that dies (crash → a new process), giving up after failures in a row, start failures that name
 * the interpreter and the fix, extra descriptors (bwrap's info and seccomp fds), dispose.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { helperProgram, PythonHelper, PythonHelperError, type PythonHelperOptions } from '../../../src/core/pyhelper';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const FIX = 'check that python3 runs';

/** handle(p): 'hang' sleeps, 'crash' dies with code 3 (saying why on stderr), 'raise' raises, a number is doubled, else echoed */
const SETUP = String.raw`
import os, sys, time
READY = {"pid": os.getpid()}
def handle(p):
    if p == "hang":
        time.sleep(60)
    if p == "crash":
        sys.stderr.write("about to crash\n")
        sys.stderr.flush()
        os._exit(3)
    if p == "raise":
        raise ValueError("bad input\nsecond line")
    if isinstance(p, dict) and "sleep" in p:
        time.sleep(p["sleep"])
        return p["n"]
    if isinstance(p, (int, float)):
        print("noise on stdout goes to stderr")
        return p * 2
    return p
`;

const helpers: PythonHelper[] = [];
function helper(o: Partial<PythonHelperOptions> = {}, setup = SETUP): PythonHelper<unknown, unknown> {
  const h = new PythonHelper<unknown, unknown>({
    name: 'the test helper',
    python: PY,
    launch: () => ({ command: PY, args: ['-u', '-c', helperProgram(setup)], env: process.env }),
    fix: FIX,
    ...o,
  });
  helpers.push(h);
  return h;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('pyhelper: a long-lived Python helper over JSON lines', function () {
  this.timeout(20_000);
  afterEach(async () => {
    await Promise.all(helpers.splice(0).map((h) => h.dispose()));
  });

  it('answers many requests through one process; the ready line carries READY; prints and non-ASCII text do not break it', async () => {
    const h = helper();
    const info = await h.start();
    assert.equal(info.pid, h.pid);
    const got = await Promise.all(Array.from({ length: 50 }, (_, i) => h.request(i)));
    assert.deepEqual(
      got,
      Array.from({ length: 50 }, (_, i) => i * 2),
    );
    assert.equal(await h.request('π ≈ √2 · 日本'), 'π ≈ √2 · 日本');
    assert.equal(h.starts, 1);
  });

  it('matches replies by id, whatever order they come in', async () => {
    // not helperProgram: a program that answers three requests in reverse order
    const reverse = String.raw`
import json, sys
print(json.dumps({"ready": True, "info": {}}), flush=True)
held = []
for line in sys.stdin:
    held.append(json.loads(line))
    if len(held) == 3:
        for r in reversed(held):
            print(json.dumps({"id": r["id"], "result": r["params"] + "!"}), flush=True)
        held = []
`;
    const h = helper({ launch: () => ({ command: PY, args: ['-u', '-c', reverse], env: process.env }) });
    const order: string[] = [];
    const got = await Promise.all(['a', 'b', 'c'].map((p) => h.request(p).then((r) => (order.push(String(r)), r))));
    assert.deepEqual(got, ['a!', 'b!', 'c!']);
    assert.deepEqual(order, ['c!', 'b!', 'a!'], 'the replies came in reverse');
  });

  it('a handler that raises fails that request only ("raised", the Python error on one line); the process goes on', async () => {
    const h = helper();
    await h.start();
    const pid = h.pid;
    await assert.rejects(h.request('raise'), (e: unknown) => {
      assert.ok(e instanceof PythonHelperError);
      assert.equal(e.code, 'raised');
      assert.equal(e.pythonError, 'ValueError: bad input second line');
      assert.equal(e.message, 'the test helper raised ValueError: bad input second line');
      return true;
    });
    assert.equal(await h.request(2), 4);
    assert.equal(h.pid, pid);
  });

  it('timeout: the hung request fails naming the interpreter, the process is stopped, the requests behind it go to a new one', async () => {
    const h = helper({ timeoutMs: 400 });
    await h.start();
    const first = h.pid!;
    const t0 = Date.now();
    const results = await Promise.allSettled([h.request('hang'), h.request(1), h.request('x')]);
    assert.ok(Date.now() - t0 < 5000);
    const hung = results[0] as PromiseRejectedResult;
    assert.ok(hung.reason instanceof PythonHelperError && hung.reason.code === 'timeout', String(hung.reason));
    assert.equal(hung.reason.message, `the test helper took more than 1 s on one request (${PY}); its process was stopped`);
    assert.equal(hung.reason.kind, 'python-env');
    assert.deepEqual(
      results.slice(1).map((r) => (r as PromiseFulfilledResult<unknown>).value),
      [2, 'x'],
    );
    assert.equal(h.starts, 2);
    assert.notEqual(h.pid, first);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(alive(first), false, 'the hung process is gone');
    assert.equal(await h.request(5), 10, 'the new process goes on');
  });

  it('the timeout counts from when the process can start on a request, not the time it waits behind others', async () => {
    const h = helper({ timeoutMs: 600 });
    const got = await Promise.all([1, 2, 3, 4, 5].map((n) => h.request({ sleep: 0.25, n })));
    assert.deepEqual(got, [1, 2, 3, 4, 5], '1.25 s in all, each under 0.6 s');
    assert.equal(h.starts, 1);
  });

  it('crash: the request it was on fails with the exit code, stderr and the fix; the others go to a new process', async () => {
    const h = helper();
    await h.start();
    const results = await Promise.allSettled([h.request('crash'), h.request(3), h.request(4)]);
    const crashed = (results[0] as PromiseRejectedResult).reason as PythonHelperError;
    assert.equal(crashed.code, 'exited');
    assert.equal(crashed.retryable, true);
    assert.equal(crashed.message, `the test helper (${PY}) exited (code 3) while working on a request: about to crash — ${FIX}`);
    assert.deepEqual(
      results.slice(1).map((r) => (r as PromiseFulfilledResult<unknown>).value),
      [6, 8],
    );
    assert.equal(h.starts, 2);
    assert.equal(await h.request(5), 10);
  });

  it('gives up after maxFailures in a row without an answer between: later requests fail at once, no new process', async () => {
    const h = helper({ maxFailures: 2 });
    await assert.rejects(h.request('crash'), /exited \(code 3\)/);
    assert.equal(h.failed, undefined);
    await assert.rejects(h.request('crash'), /exited \(code 3\)/);
    assert.ok(h.failed);
    await assert.rejects(
      h.request(1),
      (e: unknown) => e === h.failed && /\(2 failures in a row: not started again\)/.test((e as Error).message),
    );
    assert.equal(h.starts, 2);
    // an answer between failures resets the count
    const g = helper({ maxFailures: 2 });
    await assert.rejects(g.request('crash'));
    assert.equal(await g.request(1), 2);
    await assert.rejects(g.request('crash'));
    assert.equal(g.failed, undefined);
    assert.equal(await g.request(2), 4);
  });

  it('start failures name the interpreter, the cause and the fix', async () => {
    const missing = '/nonexistent/python9';
    const a = helper({ python: missing, launch: () => ({ command: missing, args: [], env: process.env }) });
    await assert.rejects(a.start(), (e: unknown) => {
      assert.ok(e instanceof PythonHelperError && e.code === 'start' && e.kind === 'python-env');
      assert.match(
        e.message,
        /^the test helper \(\/nonexistent\/python9\) could not start: \/nonexistent\/python9 could not be started \(spawn \/nonexistent\/python9 ENOENT\) — check that python3 runs$/,
      );
      assert.match(e.detail, /^\/nonexistent\/python9 could not be started/);
      return true;
    });
    const b = helper({}, 'import no_such_module_xyz\ndef handle(p):\n    return p\n');
    await assert.rejects(b.request(1), (e: unknown) => {
      assert.ok(e instanceof PythonHelperError && e.code === 'start');
      assert.equal(e.pythonError, "ModuleNotFoundError: No module named 'no_such_module_xyz'");
      assert.equal(
        e.message,
        `the test helper (${PY}) could not start: ModuleNotFoundError: No module named 'no_such_module_xyz' — ${FIX}`,
      );
      return true;
    });
    const c = helper({
      launch: () => ({
        command: PY,
        args: ['-c', 'import sys; print("not json"); sys.stderr.write("boom\\n"); sys.exit(4)'],
        env: process.env,
      }),
    });
    await assert.rejects(c.start(), /could not start: .*python3 exited \(code 4\) before it was ready: boom/);
    const d = helper({
      startTimeoutMs: 300,
      launch: () => ({ command: PY, args: ['-c', 'import time; time.sleep(30)'], env: process.env }),
    });
    await assert.rejects(d.start(), /took more than 1 s to start/);
  });

  it('extra descriptors: bytes written to one (bwrap --seccomp), another drained (bwrap --info-fd)', async () => {
    const setup = 'import os\nos.write(3, b"x" * 200000)\nREADY = {"fd4": os.read(4, 100).decode()}\ndef handle(p):\n    return p\n';
    const h = helper({
      launch: () => ({
        command: PY,
        args: ['-u', '-c', helperProgram(setup)],
        env: process.env,
        extraFds: ['drain', new TextEncoder().encode('filter-bytes')],
      }),
    });
    assert.deepEqual(await h.start(), { fd4: 'filter-bytes' });
    assert.equal(await h.request('ok'), 'ok');
  });

  it('dispose: the process exits, waiting requests fail as cancelled, later ones are refused', async () => {
    const h = helper();
    await h.start();
    const pid = h.pid!;
    const waiting = assert.rejects(
      h.request('hang'),
      (e: unknown) => e instanceof PythonHelperError && e.code === 'disposed' && e.kind === 'cancelled',
    );
    const t0 = Date.now();
    await h.dispose();
    assert.ok(Date.now() - t0 < 1500, 'a busy process is stopped at once, not after the 2 s grace');
    await waiting;
    assert.equal(alive(pid), false);
    await assert.rejects(h.request(1), /was stopped/);
  });
});
