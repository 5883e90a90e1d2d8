/**
 * Large WebSocket frames received into memory made ready beforehand (core/kernel/remote/frames.ts):
 * the byte stream `ws` sees is the socket's, byte for byte, whatever the chunking; a large
 * frame's payload comes as one buffer of exactly its size; a real `ws` connection reads the same
 * messages through it.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import WebSocket from 'ws';
import { FAST_PATHS_ENV } from '../../../src/core/kernel/fastPaths';
import {
  assembleLargeFrames,
  ASSEMBLE_MIN_BYTES,
  FrameAssembler,
  frameHeader,
  PREFAULT_MAX_BYTES,
  PrefaultedBuffers,
  TESTED_WS_VERSIONS,
  wsFramesCheck,
} from '../../../src/core/kernel/remote/frames';
import { FramesWebSocket, PromptAckWebSocket, serverSettings, WS_VERSION, wsFramesOff } from '../../../src/core/kernel/remote/server';

/** an RFC 6455 frame: FIN + opcode, the three length forms, masked when asked */
function frame(opcode: number, payload: Buffer, masked = false): Buffer {
  const n = payload.length;
  const len =
    n < 126
      ? Buffer.from([n])
      : n < 65536
        ? Buffer.from([126, n >> 8, n & 0xff])
        : Buffer.concat([
            Buffer.from([127]),
            (() => {
              const b = Buffer.alloc(8);
              b.writeBigUInt64BE(BigInt(n));
              return b;
            })(),
          ]);
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
    for (const [n, masked, headerBytes] of [
      [5, false, 2],
      [5, true, 6],
      [300, false, 4],
      [300, true, 8],
      [70000, false, 10],
      [70000, true, 14],
    ] as const) {
      const f = frame(2, Buffer.alloc(n), masked);
      assert.deepEqual(frameHeader(f), { headerBytes, payloadBytes: n });
      assert.equal(frameHeader(f.subarray(0, headerBytes - 1)), undefined);
    }
    assert.equal(frameHeader(Buffer.from([0x82])), undefined);
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`passes every byte through in order, whatever the chunking; large payloads come whole (seed ${seed})`, () => {
      const r = rng(seed);
      const frames: Array<{ bytes: Buffer; payload: Buffer }> = [];
      for (let i = 0; i < 14; i++) {
        const kind = r(4);
        const payload =
          kind === 0
            ? randomBytes(r(120))
            : kind === 1
              ? randomBytes(126 + r(5000))
              : kind === 2
                ? randomBytes(65536 + r(40000))
                : randomBytes(ASSEMBLE_MIN_BYTES + (r(3) === 0 ? 0 : r(900_000)));
        const bytes = frame(kind === 0 && r(2) ? 9 : 2, payload, r(5) === 0);
        frames.push({ bytes, payload });
      }
      const stream = Buffer.concat(frames.map((f) => f.bytes));
      const out: Buffer[] = [];
      const a = new FrameAssembler((c) => out.push(c));
      // chunks from 1 byte (headers split anywhere) to beyond a socket read
      for (let at = 0; at < stream.length;) {
        const n = [1, 2, 3, 7, 64, 1000, 65536, 70000][r(8)];
        a.push(stream.subarray(at, at + n));
        at += n;
      }
      assert.ok(Buffer.concat(out).equals(stream), 'the same bytes, in the same order');
      const whole = frames.filter((f) => f.payload.length >= ASSEMBLE_MIN_BYTES);
      for (const f of whole) {
        const body = f.bytes.subarray(f.bytes.length - f.payload.length);
        assert.ok(
          out.some((c) => c.length === body.length && c.equals(body)),
          `a ${f.payload.length}-byte payload came as one buffer`,
        );
      }
      assert.equal(a.assembled, whole.length);
    });
  }

  it('a large frame that a single read holds whole passes through as it is', () => {
    const out: Buffer[] = [];
    const a = new FrameAssembler((c) => out.push(c));
    const f = frame(2, randomBytes(ASSEMBLE_MIN_BYTES + 10));
    const stream = Buffer.concat([f, frame(1, Buffer.from('after'))]);
    a.push(stream);
    assert.ok(Buffer.concat(out).equals(stream));
    assert.ok(
      out.every((c) => c.buffer === stream.buffer),
      'views of the read, no copy',
    );
    assert.equal(a.assembled, 0);
  });

  it('a frame announcing more than memory is held ready for (up to 2^63) passes through: no allocation, no throw; ws refuses it (max payload)', async () => {
    const out: Buffer[] = [];
    const a = new FrameAssembler((c) => out.push(c));
    const huge = Buffer.from([0x82, 0x7f, 0, 0, 0, 2, 0, 0, 0, 0]); // 8 GiB
    const big = Buffer.concat([
      Buffer.from([0x82, 0x7f]),
      Buffer.from([
        0,
        0,
        0,
        0,
        0,
        ((PREFAULT_MAX_BYTES + 1) >>> 16) & 0xff,
        ((PREFAULT_MAX_BYTES + 1) >>> 8) & 0xff,
        (PREFAULT_MAX_BYTES + 1) & 0xff,
      ]),
    ]);
    for (const h of [huge, big]) {
      out.length = 0;
      const stream = Buffer.concat([h, randomBytes(70_000)]);
      a.push(stream.subarray(0, 5));
      a.push(stream.subarray(5));
      assert.ok(Buffer.concat(out).equals(stream));
    }
    assert.equal(a.assembled, 0);
    assert.deepEqual([a.memory.hits, a.memory.misses], [0, 0], 'nothing was allocated');

    // through a real ws connection: the client closes with 1009 (message too big), nothing throws
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    wss.on('connection', (_s, req) => req.socket.write(Buffer.concat([huge, randomBytes(1000)])));
    const ws = new FramesWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    let error = '';
    await new Promise<void>((resolve) => {
      ws.onerror = (e) => (error = e.message);
      ws.onclose = () => resolve();
    });
    assert.match(error, /Max payload size exceeded/);
    assert.ok(ws.frames);
    assert.deepEqual([ws.frames.assembled, ws.frames.memory.misses], [0, 0]);
    await new Promise((r) => wss.close(r));
  });

  it('a socket that closes mid-frame, paused with bytes buffered: ws still gets every byte, in order', async () => {
    const sock = new Duplex({
      read() {},
      write(_c, _e, cb) {
        cb();
      },
    });
    const a = assembleLargeFrames(sock);
    const got: Buffer[] = [];
    // like ws: a 'data' listener, and a 'close' listener that reads what the paused socket buffers
    sock.on('data', (c: Buffer) => got.push(c));
    sock.on('close', () => {
      if (sock.readableLength > 0) got.push(sock.read(sock.readableLength) as Buffer);
    });
    const f = frame(2, randomBytes(400_000));
    sock.push(f.subarray(0, 100_000));
    await nextImmediate();
    assert.equal(got.length, 1, 'the header went on; the payload is being assembled');
    sock.pause();
    sock.push(f.subarray(100_000, 250_000));
    await nextImmediate();
    assert.equal(sock.readableLength, 150_000, 'paused: the socket buffers it');
    sock.destroy();
    await new Promise((r) => sock.once('close', r));
    assert.ok(Buffer.concat(got).equals(f.subarray(0, 250_000)), 'the header, the 250 000 bytes received, in order');
    assert.equal(a.assembled, 0);
  });

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
    await nextImmediate();
    m.take(140_000); // what 300 KB made ready is more than twice that: not handed out
    assert.deepEqual([m.hits, m.misses], [2, 5]);
    await nextImmediate();
    m.take(140_000);
    assert.deepEqual([m.hits, m.misses], [3, 5]);
    assert.ok(
      second.every((x) => x === 1),
      'a later take does not touch what was handed out',
    );
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
    const ws = new FramesWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
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

