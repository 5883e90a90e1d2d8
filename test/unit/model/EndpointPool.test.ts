import { strict as assert } from 'node:assert';
import { deadUrl } from '../../fixtures/cli';
import { EndpointPool, endpointUrlProblem, normalizeBaseUrl, parseEndpoints } from '../../../src/core/model/EndpointPool';
import { ModelConfigError } from '../../../src/core/model/errors';
import { ModelClient } from '../../../src/core/model/ModelClient';
import type { ModelStreamEvent } from '../../../src/core/model/types';
import { getProtocol } from '../../../src/core/protocol';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';

describe('EndpointPool', () => {
  const urls = ['http://a:1/v1', 'http://b:2/v1', 'http://c:3/v1'];

  it('parses the seed comma-separated form, trims, drops trailing slashes', () => {
    assert.deepEqual(parseEndpoints(' http://a:1/v1/ , http://b:2/v1,,'), [{ baseUrl: 'http://a:1/v1' }, { baseUrl: 'http://b:2/v1' }]);
    assert.deepEqual(parseEndpoints(['http://a:1/v1,http://b:2/v1'], 'k1,k2'), [
      { baseUrl: 'http://a:1/v1', apiKey: 'k1' },
      { baseUrl: 'http://b:2/v1', apiKey: 'k2' },
    ]);
    assert.deepEqual(parseEndpoints('http://a:1/v1,http://b:2/v1', 'one'), [
      { baseUrl: 'http://a:1/v1', apiKey: 'one' },
      { baseUrl: 'http://b:2/v1', apiKey: 'one' },
    ]);
  });

  it('rejects bad configurations with the fix in the message (a neutral one: adapters name settings and flags)', () => {
    assert.throws(
      () => parseEndpoints(' , '),
      (e: unknown) =>
        e instanceof ModelConfigError &&
        e.kind === 'config' &&
        /no model endpoint configured — set one/.test(e.message) &&
        e.fix?.setting === 'model.endpoints' &&
        !/codedance\./.test(e.message),
    );
    assert.throws(
      () => parseEndpoints(urls.join(','), 'k1,k2'),
      /3 model endpoints but 2 API keys — give one key for all endpoints or one per endpoint/,
    );
    assert.throws(() => normalizeBaseUrl('localhost:8000'), /must be http:\/\/ or https:\/\/|is not a URL/);
    assert.throws(
      () => normalizeBaseUrl('not a url'),
      /'not a url' is not a URL — use an OpenAI-compatible base URL such as http:\/\/127\.0\.0\.1:8000\/v1/,
    );
    assert.throws(() => new EndpointPool([]), ModelConfigError);
  });

  it('round-robin cycles in order', () => {
    const pool = new EndpointPool(urls, { strategy: 'round-robin' });
    const got = Array.from({ length: 6 }, () => {
      const l = pool.acquire();
      l.release('ok');
      return l.endpoint.baseUrl;
    });
    assert.deepEqual(got, [...urls, ...urls]);
  });

  it('least-in-flight picks the endpoint with the fewest open requests (ties in round-robin order)', () => {
    const pool = new EndpointPool(urls, { strategy: 'least-in-flight' });
    const a = pool.acquire();
    const b = pool.acquire();
    const c = pool.acquire();
    assert.deepEqual(
      [a, b, c].map((l) => l.endpoint.baseUrl),
      urls,
    );
    b.release('ok');
    assert.equal(pool.acquire().endpoint.baseUrl, urls[1], 'b has nothing in flight now');
    a.release('ok');
    c.release('ok');
    assert.deepEqual(
      pool.stats().map((s) => s.inFlight),
      [0, 1, 0],
    );
  });

  it('cools a failed endpoint down, and uses it again after the cooldown', () => {
    let now = 1000;
    const pool = new EndpointPool(urls.slice(0, 2), { strategy: 'round-robin', cooldownMs: 500, now: () => now });
    pool.acquire().release('failed'); // a fails
    const picks = Array.from({ length: 3 }, () => {
      const l = pool.acquire();
      l.release('ok');
      return l.endpoint.baseUrl;
    });
    assert.deepEqual(picks, [urls[1], urls[1], urls[1]]);
    assert.equal(pool.stats()[0].failures, 1);
    assert.ok(pool.stats()[0].coolingUntil);
    now += 501;
    const l = pool.acquire();
    assert.equal(l.endpoint.baseUrl, urls[0]);
    l.release('ok');
    assert.equal(pool.stats()[0].coolingUntil, undefined);
  });

  it('when every endpoint is cooling, uses the one that cools first', () => {
    let now = 0;
    const pool = new EndpointPool(urls.slice(0, 2), { cooldownMs: 1000, now: () => now });
    const a = pool.acquire();
    now = 10;
    const b = pool.acquire();
    b.release('failed'); // b cools until 1010
    now = 20;
    a.release('failed'); // a cools until 1020
    assert.equal(pool.acquire().endpoint.baseUrl, urls[1]);
  });

  it('release is idempotent; neutral outcomes do not cool down', () => {
    const pool = new EndpointPool(urls.slice(0, 1));
    const l = pool.acquire();
    l.release('neutral');
    l.release('failed');
    assert.deepEqual(pool.stats(), [{ baseUrl: urls[0], inFlight: 0, requests: 1, failures: 0 }]);
  });

  it('rejects user:password@ in an endpoint URL, naming the cause and the API key store, never echoing the password', () => {
    for (const bad of ['https://user:secretpw@x.example/v1', 'http://onlyuser@127.0.0.1:8000/v1', 'http://:secretpw@h/v1']) {
      for (const attempt of [
        () => normalizeBaseUrl(bad),
        () => parseEndpoints(`http://ok:1/v1,${bad}`),
        () => new EndpointPool([{ baseUrl: bad }]),
        () => new EndpointPool(bad),
      ]) {
        assert.throws(attempt, (e: unknown) => {
          assert.ok(e instanceof ModelConfigError, String(e));
          assert.equal(e.kind, 'config');
          assert.match(e.message, /has a user name or password in the URL/);
          assert.match(e.message, /remove the user:password@ part .* API key store/);
          assert.equal(e.fix?.setting, 'model.apiKey');
          assert.ok(!e.message.includes('secretpw') && !JSON.stringify(e).includes('secretpw'), e.message);
          return true;
        });
      }
      assert.ok(endpointUrlProblem(bad) instanceof ModelConfigError);
    }
    assert.equal(endpointUrlProblem('http://127.0.0.1:8000/v1'), undefined);
    assert.equal(endpointUrlProblem('https://api.example.com/v1?x=@y'), undefined, 'an @ outside the authority is fine');
  });

  it('a per-endpoint key wins over the pool key; stats never show keys', () => {
    const pool = new EndpointPool([{ baseUrl: 'https://x.example/v1', apiKey: 'sk-own-key-123456' }, 'http://b:2/v1'], {
      apiKey: 'sk-pool-key-987654',
    });
    assert.deepEqual(
      pool.endpoints.map((e) => e.apiKey),
      ['sk-own-key-123456', 'sk-pool-key-987654'],
    );
    const text = JSON.stringify(pool.stats());
    assert.ok(!text.includes('sk-own') && !text.includes('sk-pool'), text);
  });
});

