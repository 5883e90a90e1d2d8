// A request whose output cannot be recorded, or whose connection fails, is reported (issue #22):
// before, a throwing onMessage was swallowed by the client's read loop (the result came back
// without that output, or after a 5 s wait when it threw on the idle status), and a receive loop
// that died left every request waiting forever.
import { strict as assert } from 'node:assert';
import { KernelClient } from '../../../src/core/kernel/client';
import type { ConnectionInfo } from '../../../src/core/kernel/connection';
import { KernelProtocolError } from '../../../src/core/kernel/errors';
import type { KernelProcess } from '../../../src/core/kernel/process';
import { executeRequest, type Incarnation } from '../../../src/core/kernel/request';
import type { JupyterMessage } from '../../../src/core/kernel/wire';

/** Settles within `ms`, or says it is still pending. */
async function within<T>(p: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<'pending'>((r) => (t = setTimeout(() => r('pending'), ms)));
  try {
    return await Promise.race([
      p.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(t);
  }
}

function msg(type: string, content: unknown): JupyterMessage {
  return {
    header: { msg_id: `x-${type}`, msg_type: type },
    parent_header: { msg_id: 'm1' },
    metadata: {},
    content,
    buffers: [],
  } as unknown as JupyterMessage;
}

/** An incarnation whose client is driven by the test; its listeners are guarded as KernelClient guards them. */
function fakeIncarnation(reply: Promise<JupyterMessage>): { inc: Incarnation; deliver: (m: JupyterMessage) => void } {
  const listeners = new Map<string, (m: JupyterMessage) => void>();
  const client = {
    request(_channel: string, _type: string, _content: unknown, beforeSend?: (id: string) => void) {
      beforeSend?.('m1');
      return { msgId: 'm1', reply };
    },
    listen(id: string, l: (m: JupyterMessage) => void) {
      listeners.set(id, l);
      return () => listeners.delete(id);
    },
  };
  const proc = { exited: new Promise(() => {}) } as unknown as KernelProcess;
  const deliver = (m: JupyterMessage) => {
    try {
      listeners.get(m.parent_header.msg_id!)?.(m);
    } catch {
      // what KernelClient's read loop does with a listener's error
    }
  };
  return { inc: { n: 1, proc, client: client as unknown as KernelClient }, deliver };
}

describe('kernel requests: failures are reported, not swallowed', () => {
  it('rejects when onMessage throws on an output (the output would be missing from the result)', async () => {
    let answer!: (m: JupyterMessage) => void;
    const { inc, deliver } = fakeIncarnation(new Promise((r) => (answer = r)));
    const run = executeRequest(inc, 'print(1)', {
      onMessage: (m) => {
        if (m.header.msg_type === 'stream') throw new TypeError('bad stream text');
      },
    });
    deliver(msg('stream', { name: 'stdout', text: '1\n' }));
    deliver(msg('status', { execution_state: 'idle' }));
    answer(msg('execute_reply', { status: 'ok' }));
    const r = await within(run, 2000);
    assert.ok(r !== 'pending' && 'error' in r, `expected a rejection, got ${JSON.stringify(r)}`);
    assert.ok(r.error instanceof KernelProtocolError);
    assert.match(r.error.message, /a stream message of the cell could not be recorded \(bad stream text\)/);
  });

  it('still waits for the end of the request when onMessage throws on the idle status, then rejects', async () => {
    let answer!: (m: JupyterMessage) => void;
    const { inc, deliver } = fakeIncarnation(new Promise((r) => (answer = r)));
    const run = executeRequest(inc, 'x', {
      onMessage: (m) => {
        if (m.header.msg_type === 'status') throw new Error('listener bug');
      },
    });
    answer(msg('execute_reply', { status: 'ok' }));
    deliver(msg('status', { execution_state: 'idle' }));
    const r = await within(run, 1000);
    assert.ok(r !== 'pending' && 'error' in r, `expected a prompt rejection, got ${JSON.stringify(r)}`);
    assert.match((r.error as Error).message, /status message of the cell could not be recorded \(listener bug\)/);
  });

  it('rejects at once when the connection fails (KernelProtocolError on the reply)', async () => {
    const failed = new KernelProtocolError({ reason: 'the kernel connection failed', fix: 'restart the kernel' });
    const { inc } = fakeIncarnation(Promise.reject(failed));
    const r = await within(executeRequest(inc, 'x', { onMessage: () => {} }), 1000);
    assert.ok(r !== 'pending' && 'error' in r, `expected a rejection, got ${JSON.stringify(r)}`);
    assert.equal(r.error, failed);
  });

  it('KernelClient: a receive loop that dies fails the pending and later requests instead of leaving them waiting', async () => {
    const conn: ConnectionInfo = {
      transport: 'tcp',
      ip: '127.0.0.1',
      shell_port: 1,
      iopub_port: 2,
      stdin_port: 3,
      control_port: 4,
      hb_port: 5,
      key: 'k',
      signature_scheme: 'hmac-sha256',
      kernel_name: 'python3',
    };
    const client = new KernelClient(conn, { heartbeatIntervalMs: 0 });
    let fail!: (e: Error) => void;
    const broken = new Promise<never>((_, reject) => (fail = reject));
    // the shell socket's receive fails while the client is open (not a close: that ends the iteration)
    const inner = client as unknown as { shell: { close(): void } };
    const realShell = inner.shell;
    inner.shell = {
      connect: () => {},
      close: () => {},
      [Symbol.asyncIterator]: () => ({ next: () => broken }),
    } as unknown as typeof realShell;
    try {
      client.connect();
      const before = client.request('shell', 'kernel_info_request', {});
      fail(Object.assign(new Error('Operation not supported'), { code: 'ENOTSUP' }));
      const r1 = await within(before.reply, 1000);
      assert.ok(r1 !== 'pending' && 'error' in r1, `the pending request should fail, got ${JSON.stringify(r1)}`);
      assert.ok(r1.error instanceof KernelProtocolError);
      assert.match(r1.error.message, /receiving on its shell channel stopped \(Operation not supported\)/);
      const r2 = await within(client.request('control', 'interrupt_request', {}).reply, 1000);
      assert.ok(r2 !== 'pending' && 'error' in r2 && r2.error === r1.error, 'a later request fails with the same error');
    } finally {
      client.close();
      realShell.close();
    }
  });
});
