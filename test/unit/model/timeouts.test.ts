/**
 * The model client's slow paths are bounded (issue 15 §2): a refused first endpoint fails
 * over at once, a server that accepts the connection and never sends headers times out after
 * the header timeout (not Node's 300 s), with local servers on 127.0.0.1 that the tests start
 * and stop themselves.
 */
import { strict as assert } from 'node:assert';
import { createServer, type Server, type Socket } from 'node:net';
import { ModelConnectionError } from '../../../src/core/model/errors';
import { ModelClient } from '../../../src/core/model/ModelClient';
import type { ModelStreamEvent } from '../../../src/core/model/types';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';

const REQ = {
  model: 'codedance-fixture-7b',
  messages: [{ role: 'user' as const, content: 'How many red circles are there?' }],
  max_tokens: 64,
};

/** A port nothing listens on (connections are refused at once). */
async function refusedUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

/** A server that accepts connections, reads the request and never answers. */
async function silentServer(): Promise<{ url: string; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const s: Server = createServer((sock) => {
    accepted++;
    sockets.add(sock);
    sock.on('data', () => undefined);
    sock.on('close', () => sockets.delete(sock));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    accepted: () => accepted,
    close: async () => {
      for (const k of sockets) k.destroy();
      await new Promise<void>((r) => s.close(() => r()));
    },
  };
}

describe('model client: bounded slow paths', function () {
  this.timeout(20_000);
  let fm: FixtureModel;
  beforeEach(async () => (fm = await startFixtureModel()));
  afterEach(async () => fm.close());

  it('a refused first endpoint fails over at once: resolveModel and a stream, with the default retry policy', async () => {
    const dead = await refusedUrl();
    const c = new ModelClient({ endpoints: [dead, fm.baseUrl], strategy: 'round-robin' });
    let t0 = Date.now();
    assert.equal(await c.resolveModel(), 'codedance-fixture-7b');
    const resolveMs = Date.now() - t0;
    t0 = Date.now();
    const events: ModelStreamEvent[] = [];
    for await (const e of c.stream(REQ)) events.push(e);
    const streamMs = Date.now() - t0;
    assert.deepEqual(
      events.filter((e) => e.type === 'start').map((e) => (e as { endpoint: string }).endpoint),
      [dead, fm.baseUrl],
    );
    assert.equal((events.find((e) => e.type === 'retry') as { delayMs: number }).delayMs, 0, 'no back-off when another endpoint is ready');
    assert.equal(events.at(-1)?.type, 'done');
    // before: ~5 s (GET /models retried 4 times on the dead endpoint) and 250-500 ms of back-off
    assert.ok(resolveMs < 1000, `resolveModel took ${resolveMs} ms`);
    assert.ok(streamMs < 1000, `the stream took ${streamMs} ms`);
  });

  it('one endpoint that refuses: still retried with back-off (nothing to fail over to)', async () => {
    const dead = await refusedUrl();
    const c = new ModelClient({ endpoints: [dead], retry: { maxRetries: 2, baseDelayMs: 100, maxDelayMs: 100 } });
    const t0 = Date.now();
    await assert.rejects(
      c.resolveModel(),
      (e: unknown) => e instanceof ModelConnectionError && e.code === 'ECONNREFUSED' && e.retries === 2,
    );
    assert.ok(Date.now() - t0 >= 100, 'it waited between tries');
  });

  it('a server that accepts and never sends headers times out after the header timeout, then fails over', async () => {
    const silent = await silentServer();
    try {
      const alone = new ModelClient({
        endpoints: [silent.url],
        headersTimeoutMs: 300,
        retry: { maxRetries: 1, baseDelayMs: 10, maxDelayMs: 10 },
      });
      let t0 = Date.now();
      await assert.rejects(
        (async () => {
          for await (const _ of alone.stream(REQ));
        })(),
        (e: unknown) => {
          assert.ok(e instanceof ModelConnectionError, String(e));
          assert.equal(e.code, 'ETIMEDOUT');
          assert.equal(e.kind, 'model-endpoint');
          assert.match(e.message, /no answer from http:\/\/127\.0\.0\.1:\d+\/v1 within 300 ms \(timed out\) \(after 1 retry\)/);
          return true;
        },
      );
      let ms = Date.now() - t0;
      assert.ok(ms >= 550 && ms < 3000, `two attempts of 300 ms took ${ms} ms`);
      assert.equal(silent.accepted(), 2);

      t0 = Date.now();
      await assert.rejects(alone.resolveModel(), (e: unknown) => e instanceof ModelConnectionError && e.code === 'ETIMEDOUT');
      ms = Date.now() - t0;
      assert.ok(ms < 3000, `GET /models is bounded too: ${ms} ms`);

      // with a second endpoint the stream moves on after one header timeout
      const pair = new ModelClient({ endpoints: [silent.url, fm.baseUrl], strategy: 'round-robin', headersTimeoutMs: 300 });
      t0 = Date.now();
      const events: ModelStreamEvent[] = [];
      for await (const e of pair.stream(REQ)) events.push(e);
      ms = Date.now() - t0;
      assert.equal(events.at(-1)?.type, 'done');
      assert.ok(ms < 2000, `failover after a header timeout took ${ms} ms`);
    } finally {
      await silent.close();
    }
  });

  it('the default header timeout is bounded well below Node fetch’s 300 s', () => {
    const c = new ModelClient({ endpoints: fm.baseUrl }) as unknown as { headersTimeoutMs: number; requestTimeoutMs: number };
    assert.ok(c.headersTimeoutMs <= 60_000, String(c.headersTimeoutMs));
    assert.ok(c.requestTimeoutMs <= 300_000, String(c.requestTimeoutMs));
  });
});