describe('EndpointPool with ModelClient and real servers', function () {
  this.timeout(10_000);
  const servers: FixtureModel[] = [];
  afterEach(async () => Promise.all(servers.splice(0).map((s) => s.close())));
  const p = getProtocol('codedance');
  const req = { model: 'codedance-fixture-7b', messages: p.initialMessages('How many red circles are there?', []), max_tokens: 2048 };

  it('a dead endpoint: the retry goes to the live one, and later requests skip the dead one', async () => {
    const live = await startFixtureModel();
    servers.push(live);
    const dead = await deadUrl();
    const c = new ModelClient({
      endpoints: [dead, live.baseUrl],
      strategy: 'round-robin',
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
      cooldownMs: 60_000,
    });
    const first: ModelStreamEvent[] = [];
    for await (const e of c.stream(req)) first.push(e);
    assert.deepEqual(
      first.filter((e) => e.type === 'start').map((e) => (e as { endpoint: string }).endpoint),
      [dead, live.baseUrl],
    );
    assert.equal((first.at(-1) as { endpoint: string }).endpoint, live.baseUrl);
    for (let i = 0; i < 3; i++) {
      const r = await c.complete(req);
      assert.equal(r.endpoint, live.baseUrl);
      assert.equal(r.retries, 0);
    }
    assert.equal(live.chatRequests.length, 4);
  });

  it('least-in-flight spreads concurrent streams over the endpoints', async () => {
    const a = await startFixtureModel({ chunkDelayMs: 2 });
    const b = await startFixtureModel({ chunkDelayMs: 2 });
    servers.push(a, b);
    const c = new ModelClient({ endpoints: `${a.baseUrl},${b.baseUrl}`, strategy: 'least-in-flight' });
    const results = await Promise.all(Array.from({ length: 6 }, () => c.complete(req)));
    assert.equal(a.chatRequests.length, 3);
    assert.equal(b.chatRequests.length, 3);
    assert.ok(results.every((r) => /red_count/.test(r.content)));
  });
});
