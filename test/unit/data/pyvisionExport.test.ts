/**
 * A PyVision run (the `pyvision` protocol: code in `<code>` cut at the stop string, results back as
 * `<interpreter>` user messages with `<image_clue_k>` images) exported and read back without loss:
 *  - the SFT text is PyVision's own: its messages as its engine holds them when it returns (golden
 *    pyvision.json `messages`, from the repository's own evaluate_single_data), each image `<image>`:
 *    the `</code>\n` its loop appends, the 400-character cut, the error and refusal reports;
 *  - trajectory → CodeDance-SFT parquet → the dataset viewer's reading (DatasetView page,
 *    rowTrajectory) gives the same replies, codes, outputs as the model saw them, failed calls,
 *    answer and every image byte for byte.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pyvisionReport } from '../../../src/core/protocol/pyvision';
import { exportTrainingData, toSftMessages, trajectoryItems } from '../../../src/core/training-data';
import { DatasetView } from '../../../src/core/training-data/datasetView';
import { rowTrajectory } from '../../../src/core/training-data/rowTrajectory';
import { sftRow } from '../../../src/core/training-data/rows';
import { cellResult } from '../../../src/core/trajectory/replay';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { pyvisionGolden as g, pyvisionRun } from './formatRuns';

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Each turn as the viewer must give it back: the reply, its code and output as the model saw them, its failed calls, its answer. */
function asSeen(t: Trajectory) {
  return t.turns.map((x) => ({
    content: x.content,
    answer: x.answer,
    malformed: x.malformed.map((m) => m.message),
    cells: x.cells.map((c) => {
      const r = pyvisionReport(cellResult(c));
      return r.ok
        ? { code: c.code, status: 'ok', out: r.text ?? '', images: r.images.map((i) => i.data) }
        : { code: c.code, status: c.status, out: r.error, images: [] };
    }),
  }));
}

function readBack(t: Trajectory) {
  return t.turns.map((x) => ({
    content: x.content,
    answer: x.answer,
    malformed: x.malformed.map((m) => m.message),
    cells: x.cells.map((c) => ({
      code: c.code,
      status: c.status,
      out: c.error ? `Error: ${c.error.evalue}` : c.stdout,
      images: c.images.map((i) => i.data),
    })),
  }));
}

describe('PyVision trajectories: SFT text as PyVision writes it, export → read back without loss', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-pyvision-export-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  for (const name of ['sample', 'steps'] as const) {
    it(`the SFT messages are the messages PyVision’s engine holds at the end, word for word (golden ${name})`, async () => {
      const { t, input, made } = await pyvisionRun(name);
      assert.equal(t.status, 'answered');
      assert.equal(t.answer, g[name].final_response);
      const { messages, images } = sftRow(t);
      const theirs = toSftMessages(g[name].messages);
      assert.deepEqual(messages, theirs.messages);
      assert.equal(theirs.images[0].data, b64(input), 'the golden’s input is ours');
      assert.deepEqual(images.map(b64), [input, ...made].map(b64), 'the question’s image and each figure, byte for byte');
      assert.equal(theirs.images.length, images.length, 'as many images as the engine sent');
    });
  }

  it('the row keeps PyVision’s own marks: `</code>\\n` after each code reply, `<image_clue_k>` images, the cut, the refusal', async () => {
    const { t } = await pyvisionRun('steps');
    const { messages } = sftRow(t);
    assert.ok(messages[0].content.startsWith('<image_clue_0><image></image_clue_0>\n\nYou are an agent'));
    assert.ok(messages[1].content.endsWith('```\n</code>\n'));
    assert.match(
      messages[2].content,
      /^<interpreter>\nText Result:\n(pyvision )+py\.\.\.vision (pyvision )+\n540\nImage Result:\n<image_clue_1><image><\/image_clue_1><\/interpreter>\n$/,
    );
    assert.equal(messages[4].content, "<interpreter>Error: name 'undefined_name' is not defined</interpreter>\n");
    assert.equal(messages[6].content, '<interpreter>Error: Forbidden function calls detected</interpreter>\n');
    assert.match(messages[8].content, /<image_clue_2><image><\/image_clue_2><image_clue_3><image><\/image_clue_3><\/interpreter>\n$/);
  });

  for (const name of ['sample', 'steps'] as const) {
    it(`trajectory → SFT parquet → the viewer’s reading: the same replies, codes, outputs, failed calls, answer and images (golden ${name})`, async () => {
      const { t, input, made } = await pyvisionRun(name);
      const out = path.join(tmp, `pyvision-${name}.parquet`);
      const summary = await exportTrainingData({ format: 'sft', out, items: trajectoryItems([{ trajectory: t, origin: 'test' }]) });
      assert.equal(summary.rows, 1);
      const view = await DatasetView.open(out);
      const [row] = await view.raw(0, 1);
      const back = rowTrajectory(row, 0, out);
      assert.equal(back.protocol, 'pyvision');
      assert.equal(back.status, 'answered');
      assert.equal(back.answer, t.answer, 'the whole last reply, as the repository returns it');
      assert.deepEqual(
        back.inputImages.map((i) => i.data),
        [b64(input)],
      );
      assert.deepEqual(readBack(back), asSeen(t));
      assert.deepEqual(
        back.turns.flatMap((x) => x.cells.flatMap((c) => c.images.map((i) => i.data))),
        made.map(b64),
        'every figure, byte for byte',
      );
      const calls = t.turns.filter((x) => x.cells.length || x.malformed.length).length;
      assert.equal((await view.page(0))[0].facts.toolCalls, calls, 'the table counts each <interpreter> message');
    });
  }

  it('a cell that timed out reads back as timed out; an empty block as the failed call that ended the run', () => {
    const FENCE = '```';
    const row = {
      messages: [
        { role: 'user', content: '<image_clue_0><image></image_clue_0>\n\nq' },
        { role: 'assistant', content: `a\n<code>\n${FENCE}python\nwhile True: pass\n${FENCE}\n</code>\n` },
        { role: 'user', content: '<interpreter>Timeout Error</interpreter>\n' },
        { role: 'assistant', content: `b\n<code>\n${FENCE}python\n\n${FENCE}\n</code>\n` },
      ],
      images: [Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64')],
    };
    const back = rowTrajectory(row, 0, 'rows.parquet');
    assert.equal(back.protocol, 'pyvision');
    assert.equal(back.turns[0].cells[0].status, 'timeout');
    assert.deepEqual(back.turns[1].cells, []);
    assert.match(back.turns[1].malformed[0].message, /^IndexError: list index out of range/);
    assert.equal(back.answer, undefined);
  });
});
