/**
 * The dataset viewer's reading side (core/training-data/datasetView.ts, rowTrajectory.ts): an
 * RL parquet in the published layout and a JSONL file, paged without reading them whole,
 * filtered by data_source / ability / tool calls / correct / text, and an SFT row rendered as
 * a trajectory (turns, cells with their recorded output and images, the answer).
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatasetView, PAGE_ROWS } from '../../../src/core/training-data/datasetView';
import { rowTrajectory } from '../../../src/core/training-data/rowTrajectory';
import { sftRow } from '../../../src/core/training-data/rows';
import { cellSummary } from '../../../src/core/training-data/rowSummary';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { fixtureTrajectory, solidPng } from '../../unit/data/exportFixtures';

describe('dataset viewer: paging, filters, rows as trajectories', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-dsview-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('pages an RL parquet by row group and filters it on its light columns', async () => {
    const img = solidPng(28, 28, [1, 2, 3]);
    const file = path.join(tmp, 'rl.parquet');
    const n = 2500;
    writeEvalParquet(
      file,
      Array.from({ length: n }, (_, i) => ({
        dataSource: i % 3 === 0 ? 'chart' : 'vstar',
        question: `question number ${i}${i === 1234 ? ' needle' : ''}`,
        answer: String(i),
        image: img,
      })),
      { rowGroupSize: 1000, rawImages: true },
    );
    const v = await DatasetView.open(file);
    assert.equal(v.info.rowCount, n);
    assert.deepEqual(v.info.columns, ['data_source', 'images', 'extra_info', 'reward_model', 'prompt']);
    assert.deepEqual(v.info.heavyColumns, ['images']);
    const page = await v.page(12);
    assert.equal(page.length, PAGE_ROWS);
    assert.equal(page[0].index, 1200);
    assert.equal(page[34].cells.data_source, 'vstar');
    assert.equal(page[34].cells.images, '1 image');
    assert.match(page[34].cells.prompt, /^1 msg · question number 1234 needle/);
    assert.equal(page[34].facts.images, 1);
    const row = await v.row(2499);
    assert.equal((row.extra_info as { answer: string }).answer, '2499');
    const chart = await v.filter({ dataSource: 'chart' });
    assert.equal(chart.indexes.length, Math.ceil(n / 3));
    assert.deepEqual(chart.facets.dataSource, ['chart', 'vstar']);
    assert.deepEqual((await v.filter({ search: 'NEEDLE' })).indexes, [1234]);
    assert.deepEqual((await v.filter({ search: 'needle', dataSource: 'chart' })).indexes, []);
    assert.deepEqual((await v.filter({ minToolCalls: 1 })).indexes, []);
  });

  it('pages a JSONL file by line offsets; a bad line is a row with its error', async () => {
    const file = path.join(tmp, 'results.jsonl');
    const lines = Array.from({ length: 250 }, (_, i) =>
      JSON.stringify({ index: i, acc: i % 2, tool_call_count: i % 4, data_source: 'vstar', question: `q${i}` }),
    );
    lines[7] = '{not json';
    writeFileSync(file, lines.join('\n') + '\n\n');
    const v = await DatasetView.open(file);
    assert.equal(v.info.rowCount, 250);
    const p2 = await v.page(2);
    assert.equal(p2[49].cells.question, 'q249');
    assert.match((await v.page(0))[7].error ?? '', /not valid JSON/);
    assert.equal((await v.filter({ correct: 'correct' })).indexes.length, 124); // 125 odd rows, one of them the bad line
    assert.deepEqual((await v.filter({ minToolCalls: 3, maxToolCalls: 3, correct: 'correct' })).indexes.slice(0, 3), [3, 11, 15]);
  });

  it('renders an SFT row as a trajectory: question, turns, cells with recorded outputs and images, answer', () => {
    const input = solidPng(56, 56, [9, 9, 9]);
    const plot = solidPng(28, 28, [0, 0, 255]);
    const t0 = fixtureTrajectory({
      id: 'x',
      question: 'Size?',
      input,
      turns: [{ code: 'print(1)', stdout: '1', images: [plot] }, { code: 'print(x)' }],
      answer: '56',
    });
    const row = sftRow(t0) as unknown as Record<string, unknown>;
    const t = rowTrajectory(row, 5, '/tmp/x.parquet');
    assert.match(t.question, /^Size\?/);
    assert.equal(t.inputImages.length, 1);
    assert.equal(t.inputImages[0].data, input.toString('base64'));
    assert.equal(t.turns.length, 3);
    assert.equal(t.turns[0].cells[0].code, 'print(1)');
    assert.equal(t.turns[0].cells[0].stdout, 'Output:\n1Output image:');
    assert.equal(t.turns[0].cells[0].images[0].data, plot.toString('base64'));
    assert.equal(t.answer, '56');
    assert.equal(t.status, 'answered');
    assert.equal(cellSummary(new Uint8Array(10)), '[binary 10 B]');
  });
});
