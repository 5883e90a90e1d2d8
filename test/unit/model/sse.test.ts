/** The SSE reader of streamed chat completions (src/core/model/sse.ts), on byte streams cut anywhere. */
import { strict as assert } from 'node:assert';
import { APIError } from 'openai';
import { SseDecoder, sseJson } from '../../../src/core/model/sse';

/** a Response whose body arrives in exactly these pieces */
function response(pieces: Array<string | Uint8Array>): Response {
  const enc = new TextEncoder();
  return new Response(
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of pieces) c.enqueue(typeof p === 'string' ? enc.encode(p) : p);
        c.close();
      },
    }),
  );
}

async function collect(pieces: Array<string | Uint8Array>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const x of sseJson(response(pieces), new AbortController())) out.push(x);
  return out;
}

describe('model: SSE reader', () => {
  it('events end at an empty line with \\n, \\r\\n or \\r line breaks; comments and unknown fields are skipped', () => {
    const d = new SseDecoder();
    assert.deepEqual(d.push(': keep-alive\ndata: {"a":1}\n\nevent: x\r\ndata: 2\r\nid: 7\r\n\r\ndata:3\r\r\n'), [
      { event: null, data: '{"a":1}' },
      { event: 'x', data: '2' },
      { event: null, data: '3' },
    ]);
  });

  it('multi-line data is joined with \\n; a line or a \\r\\n split across chunks is put together', () => {
    const d = new SseDecoder();
    assert.deepEqual(d.push('data: a\ndata: b\n\nda'), [{ event: null, data: 'a\nb' }]);
    assert.deepEqual(d.push('ta: c\r'), []);
    assert.deepEqual(d.push('\n\r\n'), [{ event: null, data: 'c' }]);
    assert.deepEqual(d.push('data: last', true), [], 'an event without its empty line is not complete');
  });

  it('yields each JSON payload in order, cut at any byte (a multi-byte character included), and stops at [DONE]', async () => {
    const text = 'data: {"t":"héllo"}\n\ndata: {"t":"wörld"}\n\ndata: [DONE]\n\ndata: {"t":"after"}\n\n';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(await collect([bytes.slice(0, cut), bytes.slice(cut)]), [{ t: 'héllo' }, { t: 'wörld' }], `cut at ${cut}`);
    }
    assert.deepEqual(await collect(['data: {"n":1}\n\n', 'data: {"n":2}\n\n']), [{ n: 1 }, { n: 2 }]);
  });

  it("an error payload throws the SDK's APIError; bad JSON throws", async () => {
    await assert.rejects(collect(['data: {"error":{"message":"overloaded","type":"server_error"}}\n\n']), (e: unknown) => e instanceof APIError && /overloaded/.test((e as Error).message));
    await assert.rejects(collect(['data: {not json\n\n']), SyntaxError);
  });

  it('an abort ends the stream quietly; leaving early aborts the request', async () => {
    const ctrl = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('data: {"n":1}\n\n'));
        ctrl.signal.addEventListener('abort', () => c.error(Object.assign(new Error('aborted'), { name: 'AbortError' })));
      },
    });
    const got: unknown[] = [];
    for await (const x of sseJson(new Response(body), ctrl)) {
      got.push(x);
      ctrl.abort();
    }
    assert.deepEqual(got, [{ n: 1 }]);

    const early = new AbortController();
    for await (const x of sseJson(response(['data: {"n":1}\n\ndata: {"n":2}\n\n']), early)) {
      assert.deepEqual(x, { n: 1 });
      break;
    }
    assert.ok(early.signal.aborted);
  });
});