describe('remote kernel: the fast path of ws is version-gated and switchable', () => {
  const proto = WebSocket.prototype;

  it('on for the ws versions it was tested with, when what it overrides is there', () => {
    assert.ok(
      TESTED_WS_VERSIONS.includes(WS_VERSION.split('.').slice(0, 2).join('.')),
      `the installed ws ${WS_VERSION} is a tested one (add it only after the remote suite passed on it)`,
    );
    assert.equal(wsFramesCheck(WS_VERSION, proto), undefined);
  });

  it('off, saying why, for another version or when its internals are not there', () => {
    assert.equal(wsFramesCheck('9.0.0', proto), `ws 9.0.0 is not a version it was tested with (${TESTED_WS_VERSIONS.join(', ')})`);
    assert.equal(wsFramesCheck(WS_VERSION, { binaryType: 'x' }), 'ws has no setSocket(socket, head, options)');
    const noAccessor = { setSocket(_a: unknown, _b: unknown, _c: unknown) {} };
    assert.equal(wsFramesCheck(WS_VERSION, noAccessor), 'ws has no binaryType accessor');
  });

  it('off with fastPaths: false or the environment switch: the settings use plain ws (no assembler, ArrayBuffers)', async () => {
    assert.match(wsFramesOff(false) ?? '', /turned off by the client/);
    const saved = process.env[FAST_PATHS_ENV];
    process.env[FAST_PATHS_ENV] = '0';
    try {
      assert.match(wsFramesOff() ?? '', /turned off by the client/);
      assert.equal(serverSettings({ url: 'http://127.0.0.1:1/' }).WebSocket, PromptAckWebSocket);
    } finally {
      if (saved === undefined) delete process.env[FAST_PATHS_ENV];
      else process.env[FAST_PATHS_ENV] = saved;
    }
    assert.equal(serverSettings({ url: 'http://127.0.0.1:1/', fastPaths: false }).WebSocket, PromptAckWebSocket);
    if (wsFramesOff() === undefined) assert.equal(serverSettings({ url: 'http://127.0.0.1:1/' }).WebSocket, FramesWebSocket);

    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    const image = randomBytes(300_000);
    wss.on('connection', (s) => s.send(image));
    const ws = new PromptAckWebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`);
    ws.binaryType = 'arraybuffer';
    try {
      const got = await new Promise<unknown>((resolve, reject) => {
        ws.onerror = (e) => reject(e.error);
        ws.onmessage = (e) => resolve(e.data);
      });
      assert.ok(got instanceof ArrayBuffer, 'plain ws hands out what was asked for');
      assert.ok(Buffer.from(got).equals(image));
      assert.equal(ws.frames, undefined, 'no assembler between the socket and ws');
    } finally {
      ws.close();
      await new Promise((r) => wss.close(r));
    }
  });
});
