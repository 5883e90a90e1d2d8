/**
 * Dataset reading: parquet written like HF datasets (nested list/struct columns) and JSONL,
 * images inline as {bytes, path} structs, as raw bytes, or as paths relative to the file;
 * streaming in bounded batches across row groups; errors naming the column and the file.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetMetadata } from 'hyparquet';
import { DatasetError, firstImage, openDataset } from '../../../src/core/data/dataset';
import { parquetInfo, readParquetRows } from '../../../src/core/data/parquet';
import { writeEvalJsonl, writeEvalParquet, type EvalRowSpec } from '../../fixtures/parquetWriter';

const png = (n: number) => Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10, n, n, n]);

describe('eval datasets (parquet via hyparquet, jsonl)', () => {
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-data-'));
    writeFileSync(path.join(tmp, 'rel.png'), png(9));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const rows: EvalRowSpec[] = [
    { dataSource: 'vstar', question: 'q0', answer: 'a0', image: png(0) },
    { dataSource: null, question: 'q1', answer: 'a1', imagePath: 'rel.png' },
    { dataSource: 'xince', question: 'q2', answer: '3', image: png(2) },
    { dataSource: 'chart', question: 'q3', answer: 'a3', imagePath: 'missing.png' },
    { dataSource: '', question: 'q4', answer: 'a4' },
  ];

  it('reads the seed fields from a parquet file with {bytes, path} image structs', async () => {
    const f = path.join(tmp, 'set.parquet');
    writeEvalParquet(f, rows, { rowGroupSize: 2 });
    const ds = await openDataset(f);
    assert.equal(ds.format, 'parquet');
    assert.equal(ds.stem, 'set');
    assert.equal(ds.rowCount, 5);
    const got = [];
    for await (const s of ds.samples({ fallbackDataSource: 'flag' })) got.push(s);
    assert.deepEqual(
      got.map((s) => s.index),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      got.map((s) => s.dataSource),
      ['vstar', 'flag', 'xince', 'chart', 'flag'],
    );
    assert.deepEqual(
      got.map((s) => s.question),
      ['q0', 'q1', 'q2', 'q3', 'q4'],
    );
    assert.deepEqual(
      got.map((s) => s.answer),
      ['a0', 'a1', '3', 'a3', 'a4'],
    );
    assert.deepEqual([...got[0].images[0]], [...png(0)]);
    assert.deepEqual([...got[1].images[0]], [...png(9)], 'path relative to the parquet file');
    assert.match(got[3].imageError!, /set\.parquet: row 3: image file not found: missing\.png/);
    assert.equal(got[4].images.length, 0);
    // start in the middle (resume) across row groups
    const tail = [];
    for await (const s of ds.samples({ start: 3 })) tail.push(s.index);
    assert.deepEqual(tail, [3, 4]);
  });

  it('reads raw-binary image lists (CodeDance-RL) and falls back to prompt / reward_model', async () => {
    const f = path.join(tmp, 'raw.parquet');
    writeEvalParquet(f, rows.slice(0, 1), { rawImages: true, omit: ['extra_info'] });
    const ds = await openDataset(f);
    const [s] = await collect(ds.samples());
    assert.deepEqual([...s.images[0]], [...png(0)]);
    assert.equal(s.question, 'q0', 'the last user message of prompt, <image> removed');
    assert.equal(s.answer, 'a0', 'reward_model.ground_truth');
  });

  it('streams in bounded batches inside row groups', async () => {
    const f = path.join(tmp, 'big.parquet');
    writeEvalParquet(
      f,
      Array.from({ length: 250 }, (_, i) => ({ question: `q${i}`, answer: String(i), image: png(i % 250) })),
      { rowGroupSize: 100 },
    );
    const inf = await parquetInfo(f);
    assert.deepEqual(inf.rowGroups, [
      { rowStart: 0, rowEnd: 100 },
      { rowStart: 100, rowEnd: 200 },
      { rowStart: 200, rowEnd: 250 },
    ]);
    let n = 0;
    for await (const r of readParquetRows(f, { batchRows: 7, start: 95 })) {
      assert.equal(r.index, 95 + n);
      n++;
    }
    assert.equal(n, 155);
  });

  it('errors name the column and the file', async () => {
    const f1 = path.join(tmp, 'noextra.parquet');
    writeEvalParquet(f1, rows.slice(0, 1), { omit: ['extra_info', 'prompt', 'reward_model'] });
    await assert.rejects(
      openDataset(f1),
      (e: DatasetError) =>
        e instanceof DatasetError &&
        e.column === 'extra_info' &&
        e.message.includes(f1) &&
        /column 'extra_info' is missing/.test(e.message),
    );
    const f2 = path.join(tmp, 'noanswer.parquet');
    writeEvalParquet(f2, rows.slice(0, 1), { omit: ['reward_model'], answerField: 'solution' });
    await assert.rejects(
      openDataset(f2),
      /noanswer\.parquet: column 'extra_info\.answer' is missing.*columns found: data_source, images, extra_info, prompt/,
    );
    await assert.rejects(openDataset(path.join(tmp, 'absent.parquet')), /dataset not found/);
    const f3 = path.join(tmp, 'x.csv');
    writeFileSync(f3, 'a,b');
    await assert.rejects(openDataset(f3), /unsupported dataset type '\.csv'/);
    const f4 = path.join(tmp, 'broken.parquet');
    writeFileSync(f4, 'PAR1 not really');
    await assert.rejects(openDataset(f4), /broken\.parquet: not a readable parquet file/);
  });

  it('reads JSONL with base64 image structs and paths; a bad line is a row with its reason, naming the file and line', async () => {
    const f = path.join(tmp, 'set.jsonl');
    writeEvalJsonl(f, rows.slice(0, 2));
    const ds = await openDataset(f);
    assert.equal(ds.rowCount, 2);
    const got = await collect(ds.samples());
    assert.deepEqual([...got[0].images[0]], [...png(0)]);
    assert.deepEqual([...got[1].images[0]], [...png(9)]);
    assert.match(got[0].imageSource!, /set\.jsonl: row 0 \(inline bytes\)$/);
    assert.equal(got[1].imageSource, path.join(tmp, 'rel.png'), 'a path image names its file');
    const bad = path.join(tmp, 'bad.jsonl');
    writeFileSync(bad, '{"extra_info":{"question":"q","answer":"a"}}\n{oops\n');
    const ds2 = await openDataset(bad);
    const got2 = await collect(ds2.samples());
    assert.equal(got2.length, 2);
    assert.equal(got2[0].rowError, undefined);
    assert.equal(got2[1].index, 1);
    assert.match(got2[1].rowError!, /bad\.jsonl: row 1: line 2 is not valid JSON \(/);
    const nocol = path.join(tmp, 'nocol.jsonl');
    writeFileSync(nocol, '{"question":"q","answer":"a"}\n');
    await assert.rejects(openDataset(nocol), /nocol\.jsonl: column 'extra_info' is missing/);
  });

  it('rows without a question or answer, non-object lines and blank lines: each bad row keeps its index and says why', async () => {
    const f = path.join(tmp, 'mixed.jsonl');
    writeFileSync(
      f,
      [
        '[1, 2]', // the first line is bad: the schema comes from the good rows
        '{"data_source":"vstar","extra_info":{"question":"q1","answer":"a1"}}',
        '',
        '{"data_source":"vstar","extra_info":{"question":"q2"}}',
        'null',
        '{"data_source":"vstar","extra_info":{"answer":"a4"}}',
        '{"data_source":"vstar","extra_info":{"question":"q5","answer":"a5"}}',
      ].join('\n') + '\n',
    );
    const ds = await openDataset(f);
    assert.equal(ds.rowCount, 6, 'the blank line is not a row');
    const got = await collect(ds.samples());
    assert.deepEqual(
      got.map((s) => s.index),
      [0, 1, 2, 3, 4, 5],
    );
    assert.match(got[0].rowError!, /mixed\.jsonl: row 0: line 1 is an array, not a JSON object/);
    assert.equal(got[1].rowError, undefined);
    assert.match(got[2].rowError!, /row 2: no answer \('extra_info\.answer' is missing or null/);
    assert.match(got[3].rowError!, /row 3: line 5 is null, not a JSON object/);
    assert.match(got[4].rowError!, /row 4: no question/);
    assert.equal(got[5].answer, 'a5');
    // resume in the middle: indexes stay the file's
    assert.deepEqual(
      (await collect(ds.samples({ start: 3 }))).map((s) => s.index),
      [3, 4, 5],
    );
    const notJsonl = path.join(tmp, 'table.jsonl');
    writeFileSync(notJsonl, 'a,b\n1,2\n');
    await assert.rejects(
      openDataset(notJsonl),
      /table\.jsonl: not a JSON Lines file: none of its first 2 line\(s\) is a JSON object \(line 1 is not valid JSON/,
    );
  });

  it('a parquet row without its answer is a sample with rowError; the others read as usual', async () => {
    const f = path.join(tmp, 'holes.parquet');
    writeEvalParquet(f, [rows[0], { ...rows[1], answer: null as never }, rows[2]], { omit: ['reward_model'] });
    const got = await collect((await openDataset(f)).samples());
    assert.deepEqual(
      got.map((s) => s.index),
      [0, 1, 2],
    );
    assert.equal(got[0].rowError, undefined);
    assert.match(got[1].rowError!, /holes\.parquet: row 1: no answer/);
    assert.equal(got[2].answer, '3');
  });

  it('a parquet page that does not decode costs its rows (each with the reason), not the file', async () => {
    const f = path.join(tmp, 'damaged.parquet');
    const row = { dataSource: 'vstar', question: 'q', answer: 'a' };
    writeEvalParquet(f, [row, row, row, row, row], { rowGroupSize: 2 });
    const buf = readFileSync(f);
    const meta = parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
    const col = meta.row_groups[1].columns.find((c) => c.meta_data?.path_in_schema.join('.') === 'extra_info.question')!;
    const off = Number(col.meta_data!.data_page_offset);
    buf.fill(0xff, off, off + Number(col.meta_data!.total_compressed_size)); // the second row group's question page
    writeFileSync(f, buf);
    const got = await collect((await openDataset(f)).samples());
    assert.deepEqual(
      got.map((s) => s.index),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(
      got.map((s) => !!s.rowError),
      [false, false, true, true, false],
    );
    assert.match(got[2].rowError!, /damaged\.parquet: row 2: rows 2\.\.3 could not be decoded \(/);
  });

  it('firstImage takes images[0] as the seed: struct bytes, empty bytes -> path, raw bytes', () => {
    assert.deepEqual([...firstImage([{ bytes: png(1), path: 'ignored.png' }], path.join(tmp, 'x.parquet'))!], [...png(1)]);
    assert.deepEqual([...firstImage([{ bytes: new Uint8Array(0), path: 'rel.png' }], path.join(tmp, 'x.parquet'))!], [...png(9)]);
    assert.deepEqual([...firstImage(png(3), tmp)!], [...png(3)]);
    assert.equal(firstImage(null, tmp), undefined);
    assert.throws(() => firstImage([{ bytes: null, path: null }], tmp), /neither bytes nor path/);
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
