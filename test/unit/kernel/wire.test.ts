import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { KernelProtocolError } from '../../../src/core/kernel/errors';
import { DELIMITER, makeHeader, parse, PROTOCOL_VERSION, serialize, Signer } from '../../../src/core/kernel/wire';

const KEY = 'a0436f6c-1916-498b-8eb9-e81ab9368e84';

function frames(parts: Array<string | Buffer>): Buffer[] {
  return parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p));
}

describe('kernel wire: Jupyter message signing and parsing', () => {
  it('signs header, parent, metadata and content with HMAC-SHA256 in that order', () => {
    const s = new Signer(KEY);
    const parts = frames(['{"a":1}', '{}', '{}', '{"code":"1+1"}']);
    const expected = createHmac('sha256', KEY).update('{"a":1}').update('{}').update('{}').update('{"code":"1+1"}').digest('hex');
    assert.equal(s.sign(parts), expected);
    assert.equal(s.sign(parts).length, 64);
  });

  it('matches a signature computed the way jupyter_client does (hmac over the concatenation)', () => {
    // jupyter_client: h = hmac.HMAC(key, digestmod=sha256); for m in msg_list: h.update(m)
    const s = new Signer('secret');
    const list = frames(['h', 'p', 'm', 'c']);
    assert.equal(s.sign(list), createHmac('sha256', 'secret').update('hpmc').digest('hex'));
  });

  it('serializes [ids, <IDS|MSG>, signature, header, parent, metadata, content]', () => {
    const s = new Signer(KEY);
    const header = makeHeader('execute_request', 'sess-1');
    const out = serialize({ header, content: { code: 'x = 1' }, identities: [Buffer.from('id0')] }, s);
    assert.equal(out.length, 7);
    assert.equal(out[0].toString(), 'id0');
    assert.equal(out[1].toString(), DELIMITER);
    assert.equal(out[2].toString(), s.sign(out.slice(3)));
    assert.deepEqual(JSON.parse(out[3].toString()), header);
    assert.deepEqual(JSON.parse(out[4].toString()), {});
    assert.deepEqual(JSON.parse(out[5].toString()), {});
    assert.deepEqual(JSON.parse(out[6].toString()), { code: 'x = 1' });
  });

  it('headers carry a fresh msg_id, the session, the type, an ISO date and protocol 5.3', () => {
    const a = makeHeader('kernel_info_request', 'S');
    const b = makeHeader('kernel_info_request', 'S');
    assert.notEqual(a.msg_id, b.msg_id);
    assert.equal(a.session, 'S');
    assert.equal(a.msg_type, 'kernel_info_request');
    assert.equal(a.version, PROTOCOL_VERSION);
    assert.ok(!Number.isNaN(Date.parse(a.date)));
  });

  it('round-trips: parse(serialize(m)) gives the message back, with identities and buffers', () => {
    const s = new Signer(KEY);
    const header = makeHeader('display_data', 'k');
    const parent = makeHeader('execute_request', 'c');
    const wire = serialize(
      {
        header,
        parent_header: parent,
        metadata: { codedance: { source: 'figure' } },
        content: { data: { 'text/plain': 'é ✓' } },
        identities: [Buffer.from('topic')],
      },
      s,
    );
    const m = parse([...wire, Buffer.from([1, 2, 3])], s);
    assert.deepEqual(m.identities.map(String), ['topic']);
    assert.deepEqual(m.header, header);
    assert.deepEqual(m.parent_header, parent);
    assert.deepEqual(m.metadata, { codedance: { source: 'figure' } });
    assert.deepEqual(m.content, { data: { 'text/plain': 'é ✓' } });
    assert.deepEqual([...m.buffers[0]], [1, 2, 3]);
  });

  it('parses a message without identities (a Dealer receives no routing frame)', () => {
    const s = new Signer(KEY);
    const wire = serialize({ header: makeHeader('execute_reply', 'k'), content: { status: 'ok' } }, s);
    const m = parse(wire, s);
    assert.equal(m.identities.length, 0);
    assert.equal(m.content.status, 'ok');
  });

  it('rejects a tampered content frame', () => {
    const s = new Signer(KEY);
    const wire = serialize({ header: makeHeader('stream', 'k'), content: { text: 'hello' } }, s);
    wire[wire.length - 1] = Buffer.from('{"text":"HELLO"}');
    assert.throws(
      () => parse(wire, s),
      (e: unknown) =>
        e instanceof KernelProtocolError && /invalid HMAC signature/.test((e as Error).message) && /Fix:/.test((e as Error).message),
    );
  });

  it('rejects a message signed with another key', () => {
    const wire = serialize({ header: makeHeader('stream', 'k'), content: {} }, new Signer('other-key'));
    assert.throws(() => parse(wire, new Signer(KEY)), KernelProtocolError);
  });

  it('rejects a signature of the wrong length without throwing from timingSafeEqual', () => {
    const s = new Signer(KEY);
    const wire = serialize({ header: makeHeader('stream', 'k'), content: {} }, s);
    const d = wire.findIndex((f) => f.toString() === DELIMITER);
    wire[d + 1] = Buffer.from('abc');
    assert.throws(() => parse(wire, s), KernelProtocolError);
  });

  it('rejects frames without the delimiter, with too few frames, or with bad JSON', () => {
    const s = new Signer(KEY);
    assert.throws(() => parse(frames(['a', 'b', 'c']), s), /no '<IDS\|MSG>' delimiter/);
    assert.throws(() => parse(frames([DELIMITER, 'sig', '{}']), s), /expected at least 5/);
    const parts = frames(['{not json', '{}', '{}', '{}']);
    assert.throws(() => parse([Buffer.from(DELIMITER), Buffer.from(s.sign(parts)), ...parts], s), /invalid JSON header/);
  });

  it('an empty key disables signing (signature is empty, anything verifies)', () => {
    const s = new Signer('');
    assert.equal(s.enabled, false);
    const wire = serialize({ header: makeHeader('status', 'k'), content: { execution_state: 'idle' } }, s);
    const d = wire.findIndex((f) => f.toString() === DELIMITER);
    assert.equal(wire[d + 1].length, 0);
    assert.equal(parse(wire, s).content.execution_state, 'idle');
  });

  it('only hmac-* schemes are accepted', () => {
    assert.throws(() => new Signer(KEY, 'rsa'), /unsupported Jupyter signature scheme/);
    const s = new Signer(KEY, 'hmac-sha512');
    assert.equal(s.sign(frames(['a', 'b', 'c', 'd'])).length, 128);
  });
});
