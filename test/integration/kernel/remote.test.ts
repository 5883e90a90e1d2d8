/**
 * What only the remote backend has: a real Jupyter Server's token, kernelspecs, a dropped
 * WebSocket, an unreachable or restarted server, and the kernel's shutdown over REST. The
 * kernel semantics (cells, images, timeouts, deaths) run for both backends in basics, images
 * and robustness.test.ts.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { KernelLaunchError, KernelSessionError, PythonEnvironmentError } from '../../../src/core/kernel/errors';
import { RemoteKernelSession, startRemoteKernelSession } from '../../../src/core/kernel/remote';
import { newIncarnation, remoteExecute, startRemoteKernel, waitConnected } from '../../../src/core/kernel/remote/connection';
import { serverSettings } from '../../../src/core/kernel/remote/server';
import { describeError } from '../../../src/cli/errors';
import { wordError } from '../../../src/extension/errors';
import { type JupyterServerFixture, startJupyterServer, startTcpProxy } from '../../fixtures/jupyterServer';
import { processAlive, testPng, waitFor } from './helpers';

async function kernelIds(srv: JupyterServerFixture): Promise<string[]> {
  const r = await fetch(`${srv.url}api/kernels?token=${srv.token}`);
  return ((await r.json()) as Array<{ id: string }>).map((k) => k.id);
}

describe('kernel on a Jupyter Server: server, token, kernelspecs, connection', function () {
  this.timeout(120000);
  let srv: JupyterServerFixture;
  const open: RemoteKernelSession[] = [];
  const start = async (o: Partial<Parameters<typeof startRemoteKernelSession>[0]> = {}) => {
    const s = await startRemoteKernelSession({ url: srv.url, token: srv.token, ...o });
    open.push(s);
    return s;
  };
  before(async () => {
    srv = await startJupyterServer();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.dispose()));
  });
  after(async () => srv?.stop());

  it('a wrong token is said plainly: HTTP 403 from the server, and how to set the token', async () => {
    await assert.rejects(startRemoteKernelSession({ url: srv.url, token: 'wrong-token' }), (e: Error) => {
      assert.ok(e instanceof KernelLaunchError);
      assert.match(e.message, new RegExp(`^the Jupyter server at ${srv.url} refused the token \\(HTTP 403 Forbidden\\)`));
      assert.match(e.message, /Fix: set the token the server printed/);
      // core names the fix's target by key; each adapter words it for its users
      assert.equal(e.fix.setting, 'kernel.jupyterToken');
      assert.match(describeError(e, 'ask'), /Fix: set the token .*\(the JUPYTER_TOKEN environment variable\)/);
      assert.match(wordError(e).message, /the command "CodeDance: Select Kernel" → the server → set token/);
      assert.doesNotMatch(e.message, /wrong-token/, 'the token is not echoed');
      return true;
    });
    assert.deepEqual(await kernelIds(srv), [], 'no kernel was started');
  });

  it('a cell is sent silent, as the local path: no execute_input echo on iopub, its output still comes', async () => {
    const settings = serverSettings({ url: srv.url, token: srv.token });
    const conn = await startRemoteKernel(settings, srv.url, 'python3');
    try {
      assert.ok(await waitConnected(conn, 30_000), 'the kernel WebSocket connects');
      const types: string[] = [];
      const out = await remoteExecute(newIncarnation(conn, 1), 'print(6 * 7)', {
        onMessage: (m) => types.push(m.header.msg_type),
        timeoutMs: 30_000,
      });
      assert.equal(out.kind, 'done');
      assert.ok(types.includes('stream'), types.join(', '));
      assert.ok(!types.includes('execute_input'), types.join(', '));
    } finally {
      await conn.shutdown().catch(() => undefined);
      conn.dispose();
    }
  });

  it('a token in the URL (?token=, as Jupyter prints it) is used when none is given', async () => {
    const k = await start({ url: `${srv.url}?token=${srv.token}`, token: undefined });
    assert.equal((await k.execute('print(6 * 7)')).stdout, '42\n');
    assert.doesNotMatch(k.python, /token/);
  });

  it('a kernelspec without PIL/numpy gets the same error as a local interpreter, naming server and kernelspec', async () => {
    await assert.rejects(start({ kernelName: 'cd-nopkgs' }), (e: Error) => {
      assert.ok(e instanceof PythonEnvironmentError);
      assert.match(
        e.message,
        new RegExp(
          `kernel "cd-nopkgs" on the Jupyter server at ${srv.url} cannot run the CodeDance kernel: .*python3.* cannot import PIL, numpy`,
        ),
      );
      assert.match(e.message, /Fix: install them in that kernel's environment/);
      return true;
    });
    await waitFor(() => true, 0, '');
    assert.deepEqual(await kernelIds(srv), [], 'the failed kernel was shut down');
  });

  it('an unknown kernelspec lists the ones there are', async () => {
    await assert.rejects(start({ kernelName: 'nope' }), /has no kernelspec "nope" \(it has: .*python3.*\)[\s\S]*Fix:/);
  });

  it('a server that is not there: a clear error naming it', async () => {
    await assert.rejects(
      startRemoteKernelSession({ url: 'http://127.0.0.1:9/', token: 'x' }),
      /cannot reach the Jupyter server at http:\/\/127\.0\.0\.1:9\/[\s\S]*Fix: start the server/,
    );
    await assert.rejects(startRemoteKernelSession({ url: 'ftp://host/' }), /must start with http/);
  });

  it("input images travel as bytes and are saved in the kernel's own working folder", async () => {
    const k = await start();
    const [p] = await k.setInputImages([testPng(300, 200)], { resize: 'qwen-smart' });
    assert.deepEqual([p.width, p.height], [308, 196]);
    const r = await k.execute('import os\nprint(os.listdir("."), input_image.size)');
    assert.equal(r.stdout, "['input_image.jpg'] (308, 196)\n");
  });

  it('dispose() shuts the kernel down over REST and removes its folders', async () => {
    const k = await start();
    const id = k.kernelId!;
    const pid = k.pid;
    const dir = k.workdir;
    assert.ok((await kernelIds(srv)).includes(id));
    await k.dispose();
    assert.ok(!(await kernelIds(srv)).includes(id));
    assert.ok(!existsSync(dir));
    await waitFor(() => !processAlive(pid), 10000, 'the kernel process to exit');
  });

  it('a dropped WebSocket is reconnected with the same kernel: variables kept', async () => {
    const proxy = await startTcpProxy(srv.port);
    try {
      const k = await start({ url: proxy.url });
      await k.execute('kept = "yes"');
      const pid = k.pid;
      const states: string[] = [];
      k.onStateChange((s) => states.push(s));
      proxy.drop();
      // at once: the request may be written into the socket in the instant it drops
      const r = await k.execute('print(kept)');
      assert.equal(r.stdout, 'yes\n');
      assert.equal(k.pid, pid, 'the same kernel process');
      assert.ok(states.includes('dead') && states.at(-1) === 'idle', states.join(','));
      // and a drop between cells
      states.length = 0;
      proxy.drop();
      await waitFor(() => states.includes('dead'), 10000, 'the drop to be seen');
      assert.equal((await k.execute('kept += "!"\nprint(kept)')).stdout, 'yes!\n', 'run exactly once');
    } finally {
      await proxy.close();
    }
  });

  it('a connection that gave up (reconnect attempts spent) is replaced: same kernel, variables kept', async () => {
    const k = await start();
    await k.setInputImages([testPng(60, 40)], { resize: 'none' });
    await k.execute('kept = 7');
    const pid = k.pid;
    const conn = (k as unknown as { conn: { dispose(): void } }).conn;
    // what @jupyterlab/services reports when its reconnect attempts are spent
    (k as unknown as { lose(why: string): void }).lose('disconnected');
    conn.dispose();
    assert.equal(k.state, 'dead');
    const r = await k.execute('print(kept, input_image.size)');
    assert.equal(r.stdout, '7 (60, 40)\n');
    assert.equal(k.pid, pid);
  });

  it('an unreachable server: a kernel-state error, and the session goes on when it is back', async () => {
    const proxy = await startTcpProxy(srv.port);
    try {
      const k = await start({ url: proxy.url, reconnectWaitMs: 1500 });
      await k.execute('kept = 1');
      await proxy.pause();
      await waitFor(() => k.state === 'dead', 10000, 'the state to show the lost connection');
      await assert.rejects(k.execute('print(kept)'), (e: Error) => {
        assert.ok(e instanceof KernelSessionError);
        assert.match(
          e.message,
          /the connection to the kernel on the Jupyter server at http:\/\/127\.0\.0\.1:\d+\/ is lost[\s\S]*Fix: check that the server is up/,
        );
        return true;
      });
      await proxy.resume();
      await waitFor(() => k.state === 'idle', 40000, 'the reconnection');
      assert.equal((await k.execute('print(kept)')).stdout, '1\n', 'the same kernel, variables kept');
    } finally {
      await proxy.close();
    }
  });

  it('a server that was restarted: the next cell gets a new kernel (variables lost), with the input image', async () => {
    const dir = (await import('node:fs')).mkdtempSync(`${(await import('node:os')).tmpdir()}/cd-jupyter-restart-`);
    let s2: JupyterServerFixture | undefined = await startJupyterServer({ dir });
    try {
      const k = await startRemoteKernelSession({ url: s2.url, token: s2.token, reconnectWaitMs: 1000 });
      open.push(k);
      await k.setInputImages([testPng(100, 100)], { resize: 'none' });
      await k.execute('kept = 1');
      const { port, token } = s2;
      await s2.stop();
      await waitFor(() => k.state === 'dead', 20000, 'the state to show the server is gone');
      await assert.rejects(k.execute('1'), /Jupyter server at http:\/\/127\.0\.0\.1:\d+\/[\s\S]*Fix:/);
      s2 = await startJupyterServer({ dir, port, token });
      const r = await k.execute('print("kept" in globals(), input_image.size)');
      assert.equal(r.stdout, 'False (100, 100)\n');
    } finally {
      await s2?.stop();
    }
  });
});
