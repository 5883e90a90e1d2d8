/**
 * The webview protocols (src/protocol): each message type comes from its valibot schema; a
 * malformed message is refused at the extension's boundary with the field it got wrong, runs no
 * handler, and is answered under its id; every request gets exactly one reply, typed by the
 * protocol's response map, on both ends (the extension's router, the webview's messenger).
 */
import { strict as assert } from 'node:assert';
import type * as v from 'valibot';
import { chatRequest, type ChatResponses, type FromWebview, type WebviewRequest } from '../../../src/protocol/chat';
import { datasetRequest, type DatasetResponses, type FromDataset } from '../../../src/protocol/dataset';
import { parseRequest, type Reply } from '../../../src/protocol/messages';
import { reportRequest, type FromReport, type ReportResponses, type ReportSample } from '../../../src/protocol/report';
import { routeRequests } from '../../../src/extension/webviewRequests';
import { Messenger } from '../../../src/webview/messenger';

// ---- compile time: the types are the schemas' (tsc -b checks this file) ----
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typesFromSchemas: [
  Equals<FromWebview, v.InferOutput<typeof chatRequest>>,
  Equals<FromReport, v.InferOutput<typeof reportRequest>>,
  Equals<FromDataset, v.InferOutput<typeof datasetRequest>>,
  // one request, spelled out: the schema's fields with their types, the id, the literal type
  Equals<
    Extract<FromWebview, { type: 'approval' }>,
    { type: 'approval'; id: string; run: string; cellId: string; reply: { action: 'run' | 'skip' } | { action: 'edit'; code: string } }
  >,
  // each protocol's response map answers exactly its requests
  Equals<keyof ChatResponses, FromWebview['type']>,
  Equals<keyof ReportResponses, FromReport['type']>,
  Equals<keyof DatasetResponses, FromDataset['type']>,
] = [true, true, true, true, true, true, true];
// @ts-expect-error a fork without its code is not a request
const _noCode: WebviewRequest = { type: 'fork', index: 0, cellId: 't0-c0' };
// @ts-expect-error nor is a request type the schema does not have
const _noSuchType: WebviewRequest = { type: 'exec', code: 'rm -rf /' };

function refused(what: string, schema: Parameters<typeof parseRequest>[1], raw: unknown): { error: string; id?: string } {
  const r = parseRequest(what, schema, raw);
  assert.ok(!r.ok, `should be refused: ${JSON.stringify(raw)}`);
  return r;
}

