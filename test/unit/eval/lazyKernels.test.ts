/**
 * A sample takes its kernel only when its first cell runs (kernel/lazySession.ts), with a kernel
 * source that prepares the model's images without a kernel: a sample answered without code
 * takes none; an image that does not load is skipped without one; a source that cannot prepare
 * falls back to the kernel. Stub kernels and the fixture model (its brain answers a question it
 * does not know at once, without code, and counts circles with code).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, runEval, type KernelSource } from '../../../src/core/eval';
import { KernelSessionError } from '../../../src/core/kernel/errors';
import type { PreparedImage } from '../../../src/core/kernel/types';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { fixtureEvalOptions } from './fixtureEval';
import { stubKernels } from './stubKernel';

const readLines = (f: string) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** stub kernels that count acquires, with a preparer (answers `prepare`'s choice per call) */
function lazySource(prepare: (images: Uint8Array[]) => PreparedImage[] | undefined = (images) => images.map(preparedStub)) {
  const stubs = stubKernels((code) => ({ stdout: code.includes('red') ? 'red_count = 3\n' : 'x\n' }));
  const counts = { prepared: 0, acquired: 0 };
  const source: KernelSource = {
    python: '/opt/py/bin/python3',
    acquire: async () => {
      counts.acquired++;
      return stubs.acquire();
    },
    prepareImages: async (images) => {
      counts.prepared++;
      return prepare(images);
    },
    dispose: async () => undefined,
  };
  return { source, stubs, counts };
}

const preparedStub = (): PreparedImage => ({ pngBase64: 'iVBORw0K', width: 28, height: 28, originalWidth: 28, originalHeight: 28 });

describe('eval: a sample takes its kernel at its first cell (stub kernels, fixture model)', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  let data: string;
  const img = circlesImage({ red: 3, seed: 4 }).png;

  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-lazy-'));
    data = path.join(tmp, 'set.parquet');
    // even rows: a question the fixture answers without code; odd rows: counting circles, with code
    writeEvalParquet(
      data,
      Array.from({ length: 8 }, (_, i) => ({
        dataSource: 'vstar',
        question: i % 2 ? circlesQuestion('red') : 'What is the capital of France?',
        answer: i % 2 ? '3' : 'unknown',
        image: img,
      })),
    );
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  beforeEach(async () => (fm = await startFixtureModel()));
  afterEach(async () => fm.close());

  it('a sample answered without code starts no kernel; a sample with code starts one', async () => {
    const { source, stubs, counts } = lazySource();
    const save = path.join(tmp, 'a');
    const s = await runEval(fixtureEvalOptions(fm.baseUrl, data, save, { kernels: source, numWorkers: 3 }));
    assert.equal(s.stats.avg_acc, 1);
    assert.equal(counts.prepared, 8, "every sample's image prepared without a kernel");
    assert.equal(counts.acquired, 4, 'a kernel for each of the 4 samples with code, none for the others');
    assert.ok(stubs.made.every((k) => k.disposed && k.executed.length === 1));
    assert.ok(
      fm.chatRequests.every((r) => JSON.stringify(r.body!.messages).includes('base64,iVBORw0K')),
      "the model was sent the preparer's image",
    );
    const recs = readLines(evalPaths(save, 'm', 'set').results).sort((a, b) => a.index - b.index);
    for (const r of recs) {
      const cells = r.codedance.trajectory.turns.flatMap((t: { cells: unknown[] }) => t.cells);
      assert.equal(cells.length, r.index % 2, `sample ${r.index}`);
      assert.equal(r.codedance.trajectory.python, '/opt/py/bin/python3', 'the interpreter is recorded before a kernel is taken');
      assert.equal(typeof r.codedance.kernel_wait_ms, 'number');
    }
  });

  it('an image that does not load is recorded as skipped, without taking a kernel', async () => {
    const { source, counts } = lazySource(() => {
      throw new KernelSessionError({
        reason:
          'the input image could not be prepared: ValueError: input image #1 could not be read: UnidentifiedImageError: cannot identify image file',
        fix: 'pass a PNG, JPEG, GIF, BMP or WebP file that Pillow can open',
      });
    });
    const save = path.join(tmp, 'b');
    await runEval(fixtureEvalOptions(fm.baseUrl, data, save, { kernels: source, limit: 2 }));
    const recs = readLines(evalPaths(save, 'm', 'set').results);
    assert.deepEqual(
      recs.map((r) => [r.codedance.outcome, r.codedance.error?.name]),
      [
        ['skipped', 'ImageLoadError'],
        ['skipped', 'ImageLoadError'],
      ],
    );
    assert.equal(counts.acquired, 0);
  });

  it('when the preparer cannot prepare (its process died), the sample prepares in its own kernel, taken at once', async () => {
    const { source, stubs, counts } = lazySource(() => undefined);
    const save = path.join(tmp, 'c');
    const s = await runEval(fixtureEvalOptions(fm.baseUrl, data, save, { kernels: source, limit: 4, numWorkers: 2 }));
    assert.equal(s.stats.avg_acc, 1);
    assert.equal(counts.acquired, 4, 'each sample took its kernel for its images');
    assert.ok(stubs.made.every((k) => k.disposed));
  });

  it('a source without a preparer gives every sample its kernel before the first model call, as before', async () => {
    const stubs = stubKernels((code) => ({ stdout: code.includes('red') ? 'red_count = 3\n' : 'x\n' }));
    const save = path.join(tmp, 'd');
    await runEval(fixtureEvalOptions(fm.baseUrl, data, save, { kernels: stubs, limit: 4 }));
    assert.equal(stubs.made.length, 4);
  });
});
