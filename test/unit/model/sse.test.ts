/**
 * The JSON payloads of a streamed chat completion (src/core/model/sse.ts: eventsource-parser
 * underneath), on byte streams cut anywhere.
 */
import { strict as assert } from 'node:assert';
import { sseJson } from '../../../src/core/model/sse';

/** a body that arrives in exactly these pieces; `cancelled` says whether the reader cancelled it */
function body(pieces: Array<string | Uint8Array>): { stream: ReadableStream<Uint8Array>; cancelled: () => boolean } {
  const enc = new TextEncoder();
  let cancelled = false;
  let i = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < pieces.length) {
        const p = pieces[i++];
        c.enqueue(typeof p === 'string' ? enc.encode(p) : p);
      } else c.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled };
}

async function collect(pieces: Array<string | Uint8Array>, maxEventChars?: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const x of sseJson(body(pieces).stream, { maxEventChars })) out.push(x);
  return out;
}

describe('model: SSE payloads', () => {
  it('events end at an empty line with \\n, \\r\\n or \\r line breaks; comments, ids and unknown fields are skipped', async () => {
    assert.deepEqual(await collect([': keep-alive\ndata: {"a":1}\n\nevent: x\r\ndata: 2\r\nid: 7\r\nfoo: bar\r\n\r\ndata:3\r\r\n']), [
      { a: 1 },
      2,
      3,
    ]);
  });

  it('multi-line data is joined with \\n; a line or a \\r\\n split across chunks is put together; an unfinished event is dropped', async () => {
    assert.deepEqual(await collect(['data: {"a":\ndata: [1,2]}\n\nda', 'ta: "c"\r', '\n\r\n', 'data: "last"']), [{ a: [1, 2] }, 'c']);
  });

  it('yields each JSON payload in order, cut at any byte (a multi-byte character included), and stops at [DONE]', async () => {
    const text = 'data: {"t":"héllo"}\n\ndata: {"t":"wörld"}\n\ndata: [DONE]\n\ndata: {"t":"after"}\n\n';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      assert.deepEqual(await collect([bytes.slice(0, cut), bytes.slice(cut)]), [{ t: 'héllo' }, { t: 'wörld' }], `cut at ${cut}`);
    }
    assert.deepEqual(await collect(['data: {"n":1}\n\n', 'data: {"n":2}\n\n']), [{ n: 1 }, { n: 2 }]);
  });

  it('a payload that is not JSON throws a SyntaxError; a body without a body throws', async () => {
    await assert.rejects(collect(['data: {not json\n\n']), SyntaxError);
    await assert.rejects(sseJson(null).next(), /no body/);
  });

  it('an event longer than the limit ends the stream with an error instead of growing', async () => {
    const long = `data: "${'x'.repeat(5000)}"\n\n`;
    assert.equal(((await collect([long], 10_000))[0] as string).length, 5000);
    await assert.rejects(collect([long.slice(0, 2000), long.slice(2000)], 1000), /a server-sent event longer than 1000 characters/);
  });

  it('reads to the end after [DONE] (the connection can be reused); leaving early cancels the body', async () => {
    const done = body(['data: 1\n\ndata: [DONE]\n\n', ': trailing\n']);
    const got: unknown[] = [];
    for await (const x of sseJson(done.stream)) got.push(x);
    assert.deepEqual(got, [1]);
    assert.equal(done.cancelled(), false, 'read to its end, not cancelled');

    const early = body(['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: {"n":3}\n\n']);
    for await (const x of sseJson(early.stream)) {
      assert.deepEqual(x, { n: 1 });
      break;
    }
    assert.ok(early.cancelled());
  });
});
