import { strict as assert } from 'node:assert';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { BACKENDS, backendTitle, disposeAll, newSession, type TestKernel } from './helpers';

const NOTE = '\nNOTE: Code execution was halted by a call to exit() or quit(). Do not use exit() or quit() in your code.';

for (const backend of BACKENDS)
  describe(`kernel (${backendTitle(backend)}): execution basics`, function () {
    this.timeout(60000);
    let k: TestKernel;
    before(async () => {
      k = await newSession({}, backend);
    });
    after(disposeAll);

    it('starts idle, in its own working folder, with the seed namespace', async () => {
      assert.equal(k.state, 'idle');
      assert.ok(existsSync(k.workdir));
      assert.deepEqual(readdirSync(k.workdir), [], 'the working folder holds only what the code writes');
      const r = await k.execute(
        'import os\nprint(os.getcwd())\nprint(sorted(k for k in globals() if not k.startswith("_") or k == "__builtins__"))',
      );
      assert.equal(r.status, 'ok');
      const [cwd, names] = r.stdout.trim().split('\n');
      assert.equal(path.resolve(cwd), path.resolve(k.workdir));
      assert.equal(names, "['__builtins__', 'os', 'plt']");
    });

    it('captures stdout and stderr separately', async () => {
      const r = await k.execute('import sys\nprint("hello")\nprint("oops", file=sys.stderr)\n_ = sys.stdout.write("no newline")');
      assert.equal(r.status, 'ok');
      assert.equal(r.stdout, 'hello\nno newline');
      assert.equal(r.stderr, 'oops\n');
      assert.deepEqual(r.images, []);
      assert.equal(r.error, undefined);
      assert.ok(r.durationMs > 0);
      assert.equal(typeof r.executionCount, 'number');
    });

    it('prints the last expression value unless None (eval.py: print(result_val))', async () => {
      assert.equal((await k.execute('1 + 1')).stdout, '2\n');
      assert.equal((await k.execute('"text"')).stdout, 'text\n');
      assert.equal((await k.execute('None')).stdout, '');
      assert.equal((await k.execute('print("a")\n[1, 2]')).stdout, 'a\n[1, 2]\n');
      assert.equal((await k.execute('import numpy as np\nnp.arange(3)')).stdout, '[0 1 2]\n', '1-D arrays are printed, not drawn');
    });

    it('reports exceptions as ename/evalue with a clean traceback, keeping earlier output', async () => {
      const r = await k.execute('print("before")\ndef f():\n    return 1 / 0\nf()');
      assert.equal(r.status, 'error');
      assert.equal(r.stdout, 'before\n');
      assert.equal(r.error?.ename, 'ZeroDivisionError');
      assert.equal(r.error?.evalue, 'division by zero');
      assert.equal(r.error?.lineno, undefined);
      const tb = r.error!.traceback.join('');
      assert.match(tb, /Traceback \(most recent call last\)/);
      assert.match(tb, /line 3, in f/);
      assert.doesNotMatch(tb, /codedance-prelude/, 'the prelude frames are hidden');
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(tb, /\u001b\[/, 'no terminal colours');
    });

    it('syntax errors give ename, evalue and lineno as the seed reports them', async () => {
      const r = await k.execute('x = 1\ny = 2\nif x >\n    pass');
      assert.equal(r.status, 'error');
      assert.equal(r.error?.ename, 'SyntaxError');
      assert.equal(r.error?.lineno, 3);
      assert.equal(r.error?.evalue, 'invalid syntax (<string>, line 3)');
      const ind = await k.execute('def f():\nreturn 1');
      assert.equal(ind.error?.ename, 'IndentationError');
      assert.equal(ind.error?.lineno, 2);
    });

    it('keeps state across cells, also after an error (eval.py)', async () => {
      await k.execute('counter = 10\nimport math');
      await k.execute('counter += 1\nraise ValueError("boom")');
      const r = await k.execute('print(counter, math.pi > 3)');
      assert.equal(r.stdout, '11 True\n');
    });

    it('exit(), quit(), sys.exit() and raise SystemExit end the cell, not the kernel, with the seed NOTE', async () => {
      for (const code of [
        'print("a")\nexit()\nprint("b")',
        'quit()',
        'import sys\nsys.exit(3)',
        'raise SystemExit(1)',
        'exit("message")',
      ]) {
        const r = await k.execute(code);
        assert.equal(r.status, 'ok', code);
        assert.equal(r.exited, true, code);
        assert.ok(r.stdout.endsWith(NOTE), code);
        assert.equal(r.error, undefined);
      }
      assert.equal((await k.execute('print("a")\nexit()\nprint("b")')).stdout, `a\n${NOTE}`);
      const after = await k.execute('print(counter)');
      assert.equal(after.stdout, '11\n', 'the kernel and its state survive');
      assert.equal(after.exited, undefined);
    });

    it('exit() inside try/except Exception is caught like in the seed (its exception is an Exception)', async () => {
      const r = await k.execute('try:\n    exit()\nexcept Exception as e:\n    print(type(e).__name__)');
      assert.equal(r.stdout, '_SandboxExit\n');
      assert.equal(r.exited, undefined);
    });

    it('input() raises RuntimeError("input() is disabled inside the sandbox.")', async () => {
      const r = await k.execute('name = input("name? ")');
      assert.equal(r.status, 'error');
      assert.equal(r.error?.ename, 'RuntimeError');
      assert.equal(r.error?.evalue, 'input() is disabled inside the sandbox.');
    });

    it('the namespace is the seed\'s plain dict: plt is preloaded, __name__ is not "__main__"', async () => {
      const r = await k.execute('print(plt.__name__)\nprint(__name__)\nprint("_codedance_run" in globals(), "In" in globals())');
      assert.equal(r.stdout, 'matplotlib.pyplot\nbuiltins\nFalse False\n');
    });

    it('runs 100 cells in a row, each seeing the previous one', async () => {
      await k.execute('acc = []');
      for (let i = 0; i < 100; i++) {
        const r = await k.execute(`acc.append(${i})\nlen(acc)`);
        assert.equal(r.status, 'ok');
        assert.equal(r.stdout, `${i + 1}\n`);
      }
      assert.equal((await k.execute('sum(acc)')).stdout, `${(99 * 100) / 2}\n`);
    });

    it('queues concurrent execute() calls and runs them in order', async () => {
      await k.execute('order = []');
      const rs = await Promise.all([0, 1, 2, 3, 4].map((i) => k.execute(`order.append(${i})\nprint(order)`)));
      assert.deepEqual(
        rs.map((r) => r.stdout.trim()),
        ['[0]', '[0, 1]', '[0, 1, 2]', '[0, 1, 2, 3]', '[0, 1, 2, 3, 4]'],
      );
    });

    it('streams output while the cell runs (onOutput)', async () => {
      const seen: string[] = [];
      const r = await k.execute('import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)', {
        onOutput: (e) => {
          if (e.kind === 'stream') seen.push(e.text);
        },
      });
      assert.equal(r.stdout, '0\n1\n2\n');
      assert.ok(seen.length >= 2, `output arrived in pieces: ${JSON.stringify(seen)}`);
      assert.equal(seen.join(''), r.stdout);
    });

    it("output of a long cell arrives while it runs even without flush; a short cell's comes with the reply", async () => {
      let firstAt = 0;
      const t0 = Date.now();
      const r = await k.execute('import time\nprint("early")\ntime.sleep(1.0)\nprint("late")', {
        onOutput: (e) => {
          if (e.kind === 'stream' && !firstAt) firstAt = Date.now();
        },
      });
      const endAt = Date.now();
      assert.equal(r.stdout, 'early\nlate\n');
      assert.ok(firstAt - t0 < 600, `first output after ${firstAt - t0} ms`);
      assert.ok(endAt - firstAt > 500);
      const events: string[] = [];
      const quick = await k.execute('print("one")\nimport sys\nprint("two", file=sys.stderr)\nprint("three")', {
        onOutput: (e) => e.kind === 'stream' && events.push(`${e.name}:${e.text}`),
      });
      assert.equal(quick.stdout, 'one\nthree\n');
      assert.equal(quick.stderr, 'two\n');
      assert.deepEqual(events, ['stdout:one\nthree\n', 'stderr:two\n']);
    });

    it('starts each cell in the working folder even if the code changed directory', async () => {
      await k.execute('import os\nos.chdir("/")');
      const r = await k.execute('import os\nprint(os.getcwd())');
      assert.equal(path.resolve(r.stdout.trim()), path.resolve(k.workdir));
    });

    it('reports state changes', async () => {
      const states: string[] = [];
      const off = k.onStateChange((s) => states.push(s));
      await k.execute('x = 1');
      off();
      assert.deepEqual(states, ['busy', 'idle']);
    });
  });

for (const backend of BACKENDS)
  describe(`kernel (${backendTitle(backend)}): sessions are isolated`, function () {
    this.timeout(60000);
    after(disposeAll);

    it('variables and files of one session are invisible to another', async () => {
      const [a, b] = await Promise.all([newSession({}, backend), newSession({}, backend)]);
      assert.notEqual(a.workdir, b.workdir);
      assert.notEqual(a.pid, b.pid);
      await a.execute('secret = 42\nopen("note.txt", "w").write("from a")');
      const r = await b.execute('import os\nprint("secret" in globals(), os.path.exists("note.txt"), os.listdir("."))');
      assert.equal(r.stdout, 'False False []\n');
      assert.ok(existsSync(path.join(a.workdir, 'note.txt')));
    });

    it('dispose() stops the kernel process and deletes the working folder', async () => {
      const s = await newSession({}, backend);
      const pid = s.pid!;
      const dir = s.workdir;
      await s.execute('open("f.txt", "w").write("x")');
      await s.dispose();
      assert.equal(s.state, 'disposed');
      assert.ok(!existsSync(dir));
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      assert.equal(alive, false);
      await assert.rejects(s.execute('1'), /disposed[\s\S]*Fix:/);
    });
  });
