/**
 * Real kernels: an eval sample takes its kernel only at its first cell (core/kernel/lazySession.ts),
 * counted by the kernel launches of this process; and the model is sent the same image the kernel
 * makes (core/eval/imagePreparer.ts runs the prelude's code in a sandboxed Pillow process): the
 * same PNG bytes and sizes for each of the formats' preparations, and the same words for an image
 * that does not load.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, runEval } from '../../../src/core/eval';
import { ImagePreparer } from '../../../src/core/eval/imagePreparer';
import { startKernelSession } from '../../../src/core/kernel';
import { kernelLaunchCount } from '../../../src/core/kernel/launch';
import type { PrepareImageOptions } from '../../../src/core/kernel/types';
import { createChatModel } from '../../../src/core/model';
import { getProtocol } from '../../../src/core/protocol';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

const readLines = (f: string) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('eval with real kernels: a kernel only for a sample that runs code', function () {
  this.timeout(180_000);
  let tmp: string;
  let fm: FixtureModel;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-lazy-int-'));
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the preparer sends the model the image the kernel makes, for every preparation', async () => {
    const images = [
      circlesImage({ red: 3, blue: 2, seed: 5, size: 300 }).png, // smart resize: 300 -> 308
      circlesImage({ red: 1, seed: 9, size: 20 }).png, // below min pixels: scaled up
    ];
    const preps: PrepareImageOptions[] = [
      getProtocol('codedance').imagePreparation,
      getProtocol('openai-tools').imagePreparation,
      getProtocol('deepeyes').imagePreparation,
    ];
    const preparer = new ImagePreparer({ python: PYTHON, processes: 1 });
    const kernel = await startKernelSession({ python: PYTHON });
    try {
      for (const prep of preps) {
        const ours = await preparer.prepare(images, prep);
        const theirs = await kernel.setInputImages(images, prep);
        assert.deepEqual(ours, theirs, `resize ${prep.resize}`);
      }
      const junk = new Uint8Array([1, 2, 3, 4]);
      const said = (e: Error) => e.message.replace(/ at 0x[0-9a-f]+/g, '');
      const ourError = await preparer.prepare([junk], preps[0]).then(() => undefined, said);
      const theirError = await kernel.setInputImages([junk], preps[0]).then(() => undefined, said);
      assert.ok(ourError && /input image #1 could not be read: UnidentifiedImageError/.test(ourError), ourError);
      assert.equal(ourError, theirError);
      assert.equal(preparer.stats.prepared, 3);
    } finally {
      await Promise.all([preparer.dispose(), kernel.dispose()]);
    }
  });

  it('samples answered without code launch no kernel; samples with code one each', async () => {
    const img = circlesImage({ red: 3, seed: 4 }).png;
    const data = path.join(tmp, 'set.parquet');
    writeEvalParquet(
      data,
      Array.from({ length: 6 }, (_, i) => ({
        dataSource: 'vstar',
        question: i < 4 ? 'What is the capital of France?' : circlesQuestion('red'),
        answer: i < 4 ? 'unknown' : '3',
        image: img,
      })),
    );
    const base = {
      dataPath: data,
      modelName: 'm',
      evalModelName: 'codedance-fixture-7b',
      model: createChatModel({ endpoints: fm.baseUrl }),
      endpoints: [fm.baseUrl],
      numWorkers: 2,
      python: PYTHON,
      fsync: false,
    };
    let before = kernelLaunchCount();
    const none = await runEval({ ...base, saveDir: path.join(tmp, 'a'), limit: 4 });
    assert.equal(none.stats.avg_acc, 1);
    assert.equal(kernelLaunchCount() - before, 0, 'no sample ran code: no kernel was launched');

    before = kernelLaunchCount();
    const some = await runEval({ ...base, saveDir: path.join(tmp, 'b') });
    assert.equal(some.stats.avg_acc, 1);
    const recs = readLines(evalPaths(path.join(tmp, 'b'), 'm', 'set').results);
    const withCode = recs.filter((r) => r.tool_call_count > 0);
    assert.equal(withCode.length, 2);
    const launched = kernelLaunchCount() - before;
    // one per sample with code; the pool may have started one more ahead (then shut down unused)
    assert.ok(launched >= 2 && launched <= 2 + 2, `${launched} kernels launched for 2 samples with code`);
  });
});
