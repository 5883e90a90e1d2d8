/**
 * The report's data: a results file read back as a run summary and sample rows, one sample's
 * trajectory with its images (read by byte offset), and the stored sample turned back into a
 * Trajectory (for "Open in chat").
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, loadRun, readRecordAt, recordToTrajectory, runEval, sampleDetail } from '../../../src/core/eval';
import { createChatModel } from '../../../src/core/model';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { stubKernels } from './stubKernel';

describe('eval report data', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-report-'));
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('summarizes a run, opens one sample with its images, and rebuilds its trajectory', async () => {
    const img = circlesImage({ red: 2, seed: 1 });
    const data = path.join(tmp, 'r.parquet');
    writeEvalParquet(data, [
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '2', image: img.png },
      { dataSource: 'chart', question: circlesQuestion('red'), answer: '5', image: img.png },
    ]);
    const fig = Buffer.from('fake-png-bytes').toString('base64');
    await runEval({
      dataPath: data,
      saveDir: tmp,
      modelName: 'm',
      evalModelName: 'codedance-fixture-7b',
      model: createChatModel({ endpoints: fm.baseUrl }),
      endpoints: [fm.baseUrl],
      numWorkers: 2,
      kernels: stubKernels(() => ({ stdout: 'red_count = 2\n', images: [{ mime: 'image/png', data: fig, source: 'figure', width: 10, height: 10 }] })),
      fsync: false,
    });
    const file = evalPaths(tmp, 'm', 'r').results;
    const { run, offsets } = await loadRun(file, 'A');
    assert.equal(run.total, 2);
    assert.equal(run.avgAcc, 0.5);
    assert.deepEqual(Object.keys(run.perSource).sort(), ['chart', 'vstar']);
    assert.equal(run.perSource.vstar.acc, 1);
    assert.equal(run.toolHistogram['1'], 2);
    assert.equal(run.samples.length, 2);
    assert.equal(run.scoring.startsWith('no-judge'), true);
    assert.equal(run.model, 'm');
    const rec = readRecordAt(file, offsets.get(1)!);
    assert.equal(rec.index, 1);
    const d = sampleDetail(rec, 'A');
    assert.equal(d.acc, 0);
    assert.equal(d.inputImages.length, 1);
    assert.match(d.inputImages[0].src, /^data:image\/png;base64,/);
    assert.equal(d.turns[0].cells[0].images[0].src, `data:image/png;base64,${fig}`);
    const t = recordToTrajectory(rec);
    assert.equal(t.question, circlesQuestion('red'));
    assert.equal(t.turns.length, 2);
    assert.equal(t.turns[0].cells[0].images[0].data, fig, 'images inlined again');
    assert.equal(t.inputImages[0].data, rec.multi_modal_data.image[0]);
  });
});
