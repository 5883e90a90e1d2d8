/**
 * The model client's HTTP side (src/core/model/http.ts, over `fetch`), through `ModelClient`
 * with a stand-in `fetch`: what goes on the wire, and the answers that are not a clean chat
 * completion (a body that is not JSON, an error or a bad chunk inside a stream, a body that
 * stalls after its headers, a models list that is not one).
 */
import { strict as assert } from 'node:assert';
import { ModelConnectionError, ModelHttpError, ModelResponseError, ModelStreamError } from '../../../src/core/model/errors';
import { ModelClient, type ModelClientOptions } from '../../../src/core/model/ModelClient';
import type { ModelStreamEvent } from '../../../src/core/model/types';

const EP = 'http://model.test/v1';
const REQ = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
const FAST = { baseDelayMs: 1, maxDelayMs: 2 };

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: unknown;
}

/** a `fetch` answering each request with the next of `answers` (the last one repeats), recording what it was sent */
function fakeFetch(answers: Array<(signal: AbortSignal) => Response>): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const f = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    seen.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: { ...(init?.headers as Record<string, string>) },
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    });
    return answers[Math.min(seen.length, answers.length) - 1](init!.signal!);
  };
  return { fetch: f as typeof fetch, seen };
}

const sse =
  (...events: unknown[]) =>
  () =>
    new Response(events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join(''), {
      headers: { 'content-type': 'text/event-stream' },
    });
const chunk = (content: string, finish: string | null = null) => ({
  model: 'm',
  choices: [{ index: 0, delta: { content }, finish_reason: finish }],
});
const good = sse(chunk('Hel'), chunk('lo', 'stop'), '[DONE]');

async function events(c: ModelClient): Promise<ModelStreamEvent[]> {
  const out: ModelStreamEvent[] = [];
  for await (const e of c.stream(REQ)) out.push(e);
  return out;
}

const client = (f: typeof fetch, o: Partial<ModelClientOptions> = {}) => new ModelClient({ endpoints: EP, fetch: f, retry: FAST, ...o });

