/**
 * Large WebSocket frames received into memory made ready beforehand (core/kernel/remote/frames.ts):
 * the byte stream `ws` sees is the socket's, byte for byte, whatever the chunking; a large
 * frame's payload comes as one buffer of exactly its size; a real `ws` connection reads the same
 * messages through it.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { ASSEMBLE_MIN_BYTES, FrameAssembler, frameHeader, PrefaultedBuffers } from '../../../src/core/kernel/remote/frames';
import { PromptAckWebSocket } from '../../../src/core/kernel/remote/server';

/** an RFC 6455 frame: FIN + opcode, the three length forms, masked when asked */
function frame(opcode: number, payload: Buffer, masked = false): Buffer {
  const n = payload.length;
  const len = n < 126 ? Buffer.from([n]) : n < 65536 ? Buffer.from([126, n >> 8, n & 0xff]) : Buffer.concat([Buffer.from([127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  len[0] |= masked ? 0x80 : 0;
  const key = masked ? randomBytes(4) : Buffer.alloc(0);
  const body = masked ? Buffer.from(payload.map((x, i) => x ^ key[i % 4])) : payload;
  return Buffer.concat([Buffer.from([0x80 | opcode]), len, key, body]);
}

/** a seeded generator, so that a failure can be replayed */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
}

const nextImmediate = () => new Promise((r) => setImmediate(r));

describe('remote kernel: large WebSocket frames assembled as they arrive', () => {
  it('reads the three length forms of a header, masked or not, and says when it is not complete', () => {
    for (const [n, masked, headerBytes] of [[5, false, 2], [5, true, 6], [300, false, 4], [300, true, 8], [70000, false, 10], [70000, true, 14]] as const) {
      const f = frame(2, Buffer.alloc(n), masked);
      assert.deepEqual(frameHeader(f), { headerBytes, payloadBytes: n });
      assert.equal(frameHeader(f.subarray(0, headerBytes - 1)), undefined);
    }
    assert.equal(frameHeader(Buffer.from([0x82])), undefined);
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`passes every byte through in order, whatever the chunking; large payloads come whole (seed ${seed})`, () => {
      const r = rng(seed);
      const frames: Array<{ bytes: Buffer; payload: Buffer; large: boolean }> = [];
      for (let i = 0; i < 14; i++) {
        const kind = r(4);
        const payload = kind === 0 ? randomBytes(r(120)) : kind === 1 ? randomBytes(126 + r(5000)) : kind === 2 ? randomBytes(65536 + r(40000)) : randomBytes(ASSEMBLE_MIN_BYTES + r(900_000));
        const bytes = frame(kind === 0 && r(2) ? 9 : 2, payload, r(5) === 0);
        frames.push({ bytes, payload, large: payload.length >= ASSEMBLE_MIN_BYTES && bytes[1] < 0x80 });
      }
      const stream = Buffer.concat(frames.map((f) => f.bytes));
      const out: Buffer[] = [];
      const a = new FrameAssembler((c) => out.push(c));
      // chunks from 1 byte (headers split anywhere) to beyond a socket read
      for (let at = 0; at < stream.length; ) {
        const n = [1, 2, 3, 7, 64, 1000, 65536, 70000][r(8)];
        a.push(stream.subarray(at, at + n));
        at += n;
      }
      assert.ok(Buffer.concat(out).equals(stream), 'the same bytes, in the same order');
      const whole = frames.filter((f) => f.payload.length >= ASSEMBLE_MIN_BYTES);
      for (const f of whole) {
        const body = f.bytes.subarray(f.bytes.length - f.payload.length);
        assert.ok(out.some((c) => c.length === body.length && c.equals(body)), `a ${f.payload.length}-byte payload came as one buffer`);
      }
      assert.equal(a.assembled, whole.length);
    });
  }

  it('a frame with extension bits or an impossible length: everything passes through from there', () => {
    const out: Buffer[] = [];
    const a = new FrameAssembler((c) => out.push(c));
    const odd = frame(2, randomBytes(200_000));
    odd[0] |= 0x40; // RSV1: compression, which was not negotiated
    const next = frame(2, randomBytes(200_000));
    const stream = Buffer.concat([frame(1, Buffer.from('hi')), odd, next]);
    for (let at = 0; at < stream.length; at += 65536) a.push(stream.subarray(at, at + 65536));
    assert.ok(Buffer.concat(out).equals(stream));
    assert.equal(a.assembled, 0);
  });

  it('memory made ready after a large frame serves the next one; it follows the frames down and keeps none beyond its limit', async () => {
    const m = new PrefaultedBuffers(1024 * 1024);
    const first = m.take(300_000);
    assert.equal(first.length, 300_000);
    assert.deepEqual([m.hits, m.misses], [0, 1]);
    await nextImmediate();
    const second = m.take(300_000);
    assert.deepEqual([m.hits, m.misses], [1, 1], 'ready after the callback that took the first');
    assert.equal(second.length, 300_000);
    assert.notEqual(second.buffer, first.buffer, 'each take is its own memory');
    second.fill(1);
    await nextImmediate();
    const bigger = m.take(600_000);
    assert.deepEqual([m.hits, m.misses], [1, 2], '600 KB does not fit in what 300 KB made ready');
    await nextImmediate();
    m.take(600_000);
    assert.equal(m.hits, 2);
    assert.equal(bigger.length, 600_000);
    await nextImmediate();
    m.take(2 * 1024 * 1024); // beyond the limit: its own buffer, nothing made ready after it
    await nextImmediate();
    m.take(300_000);
    assert.deepEqual([m.hits, m.misses], [2, 4]);
    assert.ok(second.every((x) => x === 1), 'a later take does not touch what was handed out');
    m.dispose();
  });

  it('a real ws connection: binary messages arrive whole and intact (as Node Buffers), text as text, the large one assembled', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    const images = [randomBytes(700_000), randomBytes(700_000), randomBytes(300_000)];
    wss.on('connection', (s) => {
      s.send('hello');
      for (const img of images) s.send(img);
      s.send(Buffer.from([1, 2, 3]));
    });
    const ws = new PromptAckWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    ws.binaryType = 'arraybuffer'; // what @jupyterlab/services asks for
    const got: Array<Buffer | string> = [];
    await new Promise<void>((resolve, reject) => {
      ws.onerror = (e) => reject(e.error);
      ws.onmessage = (e) => {
        got.push(e.data as Buffer | string);
        if (got.length === 5) resolve();
      };
    });
    try {
      assert.equal(got[0], 'hello');
      for (let i = 0; i < 3; i++) {
        const b = got[i + 1] as Buffer;
        assert.ok(Buffer.isBuffer(b), 'binary messages stay Buffers (our deserializer reads them in place)');
        assert.ok(b.equals(images[i]), `message ${i + 1} intact`);
      }
      assert.deepEqual([...(got[4] as Buffer)], [1, 2, 3]);
      assert.ok(ws.frames, 'the assembler sits between the socket and ws');
      assert.ok(ws.frames.assembled >= 1, `assembled ${ws.frames.assembled}`);
      assert.equal(ws.binaryType, 'nodebuffer');
    } finally {
      ws.close();
      await new Promise((r) => wss.close(r));
    }
  });
});
