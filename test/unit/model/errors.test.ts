import { strict as assert } from 'node:assert';
import { classifyError, findErrorCode, serverMessageFromBody } from '../../../src/core/model/classifyError';
import { CodeDanceError, toErrorInfo } from '../../../src/core/errors';
import {
  ModelAbortedError,
  ModelConnectionError,
  ModelError,
  ModelHttpError,
  ModelResponseError,
  ModelStreamError,
} from '../../../src/core/model/errors';
import { ModelClient } from '../../../src/core/model/ModelClient';
import { redactSecrets } from '../../../src/core/secrets';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, sleep } from '../../../src/core/model/retry';
import { startFixtureModel } from '../../fixtures/fixtureModel';

const EP = 'http://127.0.0.1:8000/v1';

describe('model errors', () => {
  it('HTTP messages name the endpoint, the status, the server message and the fix; the fix is machine-readable and names no setting or flag', () => {
    const e = (status: number, serverMessage?: string, model?: string) =>
      new ModelHttpError(status, { endpoint: EP, serverMessage, model });
    const m = (status: number, serverMessage?: string, model?: string) => e(status, serverMessage, model).message;
    assert.equal(m(401, 'bad key'), `${EP} rejected the API key (HTTP 401: bad key) — set the API key for this endpoint`);
    assert.match(
      m(404, 'The model `x` does not exist.', 'x'),
      /^model 'x' is not served at http:\/\/127\.0\.0\.1:8000\/v1 \(HTTP 404: The model `x` does not exist\.\) — name a model the server lists/,
    );
    assert.match(
      m(404, 'Not Found'),
      /\/v1\/chat\/completions was not found \(HTTP 404: Not Found\) — model endpoints must be OpenAI-compatible base URLs, usually ending in \/v1/,
    );
    assert.match(m(429), /is rate limiting requests \(HTTP 429\) — send fewer requests at once/);
    assert.match(m(502), /failed with HTTP 502 — the model server is overloaded or crashed; check its log/);
    assert.match(m(413), /too large/);
    assert.deepEqual(
      [400, 401, 404, 408, 409, 422, 429, 500, 503].map((s) => e(s).retryable),
      [false, false, false, true, true, false, true, true, true],
    );
    assert.deepEqual(
      [401, 403, 404, 400, 413, 422, 429, 500].map((s) => e(s).kind),
      ['model-auth', 'model-auth', 'model-endpoint', 'model-request', 'model-request', 'model-request', 'model-endpoint', 'model-endpoint'],
    );
    assert.deepEqual(
      [401, 404, 429].map((s) => e(s, 'model', 'x').fix?.setting),
      ['model.apiKey', 'model.name', 'eval.numWorkers'],
    );
    for (const s of [400, 401, 403, 404, 413, 422, 429, 500])
      assert.ok(!/codedance\.|--|CODEDANCE_/.test(m(s, 'model', 'x')), m(s, 'model', 'x'));
  });

  it('every model error is a CodeDanceError whose plain-JSON form keeps kind, retryable, fix and status', () => {
    const h = new ModelHttpError(401, { endpoint: EP, serverMessage: 'bad key' });
    assert.ok(h instanceof CodeDanceError && h instanceof ModelError);
    const info = JSON.parse(JSON.stringify(toErrorInfo(h)));
    assert.deepEqual(info, {
      name: 'ModelHttpError',
      message: h.message,
      kind: 'model-auth',
      retryable: false,
      reason: `${EP} rejected the API key (HTTP 401: bad key)`,
      fix: { text: 'set the API key for this endpoint', setting: 'model.apiKey' },
      code: 'HTTP 401',
      status: 401,
    });
    assert.deepEqual(JSON.parse(JSON.stringify(h)), info, 'JSON.stringify uses the same form');
    const c = toErrorInfo(new ModelConnectionError({ endpoint: EP, code: 'ECONNREFUSED' }));
    assert.equal(c.kind, 'model-endpoint');
    assert.equal(c.retryable, true);
    assert.equal(c.code, 'ECONNREFUSED');
    assert.equal(toErrorInfo(new ModelAbortedError()).kind, 'cancelled');
    assert.equal(toErrorInfo(new ModelResponseError({ endpoint: EP, detail: 'x' })).kind, 'model-response');
    assert.deepEqual(toErrorInfo(new TypeError('boom')), { name: 'TypeError', message: 'boom', kind: 'internal', retryable: false });
  });

  it('connection messages by cause', () => {
    assert.equal(
      new ModelConnectionError({ endpoint: EP, code: 'ECONNREFUSED' }).message,
      `cannot reach ${EP}: connection refused — is the model server (e.g. vLLM) running there? Check the endpoint URL`,
    );
    assert.match(
      new ModelConnectionError({ endpoint: 'http://nohost.invalid/v1', code: 'ENOTFOUND' }).message,
      /host not found \(ENOTFOUND\) — check the host name/,
    );
    assert.match(
      new ModelConnectionError({ endpoint: EP, code: 'ETIMEDOUT', timeoutMs: 30_000 }).message,
      /no answer from .* within 30 s \(timed out\)/,
    );
    assert.match(
      new ModelStreamError({ endpoint: EP, detail: 'terminated' }).message,
      /dropped the response stream mid-way \(terminated\) — check the model server's log/,
    );
    assert.equal(new ModelAbortedError().message, 'model request cancelled');
  });

  it('noteRetries says it once', () => {
    const e = new ModelHttpError(503, { endpoint: EP }).noteRetries(3).noteRetries(3);
    assert.equal(e.message, `${EP} failed with HTTP 503 (after 3 retries) — the model server is overloaded or crashed; check its log`);
    assert.equal(e.name, 'ModelHttpError');
  });

  it('redacts keys: configured keys, bearer tokens, sk- keys, URL passwords', () => {
    assert.equal(redactSecrets('key my-secret-key here', ['my-secret-key']), 'key *** here');
    assert.equal(redactSecrets('Authorization: Bearer abc.def-123'), 'Authorization: Bearer ***');
    assert.equal(redactSecrets('Incorrect API key provided: sk-proj-abcdef123456'), 'Incorrect API key provided: sk-***');
    assert.equal(redactSecrets('http://user:pw123@host/v1'), 'http://user:***@host/v1');
    assert.equal(redactSecrets('EMPTY stays', ['EMPTY']), 'EMPTY stays');
    const e = new ModelHttpError(401, {
      endpoint: 'http://u:hunter22@h/v1',
      serverMessage: 'you sent zz-top-secret-zz',
      secrets: ['zz-top-secret-zz'],
    });
    assert.ok(!e.message.includes('hunter22') && !e.message.includes('zz-top-secret-zz'), e.message);
    assert.ok(!e.serverMessage?.includes('zz-top-secret-zz'));
    assert.equal(e.endpoint, 'http://h/v1', 'shown without its credentials');
  });

  it('a server echoing the wrong key: the error keeps it out', async () => {
    const fm = await startFixtureModel({ apiKey: 'right-key-0000' });
    try {
      const c = new ModelClient({ endpoints: fm.baseUrl, apiKey: 'wrong-key-1234-abcd' });
      await assert.rejects(c.complete({ model: 'codedance-fixture-7b', messages: [{ role: 'user', content: 'hi' }] }), (e: unknown) => {
        assert.ok(e instanceof ModelHttpError && e.status === 401);
        assert.ok(!e.message.includes('wrong-key-1234-abcd'), e.message);
        assert.ok(!JSON.stringify(e).includes('wrong-key-1234-abcd'));
        assert.match(e.message, /rejected the API key \(HTTP 401: Incorrect API key provided: \*\*\*\.\)/);
        return true;
      });
      assert.equal(fm.requests[0].headers.authorization, 'Bearer wrong-key-1234-abcd', 'the key was sent as a bearer token');
      const ok = new ModelClient({ endpoints: [{ baseUrl: fm.baseUrl, apiKey: 'right-key-0000' }] });
      assert.match((await ok.complete({ model: 'codedance-fixture-7b', messages: [{ role: 'user', content: 'hi' }] })).content, /unknown/);
    } finally {
      await fm.close();
    }
  });

  it('classifies raw errors: abort wins, error codes found in cause chains, bodies of vLLM / OpenAI / FastAPI', () => {
    const ctrl = new AbortController();
    ctrl.abort();
    assert.ok(
      classifyError(new Error('x'), { endpoint: EP, secrets: [], signal: ctrl.signal, phase: 'stream' }) instanceof ModelAbortedError,
    );
    const nested = new TypeError('fetch failed', {
      cause: new AggregateError([Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })]),
    });
    assert.equal(findErrorCode(nested), 'ECONNREFUSED');
    assert.equal((classifyError(nested, { endpoint: EP, secrets: [], phase: 'request' }) as ModelConnectionError).code, 'ECONNREFUSED');
    assert.ok(classifyError(new TypeError('terminated'), { endpoint: EP, secrets: [], phase: 'stream' }) instanceof ModelStreamError);
    assert.equal(serverMessageFromBody('{"error":{"message":"m1"}}'), 'm1');
    assert.equal(serverMessageFromBody('{"object":"error","message":"m2","code":400}'), 'm2');
    assert.equal(serverMessageFromBody('{"detail":"m3"}'), 'm3');
    assert.equal(serverMessageFromBody('plain text'), 'plain text');
    assert.equal(serverMessageFromBody(''), undefined);
  });
});

describe('retry policy', () => {
  it('exponential back-off with equal jitter, capped', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((r) => backoffDelay(r, p, () => 0)),
      [50, 100, 200, 400, 500],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((r) => backoffDelay(r, p, () => 1)),
      [100, 200, 400, 800, 1000],
    );
  });

  it('parses retry-after-ms, retry-after seconds and dates', () => {
    assert.equal(parseRetryAfter(new Headers({ 'retry-after-ms': '250', 'retry-after': '9' })), 250);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': '2' })), 2000);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4000), 6000);
    assert.equal(parseRetryAfter(new Headers({ 'retry-after': 'soon' })), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });

  it('sleep rejects with ModelAbortedError on abort', async () => {
    const ctrl = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ctrl.abort(), 10);
    await assert.rejects(sleep(5000, ctrl.signal), ModelAbortedError);
    assert.ok(Date.now() - t0 < 1000);
  });
});