describe('model client: the HTTP side over fetch', () => {
  it('sends the bearer key, JSON and the accept type; the caller’s headers, then the endpoint’s, win', async () => {
    const completion = () =>
      Response.json({ model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'Hello' }, finish_reason: 'stop' }] });
    const { fetch: f, seen } = fakeFetch([good, completion]);
    const c = new ModelClient({
      endpoints: [{ baseUrl: EP, apiKey: 'k-1234567890', headers: { 'x-ep': 'e' } }],
      fetch: f,
      headers: { 'x-all': 'a', 'x-ep': 'lost' },
    });
    await events(c);
    assert.equal(seen[0].url, `${EP}/chat/completions`);
    assert.equal(seen[0].method, 'POST');
    assert.deepEqual(seen[0].headers, {
      accept: 'text/event-stream',
      'content-type': 'application/json',
      authorization: 'Bearer k-1234567890',
      'x-all': 'a',
      'x-ep': 'e',
    });
    assert.deepEqual(seen[0].body, { ...REQ, stream: true, stream_options: { include_usage: true } });
    await client(f).complete(REQ);
    assert.equal(seen[1].headers.accept, 'application/json');
    assert.equal(seen[1].headers.authorization, 'Bearer EMPTY', 'no key: the placeholder vLLM ignores');
  });

  it('a 200 whose body is not JSON: a ModelResponseError saying so, retried', async () => {
    const { fetch: f, seen } = fakeFetch([() => new Response('<html>proxy login</html>', { status: 200 })]);
    await assert.rejects(client(f, { retry: { ...FAST, maxRetries: 1 } }).complete(REQ), (e: unknown) => {
      assert.ok(e instanceof ModelResponseError, String(e));
      assert.match(
        e.message,
        /^http:\/\/model\.test\/v1 sent an unusable response \(the body is not JSON: '<html>proxy login<\/html>'\) \(after 1 retry\) — is it an OpenAI-compatible chat completions server\?/,
      );
      return true;
    });
    assert.equal(seen.length, 2);
  });

  it('an error payload inside a stream: a ModelStreamError with the server’s words, retried from scratch', async () => {
    const { fetch: f } = fakeFetch([sse(chunk('Hel'), { error: { message: 'engine overloaded', type: 'server_error' } }), good]);
    const ev = await events(client(f));
    const retry = ev.find((e) => e.type === 'retry') as Extract<ModelStreamEvent, { type: 'retry' }>;
    assert.ok(retry.error instanceof ModelStreamError);
    assert.match(retry.error.message, /dropped the response stream mid-way \(the server sent an error in the stream: engine overloaded\)/);
    assert.equal((ev.at(-1) as { content: string }).content, 'Hello');
  });

  it('a chunk that is not JSON: a ModelStreamError naming it', async () => {
    const { fetch: f } = fakeFetch([sse(chunk('a'), '{"choices": [')]);
    await assert.rejects(
      events(client(f, { retry: { ...FAST, maxRetries: 0 } })),
      (e: unknown) => e instanceof ModelStreamError && /a chunk was not valid JSON/.test(e.message),
    );
  });

  it('not streaming, the deadline covers the whole answer: headers sent, then a stalled body, is a timeout', async () => {
    const stalled = (signal: AbortSignal) =>
      new Response(
        new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode('{"choices":'));
            signal.addEventListener('abort', () => c.error(new DOMException('aborted', 'AbortError')));
          },
        }),
      );
    const { fetch: f } = fakeFetch([stalled]);
    const t0 = Date.now();
    await assert.rejects(client(f, { requestTimeoutMs: 150, retry: { ...FAST, maxRetries: 0 } }).complete(REQ), (e: unknown) => {
      assert.ok(e instanceof ModelConnectionError, String(e));
      assert.equal(e.code, 'ETIMEDOUT');
      assert.match(e.message, /no answer from http:\/\/model\.test\/v1 within 150 ms \(timed out\)/);
      return true;
    });
    assert.ok(Date.now() - t0 < 2000);
  });

  it('HTTP errors: status, the server’s message from the body, request id and retry-after; the key redacted', async () => {
    const { fetch: f } = fakeFetch([
      () =>
        new Response(JSON.stringify({ object: 'error', message: 'bad key sk-abcdefghijklmnop' }), {
          status: 401,
          headers: { 'x-request-id': 'req-9' },
        }),
      () => new Response('busy', { status: 429, headers: { 'retry-after': '1' } }),
    ]);
    const c = client(f, { apiKey: 'sk-abcdefghijklmnop', retry: { ...FAST, maxRetries: 0 } });
    await assert.rejects(c.complete(REQ), (e: unknown) => {
      assert.ok(e instanceof ModelHttpError && e.status === 401);
      assert.equal(e.requestId, 'req-9');
      assert.equal(e.message, `${EP} rejected the API key (HTTP 401: bad key ***) — set the API key for this endpoint`);
      return true;
    });
    await assert.rejects(
      c.complete(REQ),
      (e: unknown) => e instanceof ModelHttpError && e.status === 429 && e.retryAfterMs === 1000 && /HTTP 429: busy/.test(e.message),
    );
  });

  it('GET /models: the ids in order; an answer without a data list is a ModelResponseError', async () => {
    const { fetch: f, seen } = fakeFetch([
      () => Response.json({ object: 'list', data: [{ id: 'a' }, { id: 'b' }] }),
      () => Response.json({ models: [] }),
    ]);
    const c = client(f, { retry: { ...FAST, maxRetries: 0 } });
    assert.deepEqual(await c.listModels(), ['a', 'b']);
    assert.equal(seen[0].url, `${EP}/models`);
    assert.equal(seen[0].method, 'GET');
    await assert.rejects(
      c.listModels(),
      (e: unknown) => e instanceof ModelResponseError && /GET \/models sent no `data` list/.test(e.message),
    );
  });
});
