import { strict as assert } from 'node:assert';
import { createServer } from 'node:net';
import type { ChatModel } from '../../../src/core/agent/model';
import { ModelClient, type ModelClientOptions } from '../../../src/core/model/ModelClient';
import { ModelAbortedError, ModelConnectionError, ModelHttpError, ModelStreamError } from '../../../src/core/model/errors';
import type { ModelStreamEvent } from '../../../src/core/model/types';
import { getProtocol } from '../../../src/core/protocol';
import { startFixtureModel, type FixtureModel, type FixtureModelOptions } from '../../fixtures/fixtureModel';

const FAST = { baseDelayMs: 2, maxDelayMs: 10 };
const QUESTION = 'How many red circles are there?';

async function collect(it: AsyncIterable<ModelStreamEvent>): Promise<ModelStreamEvent[]> {
  const out: ModelStreamEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('ModelClient against the fixture server', function () {
  this.timeout(10_000);
  let fm: FixtureModel;
  const servers: FixtureModel[] = [];
  async function start(o: FixtureModelOptions = {}): Promise<FixtureModel> {
    const s = await startFixtureModel(o);
    servers.push(s);
    return s;
  }
  const client = (o: Partial<ModelClientOptions> = {}) => new ModelClient({ endpoints: fm.baseUrl, retry: FAST, ...o });
  const codedance = getProtocol('codedance');
  const tools = getProtocol('codedance-tools');
  const req = (model = 'codedance-fixture-7b') => ({
    model,
    messages: codedance.initialMessages(QUESTION, ['QUFB']),
    ...codedance.defaultSampling,
  });
  const toolReq = () => ({
    model: 'codedance-fixture-7b',
    messages: tools.initialMessages(QUESTION, ['QUFB']),
    tools: tools.tools(),
    ...tools.defaultSampling,
  });

  beforeEach(async () => {
    fm = await start();
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  describe('streaming', () => {
    it('assembles content deltas into done.content, with start, finish and usage events', async () => {
      const events = await collect(client().stream(req()));
      assert.deepEqual(events[0], { type: 'start', endpoint: fm.baseUrl, attempt: 0 });
      const deltas = events.filter((e) => e.type === 'delta');
      assert.ok(deltas.length > 10, 'content arrives in many small deltas');
      const done = events.at(-1);
      assert.equal(done?.type, 'done');
      if (done?.type !== 'done') return;
      assert.equal(deltas.map((d) => (d as { text: string }).text).join(''), done.content);
      assert.match(done.content, /<code>\n```python\n[\s\S]*red_count[\s\S]*\n```\n<\/code>/);
      assert.equal(done.finishReason, 'stop');
      assert.equal(done.retries, 0);
      assert.equal(done.endpoint, fm.baseUrl);
      assert.equal(done.model, 'codedance-fixture-7b');
      assert.ok(done.usage && done.usage.totalTokens === done.usage.promptTokens + done.usage.completionTokens);
      assert.deepEqual(
        events.filter((e) => e.type === 'finish'),
        [{ type: 'finish', finishReason: 'stop' }],
      );
    });

    it('sends the messages as they are (max_pixels kept), the sampling, extra fields, stream_options; no tools key when none', async () => {
      await collect(client().stream({ ...req(), extra: { top_k: 5, repetition_penalty: 1.05 } }));
      const body = fm.chatRequests[0].body!;
      assert.deepEqual(body.messages, req().messages);
      assert.equal(
        JSON.stringify((body.messages as { content: unknown[] }[])[1].content[0]),
        '{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,QUFB"},"max_pixels":12845056}',
      );
      assert.equal(body.temperature, 0.01);
      assert.equal(body.top_p, 1);
      assert.equal(body.max_tokens, 2048);
      assert.equal(body.top_k, 5);
      assert.equal(body.repetition_penalty, 1.05);
      assert.equal(body.stream, true);
      assert.deepEqual(body.stream_options, { include_usage: true });
      assert.ok(!('tools' in body));
      await collect(client({ includeUsage: false }).stream(req()));
      assert.ok(!('stream_options' in fm.chatRequests[1].body!));
    });

    it('assembles tool calls from deltas split across chunks', async () => {
      const events = await collect(client().stream(toolReq()));
      const deltas = events.filter((e) => e.type === 'tool_call_delta');
      assert.ok(deltas.length > 5, `arguments stream in pieces (${deltas.length})`);
      const calls = events.filter((e) => e.type === 'tool_call');
      assert.equal(calls.length, 1);
      const done = events.at(-1) as Extract<ModelStreamEvent, { type: 'done' }>;
      assert.equal(done.finishReason, 'tool_calls');
      assert.equal(done.toolCalls.length, 1);
      const call = done.toolCalls[0];
      assert.match(call.id, /^chatcmpl-tool-/);
      assert.equal(call.function.name, 'execute_python_code');
      assert.match(JSON.parse(call.function.arguments).code, /red_count/);
      assert.ok(fm.chatRequests[0].body!.tools, 'tools sent');
      // the assembled turn parses with the protocol
      const parsed = tools.parse({ content: done.content, toolCalls: done.toolCalls });
      assert.equal(parsed.code.length, 1);
      assert.equal(parsed.code[0].toolCallId, call.id);
    });

    it('chat(): the agent loop interface, only delta / retry / done', async () => {
      const m: ChatModel = client();
      fm.setFaults(['cut']);
      const types = new Set<string>();
      for await (const e of m.chat(req(), {})) types.add(e.type);
      assert.deepEqual([...types].sort(), ['delta', 'done', 'retry']);
    });
  });

  describe('retries', () => {
    it('HTTP 500 twice, then success: two retry events and done.retries = 2', async () => {
      fm.setFaults([
        { kind: 'http', status: 500 },
        { kind: 'http', status: 503 },
      ]);
      const events = await collect(client().stream(req()));
      const retries = events.filter((e) => e.type === 'retry') as Extract<ModelStreamEvent, { type: 'retry' }>[];
      assert.deepEqual(
        retries.map((r) => [r.attempt, r.reason]),
        [
          [1, 'HTTP 500'],
          [2, 'HTTP 503'],
        ],
      );
      assert.ok(retries.every((r) => r.error instanceof ModelHttpError && r.delayMs >= 0 && r.delayMs <= 10));
      assert.equal((events.at(-1) as { retries: number }).retries, 2);
      assert.equal(fm.chatRequests.length, 3);
      assert.deepEqual(fm.chatRequests[2].body, fm.chatRequests[0].body, 'the identical request is sent again');
    });

    it('429 honours retry-after-ms', async () => {
      fm.setFaults([{ kind: 'rate-limit', retryAfterMs: 120 }]);
      const t0 = Date.now();
      const events = await collect(client().stream(req()));
      const retry = events.find((e) => e.type === 'retry') as Extract<ModelStreamEvent, { type: 'retry' }>;
      assert.equal(retry.delayMs, 120);
      assert.equal(retry.reason, 'HTTP 429');
      assert.ok(Date.now() - t0 >= 110);
      assert.equal(events.at(-1)?.type, 'done');
    });

    it('a stream cut mid-way: partial deltas, a retry event, then the whole answer from scratch', async () => {
      fm.setFaults([{ kind: 'cut', afterChunks: 6 }]);
      const events = await collect(client().stream(req()));
      const i = events.findIndex((e) => e.type === 'retry');
      assert.ok(i > 0);
      const before = events
        .slice(0, i)
        .filter((e) => e.type === 'delta')
        .map((e) => (e as { text: string }).text)
        .join('');
      assert.ok(before.length > 0, 'partial text arrived before the cut');
      const retry = events[i] as Extract<ModelStreamEvent, { type: 'retry' }>;
      assert.ok(retry.error instanceof ModelStreamError);
      assert.equal(retry.reason, 'stream dropped');
      const after = events
        .slice(i + 1)
        .filter((e) => e.type === 'delta')
        .map((e) => (e as { text: string }).text)
        .join('');
      const done = events.at(-1) as Extract<ModelStreamEvent, { type: 'done' }>;
      assert.equal(after, done.content, 'after the retry the text restarts: UIs reset on `retry`');
      assert.ok(done.content.startsWith(before));
      assert.equal(done.retries, 1);
    });

    it('a stream that stalls is dropped after streamIdleTimeoutMs and retried', async () => {
      fm.setFaults([{ kind: 'stall', afterChunks: 3 }]);
      const events = await collect(client({ streamIdleTimeoutMs: 150 }).stream(req()));
      const retry = events.find((e) => e.type === 'retry') as Extract<ModelStreamEvent, { type: 'retry' }>;
      assert.ok(retry.error instanceof ModelStreamError);
      assert.match(retry.error.message, /dropped the response stream mid-way \(no data for 150 ms\)/);
      assert.equal(events.at(-1)?.type, 'done');
    });

    it('a server that never answers: header timeout (streaming) / request timeout (not streaming), ETIMEDOUT, retried', async () => {
      fm.setFaults(['hang']);
      let retried = 0;
      const r = await client({ requestTimeoutMs: 200, headersTimeoutMs: 60_000 }).complete(req(), {
        onRetry: (e) => (retried++, assert.ok(e.error instanceof ModelConnectionError && e.error.code === 'ETIMEDOUT')),
      });
      assert.equal(retried, 1);
      assert.match(r.content, /<code>/);
      fm.setFaults(['hang']);
      const events = await collect(client({ headersTimeoutMs: 200, requestTimeoutMs: 60_000 }).stream(req()));
      const retry = events.find((e) => e.type === 'retry') as Extract<ModelStreamEvent, { type: 'retry' }>;
      assert.ok(retry.error instanceof ModelConnectionError);
      assert.equal((retry.error as ModelConnectionError).code, 'ETIMEDOUT');
      assert.equal(events.at(-1)?.type, 'done');
    });

    it('gives up after maxRetries with the last error, saying how often it tried', async () => {
      fm.setFaults(['http', 'http', 'http', 'http']);
      await assert.rejects(collect(client({ retry: { ...FAST, maxRetries: 2 } }).stream(req())), (e: unknown) => {
        assert.ok(e instanceof ModelHttpError);
        assert.equal(e.status, 500);
        assert.equal(e.retries, 2);
        assert.match(
          e.message,
          /failed with HTTP 500: fixture: injected HTTP 500 \(after 2 retries\) — the model server is overloaded or crashed; check its log/,
        );
        return true;
      });
      assert.equal(fm.chatRequests.length, 3);
    });

    it('does not retry a 400', async () => {
      fm.setFaults([{ kind: 'http', status: 400, message: "This model's maximum context length is 32768 tokens" }]);
      await assert.rejects(collect(client().stream(req())), (e: unknown) => {
        assert.ok(e instanceof ModelHttpError && e.status === 400 && !e.retryable);
        assert.match(
          e.message,
          /rejected the request \(HTTP 400: This model's maximum context length is 32768 tokens\) — the conversation may exceed the model's context length/,
        );
        return true;
      });
      assert.equal(fm.chatRequests.length, 1);
    });

    it('an unknown model: 404 naming the model and the fix, not retried', async () => {
      await assert.rejects(
        collect(client().stream(req('gpt-nope'))),
        /model 'gpt-nope' is not served at http:\/\/127\.0\.0\.1:\d+\/v1 \(HTTP 404: The model `gpt-nope` does not exist\.\) — name a model the server lists/,
      );
      assert.equal(fm.chatRequests.length, 1);
    });

    it('connection refused: retried, then a ModelConnectionError naming the URL and the fix', async () => {
      const url = `http://127.0.0.1:${await deadPort()}/v1`;
      const c = new ModelClient({ endpoints: url, retry: { ...FAST, maxRetries: 1 } });
      const events: ModelStreamEvent[] = [];
      await assert.rejects(
        (async () => {
          for await (const e of c.stream(req())) events.push(e);
        })(),
        (e: unknown) => {
          assert.ok(e instanceof ModelConnectionError);
          assert.equal(e.code, 'ECONNREFUSED');
          assert.equal(
            e.message,
            `cannot reach ${url}: connection refused (after 1 retry) — is the model server (e.g. vLLM) running there? Check the endpoint URL`,
          );
          assert.equal(e.fix?.setting, 'model.endpoints');
          return true;
        },
      );
      assert.equal(events.filter((e) => e.type === 'retry').length, 1);
    });
  });

  describe('abort', () => {
    it('mid-stream: throws ModelAbortedError promptly and closes the connection', async () => {
      fm = await start({ chunkDelayMs: 5 });
      const ctrl = new AbortController();
      const t0 = Date.now();
      let deltas = 0;
      await assert.rejects(
        (async () => {
          for await (const e of client().stream(req(), { signal: ctrl.signal })) {
            if (e.type === 'delta' && ++deltas === 3) ctrl.abort();
          }
        })(),
        ModelAbortedError,
      );
      assert.ok(Date.now() - t0 < 1000);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(fm.inFlight, 0, 'the server saw the request go away');
    });

    it('during the back-off wait', async () => {
      fm.setFaults([{ kind: 'rate-limit', retryAfterMs: 5000 }]);
      const ctrl = new AbortController();
      const t0 = Date.now();
      await assert.rejects(
        (async () => {
          for await (const e of client({ retry: { maxRetryAfterMs: 10_000 } }).stream(req(), { signal: ctrl.signal }))
            if (e.type === 'retry') setTimeout(() => ctrl.abort(), 20);
        })(),
        ModelAbortedError,
      );
      assert.ok(Date.now() - t0 < 2000);
    });

    it('an already-aborted signal sends nothing', async () => {
      const ctrl = new AbortController();
      ctrl.abort();
      await assert.rejects(collect(client().stream(req(), { signal: ctrl.signal })), ModelAbortedError);
      assert.equal(fm.chatRequests.length, 0);
    });

    it('leaving the for-await early closes the request and frees the endpoint', async () => {
      fm = await start({ chunkDelayMs: 5 });
      const c = client();
      for await (const e of c.stream(req())) if (e.type === 'delta') break;
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(fm.inFlight, 0);
      assert.equal(c.pool.stats()[0].inFlight, 0);
    });
  });

  describe('complete() and models', () => {
    it('non-streaming: no stream flag sent, tool calls and usage returned', async () => {
      const r = await client().complete(toolReq());
      const body = fm.chatRequests[0].body!;
      assert.ok(!('stream' in body) && !('stream_options' in body));
      assert.equal(r.finishReason, 'tool_calls');
      assert.equal(r.toolCalls[0].function.name, 'execute_python_code');
      assert.ok(r.usage!.totalTokens > 0);
      assert.equal(r.retries, 0);
    });

    it('non-streaming retries too (a cut before the body)', async () => {
      fm.setFaults(['cut', 'http']);
      const seen: string[] = [];
      const r = await client().complete(req(), { onRetry: (e) => seen.push(e.reason) });
      assert.equal(r.retries, 2);
      assert.equal(seen.length, 2);
      assert.match(r.content, /<code>/);
    });

    it('listModels and resolveModel: the first id of GET /models unless a name is given', async () => {
      fm = await start({ models: ['first-model', 'second-model'] });
      const c = client();
      assert.deepEqual(await c.listModels(), ['first-model', 'second-model']);
      assert.equal(await c.resolveModel(), 'first-model');
      assert.equal(await c.resolveModel('  explicit '), 'explicit');
      assert.equal(fm.requests.filter((r) => r.path === '/v1/models').length, 2);
    });

    it('resolveModel tries the next endpoint when the first is down', async () => {
      const dead = `http://127.0.0.1:${await deadPort()}/v1`;
      const c = new ModelClient({ endpoints: [dead, fm.baseUrl], retry: { ...FAST, maxRetries: 0 } });
      assert.equal(await c.resolveModel(), 'codedance-fixture-7b');
    });
  });
});
