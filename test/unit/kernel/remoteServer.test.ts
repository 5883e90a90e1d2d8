/** Jupyter server URLs and tokens as the remote backend reads them (src/core/kernel/remote/server.ts). */
import { strict as assert } from 'node:assert';
import { ServerConnection } from '@jupyterlab/services';
import { deserializeV1, displayUrl, normalizeServerUrl, serverSettings, tokenFromUrl } from '../../../src/core/kernel/remote/server';

describe('remote kernel: server URL and token', () => {
  it('normalizes the base URL (one trailing slash, no query) and keeps a JupyterHub path', () => {
    assert.equal(normalizeServerUrl('http://127.0.0.1:8888'), 'http://127.0.0.1:8888/');
    assert.equal(normalizeServerUrl(' https://hub.example/user/ana// '), 'https://hub.example/user/ana/');
    assert.equal(normalizeServerUrl('http://h:8888/lab?token=abc'), 'http://h:8888/lab/');
  });

  it('rejects what is not an http(s) URL, saying what to give', () => {
    assert.throws(() => normalizeServerUrl('gpu-box:8888'), /must start with http:\/\/ or https:\/\/[\s\S]*Fix:/);
    assert.throws(() => normalizeServerUrl('not a url'), /is not a Jupyter server URL[\s\S]*Fix: give the base URL/);
  });

  it('takes the token printed in the URL when none is given; an explicit token wins; messages never show it', () => {
    assert.equal(tokenFromUrl('http://h:8888/?token=abc'), 'abc');
    assert.equal(serverSettings({ url: 'http://h:8888/?token=abc' }).token, 'abc');
    assert.equal(serverSettings({ url: 'http://h:8888/?token=abc', token: 'def' }).token, 'def');
    assert.equal(serverSettings({ url: 'https://h/x' }).wsUrl, 'wss://h/x/');
    assert.equal(displayUrl('http://u:pw@h:8888/?token=abc'), 'http://h:8888/');
  });
});

describe('remote kernel: the v1 WebSocket message reader', () => {
  const V1 = 'v1.kernel.websocket.jupyter.org';
  const standard = ServerConnection.makeSettings().serializer;
  const image = Buffer.alloc(300_000, 7);
  image[0] = 0x89;
  const msg = {
    channel: 'shell',
    header: { msg_id: 'a', msg_type: 'execute_reply', session: 's', username: '', date: '2026-11-29T00:00:00Z', version: '5.3' },
    parent_header: { msg_id: 'p' },
    metadata: { é: 'ü' },
    content: { status: 'ok', codedance: { count: 3, iopub: 0, images: [{ buffer: 0, mime: 'image/png' }] } },
    buffers: [new DataView(image.buffer, image.byteOffset, image.byteLength), new DataView(new Uint8Array([1, 2, 3]).buffer)],
  };

  it('reads what @jupyterlab/services reads, its buffers in place (no copy)', () => {
    const bin = standard.serialize(msg as never, V1) as ArrayBuffer;
    const theirs = standard.deserialize(bin, V1);
    const ours = deserializeV1(bin);
    const bytes = (b: unknown) => Buffer.from((b as DataView).buffer, (b as DataView).byteOffset, (b as DataView).byteLength);
    assert.deepEqual({ ...ours, buffers: undefined }, { ...theirs, buffers: undefined });
    assert.deepEqual(ours.buffers!.map(bytes), theirs.buffers!.map(bytes));
    assert.equal((ours.buffers![0] as DataView).buffer, bin, 'the image is a view on the received message');
  });

  it('reads a message that is a Node Buffer at an offset in a larger buffer (what the socket gives, frames.ts)', () => {
    const bin = Buffer.from(standard.serialize(msg as never, V1) as ArrayBuffer);
    const store = Buffer.alloc(bin.length + 4096, 0xee);
    bin.copy(store, 1000);
    const view = store.subarray(1000, 1000 + bin.length);
    const ours = deserializeV1(view);
    const theirs = standard.deserialize(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) as ArrayBuffer, V1);
    assert.deepEqual({ ...ours, buffers: undefined }, { ...theirs, buffers: undefined });
    const img = ours.buffers![0] as DataView;
    assert.equal(img.buffer, store.buffer, 'in place');
    assert.ok(Buffer.from(img.buffer, img.byteOffset, img.byteLength).equals(image));
  });

  it('the settings use it for v1 and the standard reader otherwise', () => {
    const s = serverSettings({ url: 'http://127.0.0.1:8888/', token: 't' });
    const bin = standard.serialize(msg as never, V1) as ArrayBuffer;
    assert.equal((s.serializer.deserialize(bin, V1).buffers![0] as DataView).buffer, bin);
    const legacy = JSON.stringify({ ...msg, buffers: [] });
    assert.equal(s.serializer.deserialize(legacy as never, '').header.msg_type, 'execute_reply');
    // a small message in a socket read: copied out, so that its image does not keep the whole read alive
    const small = Buffer.from(standard.serialize({ ...msg, buffers: [new Uint8Array([1, 2, 3]).buffer] } as never, V1) as ArrayBuffer);
    const read64k = Buffer.alloc(65536);
    small.copy(read64k, 100);
    const fromRead = s.serializer.deserialize(read64k.subarray(100, 100 + small.length) as never, V1).buffers![0] as DataView;
    assert.notEqual(fromRead.buffer, read64k.buffer);
    assert.deepEqual([...new Uint8Array(fromRead.buffer, fromRead.byteOffset, fromRead.byteLength)], [1, 2, 3]);
    // a binary message of the legacy protocol as a Buffer: the standard reader gets it alone, as an ArrayBuffer
    const legacyBin = Buffer.from(standard.serialize(msg as never, '') as ArrayBuffer);
    const padded = Buffer.concat([Buffer.alloc(16), legacyBin]).subarray(16);
    const read = s.serializer.deserialize(padded as never, '');
    assert.equal(read.header.msg_type, 'execute_reply');
    const b = read.buffers![0] as DataView;
    assert.ok(Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(image));
  });
});
