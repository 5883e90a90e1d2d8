/**
 * A Thyme run (the `thyme` protocol: code in `<code>`, the sandbox's output back INSIDE the same
 * assistant message) exported and read back without loss:
 *  - the SFT text is Thyme's own: the question `<image>\n…` (Thyme's SFT data, README §3.1), then
 *    the last generation as ONE assistant message, each sandbox output inside it between
 *    `<sandbox_output>` tags — the repository's final prompt and reply (golden thyme.json, from
 *    model.py's own loop), dropped replies and earlier generations left out as model.py leaves them;
 *    after five generations, the plain prompt and its reply;
 *  - trajectory → CodeDance-SFT parquet → the dataset viewer's reading (DatasetView page,
 *    rowTrajectory) gives the same replies, codes, sandbox outputs and answer, every image byte for byte.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pyStripText } from '../../../src/core/protocol/thymePrompt';
import { exportTrainingData, toSftMessages, trajectoryItems } from '../../../src/core/training-data';
import { DatasetView } from '../../../src/core/training-data/datasetView';
import { rowFacts } from '../../../src/core/training-data/rowSummary';
import { rlRow, sftRow } from '../../../src/core/training-data/rows';
import { rowTrajectory } from '../../../src/core/training-data/rowTrajectory';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { repositoryMessages, THYME_RETRY_REPLIES, thymeGolden as g, thymeRun } from './formatRuns';

const WORKDIR = '/nonexistent'; // FakeKernel's
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** The repository's last prompt with the last reply appended: the conversation model.py holds when it returns. */
function repositoryConversation(s: { replies: string[]; calls: { prompt: string }[] }) {
  const msgs = repositoryMessages(s.calls.at(-1)!.prompt.split('{workdir}').join(WORKDIR));
  const last = msgs.at(-1)!;
  if (last.role === 'assistant' && last.content !== '') last.content += s.replies.at(-1);
  else if (last.role === 'assistant') last.content = s.replies.at(-1)!;
  return msgs;
}

/** The kept replies of the final generation with their cells: what a reading of the row must give back. */
function keptCalls(t: Trajectory, from: number) {
  return t.turns.slice(from).map((x) => ({
    content: x.content,
    cells: x.cells.map((c) => ({
      code: c.code,
      stdout: c.images.length ? '' : pyStripText(c.stdout),
      images: c.images.map((i) => i.data),
    })),
  }));
}

const readBack = (x: Trajectory) =>
  x.turns.map((turn) => ({
    content: turn.content,
    cells: turn.cells.map((c) => ({ code: c.code, stdout: c.stdout, images: c.images.map((i) => i.data) })),
  }));

async function exportAndRead(t: Trajectory, tmp: string, name: string) {
  const out = path.join(tmp, `${name}.parquet`);
  const summary = await exportTrainingData({ format: 'sft', out, items: trajectoryItems([{ trajectory: t, origin: 'test' }]) });
  assert.equal(summary.rows, 1);
  const view = await DatasetView.open(out);
  const [row] = await view.raw(0, 1);
  return { row, back: rowTrajectory(row, 0, out), page: (await view.page(0))[0] };
}

