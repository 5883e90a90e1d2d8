import { strict as assert } from 'node:assert';
import { CellCollector, pngSize, preparedImages, RESULT_MIME } from '../../../src/core/kernel/collector';
import { KernelSessionError } from '../../../src/core/kernel/errors';
import type { ExecutionOutputEvent } from '../../../src/core/kernel/types';
import { type JupyterMessage, makeHeader } from '../../../src/core/kernel/wire';

function msg(type: string, content: Record<string, unknown>): JupyterMessage {
  return { identities: [], header: makeHeader(type, 'k'), parent_header: {}, metadata: {}, content, buffers: [] };
}
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';
const img = (source: string, seq: number) =>
  msg('display_data', { data: { 'image/png': PNG_1x1 }, metadata: { codedance: { kind: 'image', source, seq, width: seq, height: seq } } });

describe('kernel CellCollector', () => {
  it('orders images as the seed: last expression, figures, .show(), display', () => {
    const c = new CellCollector(1000);
    for (const m of [img('show', 1), img('figure', 2), img('display', 3), img('figure', 4), img('expression', 5)]) c.handle(m);
    assert.deepEqual(
      c.orderedImages().map((i) => `${i.source}:${i.width}`),
      ['expression:5', 'figure:2', 'figure:4', 'show:1', 'display:3'],
    );
  });

  it('untagged images (IPython display) count as display, after tagged ones; PNG size read from the header', () => {
    const c = new CellCollector(undefined);
    c.handle(msg('display_data', { data: { 'image/png': PNG_1x1, 'text/plain': '<PIL>' }, metadata: {} }));
    c.handle(img('display', 9));
    const out = c.orderedImages();
    assert.deepEqual(
      out.map((i) => i.width),
      [9, 1],
    );
    assert.deepEqual(pngSize(PNG_1x1), { width: 1, height: 1 });
  });

  it('an image sent as a binary frame: its base64 is made on first read and is then an ordinary string everywhere', () => {
    const bytes = Buffer.from(PNG_1x1, 'base64');
    const c = new CellCollector(undefined);
    c.handle({
      ...msg('display_data', {
        data: {},
        metadata: { codedance: { kind: 'image', source: 'show', seq: 1, buffer: 0, mime: 'image/png' } },
      }),
      buffers: [bytes],
    });
    const [im] = c.orderedImages();
    assert.deepEqual(
      { w: im.width, h: im.height, mime: im.mime, source: im.source },
      { w: 1, h: 1, mime: 'image/png', source: 'show' },
      'the size from the PNG bytes',
    );
    assert.equal(im.data, PNG_1x1);
    assert.equal({ ...im }.data, PNG_1x1);
    assert.equal(JSON.parse(JSON.stringify(im)).data, PNG_1x1);
    assert.equal(structuredClone(im).data, PNG_1x1);
    im.data = 'QUJD';
    assert.equal(im.data, 'QUJD', 'it can be replaced like any field');
  });

  it('collects streams, streams them live, and keeps the result record', () => {
    const events: ExecutionOutputEvent[] = [];
    const c = new CellCollector(1000, (e) => events.push(e));
    c.handle(msg('stream', { name: 'stdout', text: 'a' }));
    c.handle(msg('stream', { name: 'stderr', text: 'b' }));
    c.handle(msg('stream', { name: 'stdout', text: 'c' }));
    c.handle(msg('display_data', { data: { [RESULT_MIME]: { kind: 'result', op: 'run', status: 'ok', count: 3 } }, metadata: {} }));
    c.handle(msg('display_data', { data: { 'text/plain': '42' }, metadata: {} }));
    assert.equal(c.stdout, 'ac42\n');
    assert.equal(c.stderr, 'b');
    assert.equal(c.result?.count, 3);
    assert.deepEqual(
      events.map((e) => (e.kind === 'stream' ? e.name : 'image')),
      ['stdout', 'stderr', 'stdout', 'stdout'],
    );
  });

  it('caps output that bypasses the prelude and marks it', () => {
    const c = new CellCollector(10);
    c.handle(msg('stream', { name: 'stdout', text: 'x'.repeat(5000) }));
    c.handle(msg('stream', { name: 'stdout', text: 'y'.repeat(100) }));
    c.finish();
    assert.equal(c.clientDropped.stdout, 5100 - 4106);
    assert.match(c.stdout, /\[output truncated: 994 more bytes of stdout were not shown \(limit: 10 bytes per cell\)\]\n$/);
  });

  it("an inputs result's PNGs: from its binary frames (a local or server kernel) or its base64 (a notebook's kernel)", () => {
    const png = Buffer.from(PNG_1x1, 'base64');
    const c = new CellCollector(undefined);
    const size = { width: 1, height: 1, originalWidth: 2, originalHeight: 2 };
    const result = {
      kind: 'result',
      op: 'inputs',
      status: 'ok',
      prepared: [
        { ...size, pngBuffer: 1 },
        { ...size, pngBase64: 'QUJD' },
      ],
    };
    c.handle({ ...msg('display_data', { data: { [RESULT_MIME]: result }, metadata: {} }), buffers: [Buffer.from('other'), png] });
    assert.deepEqual(preparedImages(c.result!, c.resultBuffers), [
      { pngBase64: PNG_1x1, ...size },
      { pngBase64: 'QUJD', ...size },
    ]);
    // a frame that did not come: said, never an empty image
    assert.throws(
      () => preparedImages(c.result!, undefined),
      (e: unknown) => e instanceof KernelSessionError && /prepared input image #1 came without its bytes/.test((e as Error).message),
    );
  });
});
