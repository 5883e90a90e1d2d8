import { strict as assert } from 'node:assert';
import { BACKENDS, backendTitle, disposeAll, newSession, processAlive, type TestKernel, testPng, waitFor } from './helpers';

for (const backend of BACKENDS)
  describe(`kernel (${backendTitle(backend)}): timeouts, crashes and limits`, function () {
    this.timeout(90000);
    let k: TestKernel;
    before(async () => {
      k = await newSession({ interruptGraceMs: 2000 }, backend);
      await k.setInputImages([testPng(300, 200)], { resize: 'qwen-smart' });
    });
    after(disposeAll);

    it('an infinite loop times out (SIGINT); output so far is kept; the kernel and its state survive', async () => {
      await k.execute('kept = "still here"');
      const pid = k.pid;
      const t0 = Date.now();
      const r = await k.execute('print("started", flush=True)\nwhile True:\n    pass', { timeoutMs: 1500 });
      assert.equal(r.status, 'timeout');
      assert.equal(r.error?.ename, 'TimeoutError');
      assert.equal(r.error?.evalue, 'Code execution timed out after 1.5 seconds');
      assert.equal(r.stdout, 'started\n');
      assert.equal(r.restarted, undefined);
      assert.ok(Date.now() - t0 < 5000);
      assert.equal(k.pid, pid, 'same process');
      assert.equal((await k.execute('print(kept)')).stdout, 'still here\n');
    });

    it('the timeout message follows the seed for whole seconds ("after 30 seconds")', async () => {
      const r = await k.execute('import time\ntime.sleep(5)', { timeoutMs: 1000 });
      assert.equal(r.error?.evalue, 'Code execution timed out after 1 seconds');
    });

    it('code that swallows KeyboardInterrupt is killed after the grace period; the session restarts and goes on', async () => {
      const pid = k.pid;
      const r = await k.execute(
        'import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass',
        { timeoutMs: 800 },
      );
      assert.equal(r.status, 'timeout');
      assert.equal(r.restarted, true);
      assert.match(r.error!.traceback.join(''), /did not stop within 2 s/);
      const next = await k.execute('print("kept" in globals(), input_image.size)');
      assert.equal(next.status, 'ok');
      assert.equal(next.stdout, 'False (308, 196)\n', 'variables lost, input image bound again');
      assert.notEqual(k.pid, pid);
      assert.equal(processAlive(pid), false);
    });

    it('an AbortSignal interrupts the cell: status cancelled, state kept', async () => {
      await k.execute('survivor = 1');
      const ctrl = new AbortController();
      setTimeout(() => ctrl.abort(), 500);
      const r = await k.execute('import time\nfor i in range(100):\n    time.sleep(0.1)', { signal: ctrl.signal });
      assert.equal(r.status, 'cancelled');
      assert.equal((await k.execute('print(survivor)')).stdout, '1\n');
      const pre = new AbortController();
      pre.abort();
      const skipped = await k.execute('survivor = 2', { signal: pre.signal });
      assert.equal(skipped.status, 'cancelled');
      assert.equal((await k.execute('print(survivor)')).stdout, '1\n', 'an aborted cell does not run');
    });

    it('interrupt() stops the running cell', async () => {
      const p = k.execute('import time\ntime.sleep(20)');
      await new Promise((r) => setTimeout(r, 400));
      await k.interrupt();
      const r = await p;
      assert.equal(r.status, 'cancelled');
    });

    it('os._exit() kills the kernel: status died, then a new kernel with the input image bound again', async () => {
      await k.execute('lost = 1');
      const pid = k.pid;
      const r = await k.execute('print("bye", flush=True)\nimport os\nos._exit(3)');
      assert.equal(r.status, 'died');
      assert.equal(r.error?.ename, 'KernelDied');
      // a Jupyter Server restarts a dead kernel itself and does not say how it died
      if (backend === 'local')
        assert.equal(r.error?.evalue, 'the Python kernel died (exited with code 3); it was restarted and variables were lost');
      else
        assert.match(
          r.error!.evalue,
          /^the Python kernel died \(the Jupyter server at http:\/\/127\.0\.0\.1:\d+\/ found it dead and restarted it\); it was restarted and variables were lost$/,
        );
      assert.equal(r.restarted, true);
      const next = await k.execute('print("lost" in globals(), input_image.size, input_image.mode)');
      assert.equal(next.status, 'ok');
      assert.equal(next.stdout, 'False (308, 196) RGB\n');
      assert.notEqual(k.pid, pid);
      assert.equal(k.state, 'idle');
    });

    it('a segfault (ctypes.string_at(0)) is survived the same way', async () => {
      const states: string[] = [];
      const off = k.onStateChange((s) => states.push(s));
      const r = await k.execute('import ctypes\nctypes.string_at(0)');
      assert.equal(r.status, 'died');
      assert.match(
        r.error!.evalue,
        backend === 'local' ? /killed by signal SIGSEGV \(segmentation fault\)/ : /found it dead and restarted it/,
      );
      assert.equal((await k.execute('1 + 2')).stdout, '3\n');
      off();
      assert.deepEqual(states.slice(0, 4), ['busy', 'dead', 'starting', 'idle']);
    });

    it('a kernel that dies between cells is restarted before the next cell', async () => {
      const pid = k.pid!;
      process.kill(pid, 'SIGKILL');
      await waitFor(() => k.pid !== pid && k.state === 'idle', 30000, 'the restart');
      assert.equal((await k.execute('print(input_image.size)')).stdout, '(308, 196)\n');
    });

    // local only: a Jupyter Server does not watch its kernels' heartbeats (a hung remote cell times out)
    (backend === 'local' ? it : it.skip)('a hung kernel (SIGSTOP: heartbeat silent) is declared dead and restarted', async () => {
      const h = await newSession({ heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1500 }, backend);
      const pid = h.pid!;
      const p = h.execute('import time\ntime.sleep(30)', { timeoutMs: 60000 });
      await new Promise((r) => setTimeout(r, 300));
      process.kill(pid, 'SIGSTOP');
      const r = await p;
      assert.equal(r.status, 'died');
      assert.match(r.error!.evalue, /stopped answering its heartbeat for \d+ s and was killed/);
      assert.equal((await h.execute('print("alive")')).stdout, 'alive\n');
      assert.equal(processAlive(pid), false);
    });

    it('with memoryLimitMb, a memory blow-up raises MemoryError and the kernel lives on', async () => {
      const m = await newSession({ memoryLimitMb: 2048 }, backend);
      await m.execute('mine = "ok"');
      const r = await m.execute(
        'import numpy as np\nbig = np.ones((1024, 1024, 1024), dtype=np.uint8) * 2  # 1 GiB, then 1 more\nbigger = [np.ones(10**9, dtype=np.uint8) for _ in range(4)]',
      );
      assert.equal(r.status, 'error');
      assert.match(r.error!.ename, /MemoryError$/);
      const r2 = await m.execute('x = bytearray(5 * 1024**3)');
      assert.equal(r2.error?.ename, 'MemoryError');
      assert.equal((await m.execute('print(mine)')).stdout, 'ok\n');
    });

    it('huge output is truncated with a clear marker (maxOutputBytes per stream per cell)', async () => {
      const big = await k.execute('print("x" * 50_000_000)\nimport sys\nprint("e" * 3_000_000, file=sys.stderr)\nprint("done")');
      assert.equal(big.status, 'ok');
      assert.ok(big.stdout.length < 1024 * 1024 + 300, `stdout ${big.stdout.length}`);
      assert.ok(big.stdout.startsWith('x'.repeat(1000)));
      // 50,000,000 x, a newline and "done\n" written; the first 1,048,576 bytes kept
      assert.ok(
        big.stdout.endsWith('\n[output truncated: 48,951,430 more bytes of stdout were not shown (limit: 1,048,576 bytes per cell)]\n'),
        big.stdout.slice(-200),
      );
      assert.ok(
        big.stderr.endsWith('\n[output truncated: 1,951,425 more bytes of stderr were not shown (limit: 1,048,576 bytes per cell)]\n'),
        big.stderr.slice(-200),
      );
      assert.equal(big.truncated?.stdout, 48951430);
      const lines = await k.execute('for i in range(300000):\n    print(i)', { maxOutputBytes: 1000 });
      assert.ok(lines.stdout.startsWith('0\n1\n2\n'));
      assert.match(lines.stdout, /more bytes of stdout were not shown \(limit: 1,000 bytes per cell\)/);
      assert.equal((await k.execute('print("small")')).stdout, 'small\n', 'the cap is per cell');
    });

    it('output written below Python (C-level printf) is capped on the client side too', async () => {
      const r = await k.execute('import os\nos.system("head -c 3000000 /dev/zero | tr \'\\\\0\' y")', { maxOutputBytes: 10000 });
      assert.equal(r.status, 'ok');
      assert.ok(r.stdout.length < 20000, `stdout ${r.stdout.length}`);
    });
  });
