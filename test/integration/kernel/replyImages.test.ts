/**
 * A short cell's images travel in its execute_reply (the shell channel: one recipient) and the
 * reply says when the cell sent nothing on iopub but its status, so the client finishes at the
 * reply; a longer cell still streams its images and output as they come. Both backends. Those are
 * fast paths (direct_execute, reply_at_once, busy, ws_frames): a test of one's mechanism is
 * skipped where it is off; what a cell returns is asserted on both paths.
 */
import { strict as assert } from 'node:assert';
import { remoteExecute } from '../../../src/core/kernel/remote/connection';
import type { PromptAckWebSocket } from '../../../src/core/kernel/remote/server';
import { executeRequest, isSelfContainedReply } from '../../../src/core/kernel/request';
import type { JupyterMessage } from '../../../src/core/kernel/wire';
import { BACKENDS, backendTitle, disposeAll, fastPathOn, imageSize, newSession, sharedJupyterServer, type TestKernel } from './helpers';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

for (const backend of BACKENDS)
  describe(`kernel (${backendTitle(backend)}): images in the reply`, function () {
    this.timeout(60000);
    let k: TestKernel;
    before(async () => {
      k = await newSession({}, backend);
    });
    after(disposeAll);

    it('a short cell: its images come with the reply, in the order the cell made them, each intact', async () => {
      const streamed: string[] = [];
      const r = await k.execute(
        [
          'from PIL import Image',
          'Image.new("RGB", (100, 80), "red").show()',
          'Image.new("RGB", (90, 60), "blue").show()',
          'print("two")',
        ].join('\n'),
        { onOutput: (ev) => streamed.push(ev.kind) },
      );
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.deepEqual(
        r.images.map((i) => [i.width, i.height]),
        [
          [100, 80],
          [90, 60],
        ],
      );
      for (const img of r.images) assert.deepEqual(imageSize(img), { width: img.width, height: img.height });
      assert.equal(r.stdout, 'two\n');
      // the consumers still hear of each image (the chat shows them under the cell)
      assert.equal(streamed.filter((s) => s === 'image').length, 2);
    });

    it('a cell that runs on after an image streams it at once (the reply is not waited for)', async () => {
      const seen: number[] = [];
      const t0 = Date.now();
      const r = await k.execute(
        ['from PIL import Image', 'import time', 'Image.new("RGB", (64, 64), "green").show()', 'time.sleep(1.5)'].join('\n'),
        {
          onOutput: (ev) => {
            if (ev.kind === 'image') seen.push(Date.now() - t0);
          },
        },
      );
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.equal(r.images.length, 1);
      assert.equal(seen.length, 1);
      assert.ok(seen[0] < 1200, `the image was shown ${seen[0]} ms after the start, before the cell's 1.5 s sleep ended`);
    });

    it('images around the 50 ms hold (held, released by the timer, then live) with output between: all there, in order, no stall', async () => {
      const t0 = Date.now();
      const r = await k.execute(
        [
          'from PIL import Image',
          'import time',
          'for i, wait in enumerate([0, 0.04, 0.02, 0.05, 0]):',
          '    time.sleep(wait)',
          '    print("step", i)',
          '    Image.new("RGB", (100 + i, 80), "red").show()',
        ].join('\n'),
      );
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.ok(Date.now() - t0 < 3000, `the cell took ${Date.now() - t0} ms`);
      assert.deepEqual(
        r.images.map((i) => i.width),
        [100, 101, 102, 103, 104],
      );
      assert.equal(r.stdout, [0, 1, 2, 3, 4].map((i) => `step ${i}\n`).join(''));
    });

    it('the reply counts what the cell sent on iopub: 0 ends the request at the reply, more waits for idle', async function () {
      if (!fastPathOn(k, 'direct_execute')) this.skip();
      // the request paths of the two clients (request.ts, remote/connection.ts), below the session
      const inc = (k as unknown as { inc: unknown }).inc;
      const run = async (code: string) => {
        const msgs: JupyterMessage[] = [];
        const wrapped = `_codedance_run("${b64(JSON.stringify({ code }))}")`;
        const onMessage = (m: JupyterMessage) => msgs.push(m);
        const o =
          backend === 'local'
            ? await executeRequest(inc as Parameters<typeof executeRequest>[0], wrapped, { onMessage, silent: true })
            : await remoteExecute(inc as Parameters<typeof remoteExecute>[0], wrapped, { onMessage });
        assert.equal(o.kind, 'done');
        return { reply: (o as { reply: JupyterMessage }).reply, msgs };
      };
      const quick = await run('from PIL import Image\nImage.new("RGB", (32, 32)).show()\nprint("hi")');
      assert.equal((quick.reply.content as { codedance: { iopub: number } }).codedance.iopub, 0);
      assert.ok(isSelfContainedReply(quick.reply));
      assert.equal(quick.reply.buffers.length, 1, 'the image is the reply buffer');
      const slow = await run('import time\nprint("a", flush=True)\ntime.sleep(0.2)\nprint("b")');
      assert.ok((slow.reply.content as { codedance: { iopub: number } }).codedance.iopub >= 1);
      assert.ok(!isSelfContainedReply(slow.reply));
      assert.ok(
        slow.msgs.some((m) => m.header.msg_type === 'status' && (m.content as { execution_state?: string }).execution_state === 'idle'),
        'a streaming cell ends at its idle',
      );
      assert.ok(
        slow.msgs.some((m) => m.header.msg_type === 'stream'),
        'its output streamed',
      );
    });

    it("the reply leaves the kernel at once, before the kernel's 'idle' (ipykernel's shell queue, empty, is skipped)", async function () {
      if (!fastPathOn(k, 'reply_at_once')) this.skip();
      const count = async () => {
        const r = await k.execute('import sys\nprint(sys.modules["_codedance"]._state["replies_at_once"])');
        assert.equal(r.status, 'ok', JSON.stringify(r.error));
        return Number(r.stdout.trim());
      };
      const before = await count();
      assert.equal((await k.execute('x = 1')).status, 'ok');
      assert.equal((await k.execute('from PIL import Image\nImage.new("RGB", (40, 30), "red").show()')).images.length, 1);
      assert.equal((await k.execute('print("a")\n1 / 0')).status, 'error');
      // the first count's own reply, the three cells'
      assert.equal((await count()) - before, 4);
    });

    it('a request that comes while a cell runs is answered right after it (the stream watches its socket again after our send)', async () => {
      const inc = (k as unknown as { inc: unknown }).inc;
      const request = (code: string) => {
        const wrapped = `_codedance_run("${b64(JSON.stringify({ code }))}")`;
        const opts = { onMessage: () => undefined, timeoutMs: 5000 };
        return backend === 'local'
          ? executeRequest(inc as Parameters<typeof executeRequest>[0], wrapped, { ...opts, silent: true })
          : remoteExecute(inc as Parameters<typeof remoteExecute>[0], wrapped, opts);
      };
      for (let round = 0; round < 3; round++) {
        const t0 = Date.now();
        const first = request('import time\ntime.sleep(0.3)');
        await new Promise((r) => setTimeout(r, 50));
        const second = request('x = 2');
        const ended: number[] = [];
        const [a, b] = await Promise.all([first, second].map((p) => p.then((o) => (ended.push(Date.now() - t0), o))));
        assert.equal(a.kind, 'done');
        assert.equal(b.kind, 'done', `the request sent while the first cell ran: ${b.kind} after ${Date.now() - t0} ms`);
        assert.ok(Math.max(...ended) < 2000, `both answered within 2 s (${ended.join(', ')} ms)`);
      }
    });

    if (backend === 'remote') {
      it('an image-bearing reply is received into memory made ready while the cell ran, intact', async function () {
        if (!fastPathOn(k, 'ws_frames')) this.skip();
        const ws = (k as unknown as { inc: { conn: { _ws: PromptAckWebSocket } } }).inc.conn._ws;
        assert.ok(ws.frames, 'the frame assembler is on the kernel WebSocket');
        const hits = ws.frames.memory.hits;
        const setup = await k.execute(
          'import numpy as np\nfrom PIL import Image\nnoise = Image.fromarray(np.random.default_rng(7).integers(0, 256, (400, 400, 3), dtype=np.uint8))',
        );
        assert.equal(setup.status, 'ok', JSON.stringify(setup.error));
        const seen: string[] = [];
        for (let i = 0; i < 4; i++) {
          const r = await k.execute('noise.show()');
          assert.equal(r.status, 'ok', JSON.stringify(r.error));
          assert.equal(r.images.length, 1);
          assert.deepEqual(imageSize(r.images[0]), { width: 400, height: 400 });
          seen.push(r.images[0].data);
        }
        const png = Buffer.from(seen[0], 'base64');
        assert.ok(png.length > 400 * 400 * 3, `a ${png.length}-byte PNG: noise does not compress, so the reply is a large frame`);
        assert.equal(png.subarray(-8, -4).toString('latin1'), 'IEND', 'the PNG ends where it should');
        assert.ok(
          seen.every((d) => d === seen[0]),
          'the same bytes each time, from fresh or from ready memory',
        );
        assert.ok(ws.frames.memory.hits - hits >= 3, `cells 2-4 were received into ready memory (hits ${ws.frames.memory.hits - hits})`);
      });

      it("the server sees 'busy' while a cell runs longer than 50 ms, and 'idle' after; a short cell sends no 'busy' where the busy fast path is on", async () => {
        const srv = await sharedJupyterServer();
        const kernelId = (k as unknown as { conn: { id: string } }).conn.id;
        const state = async () =>
          ((await (await fetch(`${srv.url}api/kernels/${kernelId}?token=${srv.token}`)).json()) as { execution_state: string })
            .execution_state;
        const inc = (k as unknown as { inc: Parameters<typeof remoteExecute>[0] }).inc;
        const statuses = async (code: string, during?: () => Promise<void>) => {
          const seen: string[] = [];
          const run = remoteExecute(inc, `_codedance_run("${b64(JSON.stringify({ code }))}")`, {
            onMessage: (m) => {
              if (m.header.msg_type === 'status') seen.push(String((m.content as { execution_state?: string }).execution_state));
            },
          });
          await during?.();
          assert.equal((await run).kind, 'done');
          return seen;
        };
        let midway = '';
        const long = await statuses('import time\ntime.sleep(0.8)', async () => {
          await new Promise((r) => setTimeout(r, 400));
          midway = await state();
        });
        assert.equal(midway, 'busy', "the server's kernel model during the cell");
        assert.ok(long.includes('busy'), `the client saw ${long.join(', ')}`);
        for (let i = 0; i < 50 && (await state()) !== 'idle'; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await state(), 'idle', 'idle after the cell (the late busy never comes after idle)');
        const short = await statuses('x = 1');
        await new Promise((r) => setTimeout(r, 200)); // a late 'busy' would have come by now
        if (fastPathOn(k, 'busy')) assert.ok(!short.includes('busy'), `a short cell: ${short.join(', ')}`);
        else assert.ok(short.includes('busy'), `the plain path: a short cell is 'busy' too (${short.join(', ')})`);
        assert.equal(await state(), 'idle');
      });
    }
  });