describe('Thyme trajectories: SFT text as Thyme writes it, export → read back without loss', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-thyme-export-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('the SFT messages are the repository’s final prompt and reply: the sandbox output inside the one assistant message', async () => {
    const { t, input, made } = await thymeRun(g.twoTurns.replies);
    assert.equal(t.answer, g.twoTurns.answer);
    const { messages, images } = sftRow(t);
    assert.deepEqual(messages, repositoryConversation(g.twoTurns));
    assert.match(messages[2].content, /<\/code><sandbox_output><image><\/sandbox_output>\nIn the cropped region/);
    assert.deepEqual(images.map(b64), [input, ...made].map(b64), 'the question’s image and the crop, byte for byte');
  });

  it('a dropped block and a generation without answer are not in the row: it is the last generation, as the model last saw it', async () => {
    const { t, requests } = await thymeRun(THYME_RETRY_REPLIES);
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, 'A. red');
    assert.equal(t.turns.length, 5);
    const { messages } = sftRow(t);
    // the last request continued one assistant message; the row is that message with the last reply after it
    const seen = toSftMessages(requests.at(-1)!.messages, { imageTokenInText: true }).messages;
    seen[seen.length - 1].content += THYME_RETRY_REPLIES[4];
    assert.deepEqual(messages, seen);
    assert.equal(messages.length, 3);
    assert.equal(
      messages[2].content,
      `${THYME_RETRY_REPLIES[2]}<sandbox_output>size 448x336</sandbox_output>${THYME_RETRY_REPLIES[3]}<sandbox_output><image></sandbox_output>${THYME_RETRY_REPLIES[4]}`,
    );
    assert.ok(!messages[2].content.includes('crop_bbox') && !messages[2].content.includes('Let me think'), 'generation 1 is not in it');
  });

  it('after five generations: the plain prompt and its reply, as the repository asks it (golden neverAnswers)', async () => {
    const { t, input } = await thymeRun(g.neverAnswers.replies);
    assert.equal(t.answer, g.neverAnswers.answer);
    const { messages, images } = sftRow(t);
    assert.deepEqual(messages, repositoryConversation(g.neverAnswers));
    assert.deepEqual(images.map(b64), [b64(input)]);
    // the RL prompt: the question as the row's first image's token, once
    const rl = rlRow(t, { groundTruth: 'A. red', dataSource: 'vstar', ability: 'x', index: 0, split: 'train' });
    assert.ok(rl.prompt[1].content.startsWith('<image>\nQuestion: What color is the small square?'));
    assert.equal(rl.prompt[1].content.split('<image>').length - 1, rl.images.length);
  });

  for (const [name, replies, from] of [
    ['golden twoTurns', g.twoTurns.replies, 0],
    ['a run with a dropped block and a new generation', THYME_RETRY_REPLIES, 2],
  ] as const) {
    it(`trajectory → SFT parquet → the viewer’s reading: the same replies, codes, sandbox outputs, answer and images (${name})`, async () => {
      const { t, input, made } = await thymeRun(replies);
      const { back, page } = await exportAndRead(t, tmp, name.replaceAll(' ', '-'));
      assert.equal(back.protocol, 'thyme');
      assert.equal(back.status, 'answered');
      assert.equal(back.answer, t.answer);
      assert.deepEqual(
        back.inputImages.map((i) => i.data),
        [b64(input)],
        'the question’s image',
      );
      assert.deepEqual(readBack(back), keptCalls(t, from));
      assert.deepEqual(
        back.turns.flatMap((x) => x.cells.flatMap((c) => c.images.map((i) => i.data))),
        made.map(b64),
        'every image the code made, byte for byte',
      );
      assert.equal(page.facts.toolCalls, t.turns.slice(from).filter((x) => x.cells.length).length, 'the table counts its sandbox outputs');
    });
  }

  it('the plain prompt’s row reads back with its reply as the answer', async () => {
    const { t } = await thymeRun(g.neverAnswers.replies);
    const { back } = await exportAndRead(t, tmp, 'fallback');
    assert.equal(back.protocol, 'thyme');
    assert.equal(back.answer, g.neverAnswers.answer);
    assert.deepEqual(
      back.turns.map((x) => x.content),
      [g.neverAnswers.replies.at(-1)],
    );
  });

  it('a follow-up’s history (each reply, then its output as a user message) reads the same; a block with no output was dropped', () => {
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
    const code = '<think>x\n<code>\n```python\nprint(1)\n```\n</code>';
    const row = {
      messages: [
        { role: 'user', content: '<image>\nQ1\n\n### User Image Path:** "/w/thyme/input_image.png"\n### User Image Size:** "1x1"\n\n' },
        { role: 'assistant', content: code },
        { role: 'assistant', content: code },
        { role: 'user', content: '<sandbox_output>1</sandbox_output>' },
        { role: 'assistant', content: '\nso.</think><answer>1</answer>' },
      ],
      images: [png],
    };
    assert.equal(rowFacts(row).toolCalls, 1);
    const back = rowTrajectory(row, 0, 'rows.parquet');
    assert.equal(back.protocol, 'thyme');
    assert.deepEqual(
      back.turns.map((x) => x.cells.map((c) => [c.status, c.stdout])),
      [[['error', '']], [['ok', '1']], []],
    );
    assert.equal(back.answer, '1');
  });
});
