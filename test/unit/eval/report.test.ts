/**
 * The report's data: a results file read back as a run summary and sample rows, one sample's
 * stored trajectory with its images (the line read by byte offset, the images from the files
 * beside it), and the whole stored Trajectory for "Open in chat".
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, loadRun, readRecordAt, reportSample, runEval, sampleTrajectory } from '../../../src/core/eval';
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

  it('summarizes a run, opens one sample with its images, and hands over its stored trajectory', async () => {
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
      kernels: stubKernels(() => ({
        stdout: 'red_count = 2\n',
        images: [{ mime: 'image/png', data: fig, source: 'figure', width: 10, height: 10 }],
      })),
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
    const d = await reportSample(rec, file, 'A');
    assert.equal(d.acc, 0);
    assert.equal(d.trajectory?.inputImages.length, 1);
    assert.match(d.trajectory!.inputImages[0].data, /^iVBOR/);
    assert.equal(d.trajectory!.turns[0].cells[0].images[0].data, fig);
    const t = await sampleTrajectory(rec, file);
    assert.equal(t.question, circlesQuestion('red'));
    assert.equal(t.turns.length, 2);
    assert.equal(t.turns[0].cells[0].images[0].data, fig, 'images inlined again');
    assert.equal(t.inputImages[0].data, rec.multi_modal_data.image[0]);
    assert.equal(t.messages[0].role, 'system', 'the conversation comes with it (Retry and follow-ups in the chat need it)');
    assert.ok(t.messages.length >= 4);
    // the training reward per sample (the eval's scoring code on the rollout, the eval's acc) and the ground truth going to the chat
    const [r0, r1] = run.samples.map((x) => x.reward!);
    assert.deepEqual([r0.acc, r0.score, r0.accFrom, r0.perCall, r0.tool_success_rate], [1, 1, 'eval', [0], 1]);
    assert.deepEqual([r1.acc, r1.score, r1.tool_reward_component], [0, 0, 0.5]);
    assert.deepEqual(d.reward?.cells, { [d.trajectory!.turns[0].cells[0].id]: 0 });
    assert.deepEqual(t.reference, {
      groundTruth: '5',
      dataSource: 'chart',
      origin: 'result_m_r.jsonl sample 1',
      judged: { answer: rec.judge_result.answer, acc: 0 },
    });
  });

  it("opens a results file written by the seed's eval.py (no codedance fields)", async () => {
    const dir = path.join(tmp, 'seed', 'qwen');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'result_qwen_wemath.jsonl');
    const line = (index: number, acc: number) =>
      JSON.stringify({
        question: 'q',
        ground_truth: 'a',
        pred_ans: '<answer>a</answer>',
        input: '',
        output: 'system\nS\nuser\nq\nassistant\n<answer>a</answer>',
        multi_modal_data: { image: ['AAAA'] },
        status: 'success',
        index,
        acc,
        judge_score: acc,
        judge_result: { answer: 'a', tool_success_rate: 1 },
        try_count: 3,
        tool_call_count: 1,
        tool_success_count: 1,
        tool_success_rate: 1,
      });
    // Python's json.dumps writes NaN for a sample without tool calls
    writeFileSync(
      file,
      [line(0, 1), line(1, 0).replace('"tool_success_rate":1}', '"tool_success_rate":NaN}'), line(2, 1)].join('\n') + '\n',
    );
    const { run, offsets } = await loadRun(file);
    assert.equal(run.total, 3);
    assert.equal(run.model, 'qwen');
    assert.equal(run.dataset, 'wemath');
    assert.ok(Math.abs(run.avgAcc - 2 / 3) < 1e-12);
    assert.deepEqual(Object.keys(run.perSource), ['default']);
    const d = await reportSample(readRecordAt(file, offsets.get(1)!), file, 'A');
    assert.equal(d.trajectory, undefined);
    assert.deepEqual([d.reward?.score, d.reward?.format_r, d.reward?.perCall], [0, 0, []], "from the seed's output text");
    assert.match(d.output, /assistant\n<answer>a<\/answer>/);
    await assert.rejects(sampleTrajectory(readRecordAt(file, offsets.get(1)!), file), /has no trajectory .*written by the seed's eval\.py/);
  });
});
