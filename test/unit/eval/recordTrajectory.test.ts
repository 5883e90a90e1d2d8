/**
 * A result record embeds the whole trajectory: stored (images as files beside the results) and
 * read back, it is the trajectory the loop produced — messages, sampling, tool calls, images —
 * and the seed's fields are derived from it (issue 9: "Open in chat" used to rebuild a
 * trajectory without messages, so Retry and follow-ups lost the earlier conversation).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import {
  buildRecord,
  parseResultLine,
  recordImagesDir,
  recordTrajectory,
  seedFields,
  storeRecordImages,
  type ResultRecord,
} from '../../../src/core/eval';
import { createChatModel } from '../../../src/core/model';
import { getProtocol } from '../../../src/core/protocol';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { StubKernel } from './stubKernel';

const SEED_RUN_FIELDS = [
  'question',
  'pred_ans',
  'input',
  'output',
  'multi_modal_data',
  'try_count',
  'tool_call_count',
  'tool_success_count',
  'tool_success_rate',
] as const;

describe('eval record ↔ trajectory', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-record-'));
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const input = circlesImage({ red: 2, seed: 5, size: 48, minRadius: 4, maxRadius: 6 });
  const figure = circlesImage({ red: 1, seed: 2, size: 16, minRadius: 3, maxRadius: 4 }).png.toString('base64');

  async function run(protocol: string): Promise<Trajectory> {
    const kernel = new StubKernel((code) => ({
      stdout: code.includes('red') ? 'red_count = 2\n' : 'x\n',
      images: [{ mime: 'image/png', data: figure, source: 'figure', width: 16, height: 16 }],
    }));
    return runAgentToEnd(circlesQuestion('red'), [input.png], {
      model: createChatModel({ endpoints: fm.baseUrl }),
      modelName: 'codedance-fixture-7b',
      protocol: getProtocol(protocol),
      kernel,
      sampling: { temperature: 0.5 },
      endpoints: [fm.baseUrl],
    });
  }

  for (const protocol of ['codedance', 'codedance-tools']) {
    it(`${protocol}: the stored record gives back the same trajectory (messages, sampling, tool calls, images)`, async () => {
      const traj = await run(protocol);
      assert.equal(traj.status, 'answered');
      assert.ok(traj.messages.length >= 4, 'system, user, assistant, observation, …');
      if (protocol === 'codedance-tools') assert.ok(traj.turns[0].toolCalls.length > 0, 'the tools protocol answers with tool calls');
      const sample = { index: 3, question: traj.question, answer: '2', dataSource: 'vstar', images: [input.png] };
      const rec = buildRecord(sample as never, traj, undefined, { attempts: 1, timedOut: false, latencyMs: 10 });

      const dir = path.join(tmp, protocol);
      const file = path.join(dir, 'result_m_set.jsonl');
      const stored = await storeRecordImages(rec, recordImagesDir(file));
      const line = JSON.stringify(stored);
      writeFileSync(file, line + '\n');
      // the trajectory's images are files; the seed's multi_modal_data keeps its inline base64
      const files = readdirSync(recordImagesDir(file));
      assert.ok(
        files.some((f) => f.endsWith('.png')),
        files.join(', '),
      );
      assert.ok(!JSON.stringify(stored.codedance.trajectory).includes(figure), 'no image payload inside the stored trajectory');
      assert.deepEqual(stored.multi_modal_data.image, [traj.inputImages[0].data, `data:image/png;base64,${figure}`]);
      assert.ok(rec.codedance.trajectory!.messages.length > 0, 'building the stored copy left the record in memory as it was');

      const back = await recordTrajectory(parseResultLine<ResultRecord>(line), file);
      assert.ok(back);
      assert.deepEqual(back, JSON.parse(JSON.stringify(traj)), 'the trajectory read back is the one the loop produced');
      assert.deepEqual(back.messages, traj.messages);
      assert.equal(back.sampling.temperature, 0.5);
      assert.deepEqual(
        back.turns.map((t) => t.toolCalls),
        traj.turns.map((t) => t.toolCalls),
      );
      assert.equal(back.turns[0].cells[0].images[0].data, figure);
      // the seed's fields are the trajectory's, derived again from what was read back
      const again = seedFields(back);
      for (const k of SEED_RUN_FIELDS) assert.deepEqual(again[k], rec[k], k);
      assert.match(rec.output, /^system\nYou are a helpful assistant\./);
      assert.equal(rec.try_count, traj.turns.length);
      assert.equal(rec.tool_call_count, 1);
    });
  }

  it('a missing image file is an error naming the file and the fix (the report shows the sample without it)', async () => {
    const traj = await run('codedance');
    const rec = buildRecord({ index: 0, question: traj.question, answer: '2', dataSource: 'vstar', images: [] } as never, traj, undefined, {
      attempts: 1,
      timedOut: false,
      latencyMs: 1,
    });
    const dir = path.join(tmp, 'missing');
    const file = path.join(dir, 'result_m_x.jsonl');
    const stored = await storeRecordImages(rec, recordImagesDir(file));
    for (const f of readdirSync(recordImagesDir(file))) rmSync(path.join(recordImagesDir(file), f));
    await assert.rejects(
      recordTrajectory(stored, file),
      /images[/\\][0-9a-f]{40}\.png .*cannot be read \(ENOENT\) — keep the images folder beside/,
    );
    const lenient = await recordTrajectory(stored, file, { missing: 'empty' });
    assert.equal(lenient!.inputImages[0].data, '');
    assert.ok(existsSync(dir));
  });
});
