/** The client side of bounded output images: the kernel's count of images past the limit becomes a note in stdout; images past the limit that still arrive are not kept. */
import { strict as assert } from 'node:assert';
import { classifyMessages, omittedImagesNote } from '../../../src/core/kernel/classify';
import { RESULT_MIME } from '../../../src/core/kernel/collector';
import { type JupyterMessage, makeHeader } from '../../../src/core/kernel/wire';

function msg(type: string, content: Record<string, unknown>): JupyterMessage {
  return { identities: [], header: makeHeader(type, 'k'), parent_header: {}, metadata: {}, content, buffers: [] };
}
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';
const img = (seq: number, extra: Record<string, unknown> = {}) =>
  msg('display_data', {
    data: { 'image/png': PNG_1x1 },
    metadata: { codedance: { kind: 'image', source: 'display', seq, width: 1, height: 1, ...extra } },
  });
const record = (extra: Record<string, unknown>) =>
  msg('display_data', {
    data: { [RESULT_MIME]: { kind: 'result', op: 'run', status: 'ok', count: 1, truncated: { stdout: 0, stderr: 0 }, ...extra } },
    metadata: {},
  });
const ctx = { timeoutMs: 30000, graceMs: 3000, durationMs: 1 };
const done = { kind: 'done' as const, reply: undefined };

describe('kernel: bounded output images (client side)', () => {
  it('says in stdout how many images the kernel did not send', () => {
    const r = classifyMessages(
      [msg('stream', { name: 'stdout', text: 'hi' }), img(1), img(2), record({ imagesOmitted: 998, maxImages: 2 })],
      done,
      ctx,
    );
    assert.equal(r.images.length, 2);
    assert.equal(r.omittedImages, 998);
    assert.equal(r.stdout, `hi\n${omittedImagesNote(998, 2)}\n`);
    assert.equal(
      omittedImagesNote(998, 2),
      '[998 more images were not shown: a cell returns at most 2 images; show fewer, or combine them into one image]',
    );
    assert.equal(
      omittedImagesNote(1, 16),
      '[1 more image was not shown: a cell returns at most 16 images; show fewer, or combine them into one image]',
    );
    assert.equal(r.stderr, '');
  });

  it("keeps at most maxImages of what arrives (a kernel that sent more) and counts the rest with the kernel's", () => {
    const r = classifyMessages(
      [
        img(1),
        img(2),
        img(3),
        msg('display_data', { data: { 'image/png': PNG_1x1 }, metadata: {} }),
        record({ imagesOmitted: 5, maxImages: 16 }),
      ],
      done,
      { ...ctx, maxImages: 2 },
    );
    assert.equal(r.images.length, 2);
    assert.equal(r.omittedImages, 7);
    assert.equal(r.stdout, `${omittedImagesNote(7, 2)}\n`);
  });

  it('no note when nothing was left out; an image the kernel resized says from what', () => {
    const r = classifyMessages([img(1, { width: 3556, height: 3556, originalWidth: 20000, originalHeight: 20000 }), record({})], done, {
      ...ctx,
      maxImages: 16,
    });
    assert.equal(r.stdout, '');
    assert.equal(r.omittedImages, undefined);
    assert.deepEqual(r.images[0].resizedFrom, { width: 20000, height: 20000 });
  });
});
