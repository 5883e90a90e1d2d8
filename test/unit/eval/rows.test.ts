/**
 * Which failures skip a row (as the seed drops it) and which are a sample's error: only the
 * kernel's "could not read the input image" before the first model call skips; a kernel that
 * died or timed out while preparing the image is an error like any other (retried, recorded).
 */
import { strict as assert } from 'node:assert';
import type { DatasetSample } from '../../../src/core/data/types';
import { imageLoadFailure, skipBeforeRun, skippedSampleRecord } from '../../../src/core/eval';
import type { Trajectory } from '../../../src/core/trajectory/types';

const sample = (over: Partial<DatasetSample> = {}): DatasetSample => ({
  index: 3,
  dataSource: 'vstar',
  question: 'q',
  answer: 'a',
  images: [Uint8Array.from([1, 2, 3])],
  imageSource: '/data/set.parquet: row 3 (inline bytes)',
  ...over,
});
const failed = (message: string, over: Partial<Trajectory> = {}) =>
  ({ status: 'error', turns: [], inputImages: [], error: { name: 'KernelSessionError', message }, ...over }) as unknown as Trajectory;
const PIL =
  'the input image could not be prepared: ValueError: input image #1 could not be read: UnidentifiedImageError: cannot identify image file <_io.BytesIO object at 0x7f>\nFix: pass a PNG, JPEG, GIF, BMP or WebP file that Pillow can open';

describe('eval rows: what is skipped', () => {
  it("Pillow's refusal before the first model call: skipped, naming the image's source, the kernel's cause without its fix line", () => {
    assert.equal(
      imageLoadFailure(sample(), failed(PIL)),
      'image /data/set.parquet: row 3 (inline bytes) could not be loaded: UnidentifiedImageError: cannot identify image file <_io.BytesIO object at 0x7f>',
    );
  });

  it('not an image failure: a kernel that died or timed out, an error after a model call, a row without images', () => {
    assert.equal(
      imageLoadFailure(
        sample(),
        failed('the Python kernel exited (SIGKILL) while preparing the input image(s)\nFix: the image may be too large'),
      ),
      undefined,
    );
    assert.equal(imageLoadFailure(sample(), failed('preparing the input image(s) in the kernel took more than 60 s')), undefined);
    assert.equal(imageLoadFailure(sample(), failed(PIL, { turns: [{}] as never })), undefined);
    assert.equal(imageLoadFailure(sample({ images: [] }), failed(PIL)), undefined);
    assert.equal(imageLoadFailure(sample(), failed(PIL, { status: 'max_turns' } as never)), undefined);
  });

  it('rows skipped before they run, and their record', () => {
    assert.equal(skipBeforeRun(sample()), undefined);
    assert.deepEqual(skipBeforeRun(sample({ rowError: 'f: row 3: no answer' })), { kind: 'BadRow', reason: 'f: row 3: no answer' });
    assert.deepEqual(skipBeforeRun(sample({ imageError: 'f: row 3: image file not found: x.png' })), {
      kind: 'ImageLoadError',
      reason: 'f: row 3: image file not found: x.png',
    });
    const r = skippedSampleRecord(sample(), 'BadRow', 'f: row 3: no answer');
    assert.equal(r.index, 3);
    assert.equal(r.codedance.skipped, true);
    assert.equal(r.codedance.outcome, 'skipped');
    assert.deepEqual(r.codedance.error, { name: 'BadRow', message: 'f: row 3: no answer' });
  });
});