describe('webview protocols (src/protocol)', () => {
  it('the message types are derived from the schemas (a compile-time check)', () => {
    assert.ok(typesFromSchemas.every(Boolean));
  });

  describe('a malformed message is refused with the field it got wrong', () => {
    it('chat: wrong type, too long, nested field, missing id, unknown request', () => {
      const wrongType = refused('chat view', chatRequest, { id: 'a-1', type: 'ask', question: 3 });
      assert.match(wrongType.error, /^invalid chat view message 'ask': question: Invalid type: Expected string but received 3$/);
      assert.equal(wrongType.id, 'a-1', 'the id is kept, so that the webview can be told');
      assert.match(
        refused('chat view', chatRequest, { id: 'a-1', type: 'ask', question: 'q'.repeat(100_001) }).error,
        /question: Invalid length: Expected <=100000 but received 100001/,
      );
      assert.match(
        refused('chat view', chatRequest, { id: 'a-1', type: 'approval', run: 'a-0', cellId: 't0-c0', reply: { action: 'edit' } }).error,
        /'approval': reply\.code: Invalid key/,
      );
      assert.match(
        refused('chat view', chatRequest, { id: 'a-1', type: 'history', action: 'open', conversationId: '../x' }).error,
        /conversationId: expected 1 to 100 word characters or dashes/,
      );
      const noId = refused('chat view', chatRequest, { type: 'stop' });
      assert.match(noId.error, /'stop': id: Invalid key/);
      assert.equal(noId.id, undefined);
      assert.match(
        refused('chat view', chatRequest, { id: 'a-1', type: 'exec', code: 'x' }).error,
        /^invalid chat view message 'exec': type: Invalid type: Expected \("ready" \| "ask" \|/,
      );
      assert.match(
        refused('chat view', chatRequest, null).error,
        /^invalid chat view message: the message: Invalid type: Expected Object but received null$/,
      );
      assert.equal(refused('chat view', chatRequest, { id: 'a b', type: 'stop' }).id, undefined, 'an invalid id is not echoed');
    });

    it('report and dataset viewer: every field checked, nested ones by their path', () => {
      assert.match(
        refused('eval report', reportRequest, { id: 'r-1', type: 'sample', run: 'C', index: 1 }).error,
        /'sample': run: Invalid type: Expected \("A" \| "B"\) but received "C"/,
      );
      assert.match(
        refused('eval report', reportRequest, { id: 'r-1', type: 'export', run: 'A', indexes: [1, -2] }).error,
        /indexes\.1: Invalid value: Expected >=0 but received -2/,
      );
      assert.match(
        refused('dataset viewer', datasetRequest, { id: 'd-1', type: 'page', page: 1.5 }).error,
        /'page': page: Invalid integer/,
      );
      assert.match(
        refused('dataset viewer', datasetRequest, { id: 'd-1', type: 'filter', seq: 2, filter: { minToolCalls: '3' } }).error,
        /'filter': filter\.minToolCalls: Invalid type: Expected number but received "3"/,
      );
    });

    it('a valid message passes as its schema reads it: unknown fields dropped', () => {
      const r = parseRequest('chat view', chatRequest, {
        id: 'a-1',
        type: 'approval',
        run: 'a-0',
        cellId: 't0-c0',
        reply: { action: 'edit', code: 'x', extra: 1 },
        injected: true,
      });
      assert.deepEqual(r, {
        ok: true,
        request: { type: 'approval', id: 'a-1', run: 'a-0', cellId: 't0-c0', reply: { action: 'edit', code: 'x' } },
      });
    });
  });

  describe("the extension's router (webviewRequests.ts)", () => {
    function router(handlers: Partial<Record<FromReport['type'], (m: never) => unknown>>, guard?: (m: FromReport) => void) {
      const replies: Reply[] = [];
      const warnings: string[] = [];
      const ran: string[] = [];
      const all = Object.fromEntries(
        (['ready', 'sample', 'openInChat', 'pickB', 'export'] as const).map((k) => [
          k,
          (m: FromReport) => (ran.push(k), (handlers[k] as ((m: FromReport) => unknown) | undefined)?.(m)),
        ]),
      );
      const route = routeRequests<FromReport, ReportResponses>(
        {
          what: 'eval report',
          schema: reportRequest,
          log: { warn: (m) => warnings.push(m), error: () => undefined },
          reply: (m) => replies.push(m),
          guard,
        },
        all as never,
      );
      return { route, replies, warnings, ran };
    }

    it('a malformed message runs no handler; it is logged, and answered under its id with the field named', async () => {
      const r = router({});
      await r.route({ id: 'r-1', type: 'sample', run: 'A', index: '3' });
      assert.deepEqual(r.ran, []);
      assert.equal(r.replies.length, 1);
      const reply = r.replies[0];
      assert.ok(reply.type === 'reply' && !reply.ok && reply.replyTo === 'r-1');
      assert.match(reply.error, /invalid eval report message 'sample': index: Invalid type: Expected number but received "3"/);
      assert.match(r.warnings[0], /index: Invalid type/);
      await r.route({ type: 'pickB' });
      assert.equal(r.replies.length, 1, 'no id: nobody to answer');
      assert.deepEqual(r.ran, []);
    });

    it("a request gets its handler's response, or its error, under its id", async () => {
      const sample = { index: 3, run: 'A' } as ReportSample;
      const r = router({ sample: () => sample, openInChat: () => Promise.reject(new Error('sample 9 is not in run A')) });
      await r.route({ id: 'r-1', type: 'sample', run: 'A', index: 3 });
      await r.route({ id: 'r-2', type: 'openInChat', run: 'A', index: 9 });
      assert.deepEqual(r.replies, [
        { type: 'reply', replyTo: 'r-1', ok: true, data: sample },
        { type: 'reply', replyTo: 'r-2', ok: false, error: 'sample 9 is not in run A' },
      ]);
    });

    it('a guard refuses a request before its handler runs', async () => {
      const r = router({}, (m) => {
        if (m.type !== 'ready') throw new Error('not now');
      });
      await r.route({ id: 'r-1', type: 'pickB' });
      await r.route({ id: 'r-2', type: 'ready' });
      assert.deepEqual(r.ran, ['ready']);
      assert.deepEqual(
        r.replies.map((m) => (m.ok ? 'ok' : m.error)),
        ['not now', 'ok'],
      );
    });
  });

  describe("the webview's messenger", () => {
    it('sends each request under a fresh id and settles it with its reply', async () => {
      const sent: FromDataset[] = [];
      const errors: string[] = [];
      const m = new Messenger<FromDataset, DatasetResponses>({ postMessage: (x) => sent.push(x) }, (e) => errors.push(e));
      const page = m.request({ type: 'page', page: 2 });
      const row = m.request({ type: 'row', index: 7 });
      assert.equal(sent.length, 2);
      assert.notEqual(sent[0].id, sent[1].id);
      assert.deepEqual({ ...sent[0], id: undefined }, { type: 'page', page: 2, id: undefined });
      assert.ok(m.settle({ type: 'reply', replyTo: sent[1].id, ok: false, error: 'row 7: no such row' }));
      assert.ok(m.settle({ type: 'reply', replyTo: sent[0].id, ok: true, data: [] }));
      assert.deepEqual(await page, []);
      await assert.rejects(row, /row 7: no such row/);
      assert.equal(m.settle({ type: 'reply', replyTo: sent[0].id, ok: true, data: [] }), false, 'one reply per request');
      const id = m.send({ type: 'verify' });
      assert.equal(sent.at(-1)?.id, id);
      m.settle({ type: 'reply', replyTo: id, ok: false, error: 'verify: no kernel' });
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(errors, ['verify: no kernel'], 'the error of a request nobody awaits is shown');
    });
  });
});
