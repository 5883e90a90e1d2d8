/**
 * The catalog's entries (names, pins, routes), a user's own entries (valibot-checked, and the
 * column mapping converter on a Hub-shaped file), and the written parquet read back by the
 * eval's own dataset reader (`codedance eval --data-path`).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BenchmarkError,
  CATALOG,
  MATH_DATA_SOURCES,
  assertPinned,
  convertBenchmark,
  convertedFileName,
  findBenchmark,
  isPinned,
  loadUserBenchmarks,
  offlineFiles,
  writeBenchmarkParquet,
  type BenchmarkEntry,
  type SeedEvalRow,
} from '../../../src/core/benchmarks';
import { openDataset } from '../../../src/core/data/dataset';
import { readParquetRows } from '../../../src/core/data/parquet';
import { HUB_FIXTURES, MATHVISION_ROWS, png } from '../../fixtures/benchmarks/hubFixtures';

const REV = '0123456789abcdef0123456789abcdef01234567';

function userEntry(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'my_charts',
    title: 'My charts',
    repo: 'lmms-lab-encoder/ChartQA',
    revision: REV,
    files: ['data/test-00000-of-00001.parquet'],
    license: 'cc-by-4.0',
    rows: 2,
    scoring: 'judge',
    dataSource: 'my_charts',
    columns: { question: 'question', answer: 'answer', image: 'image' },
    ...over,
  };
}

async function collect(e: BenchmarkEntry, repoDir = e.repo): Promise<SeedEvalRow[]> {
  const out: SeedEvalRow[] = [];
  for await (const r of convertBenchmark(e, offlineFiles(path.join(HUB_FIXTURES, repoDir)))) out.push(r);
  return out;
}

describe('benchmarks: the catalog', () => {
  it('holds the sets issue #24 asks for, each named once, with files, sources and a route matching its data_source', () => {
    assert.deepEqual(
      CATALOG.map((e) => e.name),
      [
        'vstar',
        'hrbench4k',
        'hrbench8k',
        'mathvista_testmini',
        'mathverse_testmini_vision_only',
        'mathvision_testmini',
        'countbench',
        'chartqa_test',
        'pixmo_count_test',
      ],
    );
    for (const e of CATALOG) {
      assert.ok(e.files.length && e.sources.length && e.rows > 0 && e.license, e.name);
      assert.equal(e.scoring === 'math', MATH_DATA_SOURCES.includes(e.dataSource), `${e.name}: route and data_source`);
      assert.ok(isPinned(e) || e.revision.startsWith('UNPINNED: '), `${e.name}: revision`);
    }
    assert.deepEqual(
      CATALOG.filter((e) => e.scoring === 'math').map((e) => e.name),
      ['mathvista_testmini', 'mathverse_testmini_vision_only', 'mathvision_testmini'],
    );
  });

  it('findBenchmark: an unknown name lists the known ones', () => {
    assert.equal(findBenchmark('vstar').repo, 'craigwu/vstar_bench');
    assert.throws(
      () => findBenchmark('mmmu'),
      (e: Error) =>
        e instanceof BenchmarkError &&
        /unknown benchmark 'mmmu'/.test(e.message) &&
        /vstar, hrbench4k, hrbench8k, mathvista_testmini/.test(e.message),
    );
  });

  it('an unpinned entry is refused before fetching, saying where to find its commit', () => {
    const hr = findBenchmark('hrbench4k');
    assert.equal(isPinned(hr), false);
    assert.throws(
      () => assertPinned(hr),
      /hrbench4k \(DreamMr\/HR-Bench\) is not pinned to a commit.*https:\/\/huggingface\.co\/datasets\/DreamMr\/HR-Bench\/commits\/main/s,
    );
    assert.throws(() => convertedFileName(hr), BenchmarkError);
    assert.doesNotThrow(() => assertPinned(findBenchmark('vstar')));
    assert.equal(convertedFileName(findBenchmark('vstar')), 'vstar-d9ae62c903da0c98336e85c5ee89cd863b04b4da.parquet');
  });
});

describe('benchmarks: a user’s own entries', () => {
  it('loads a valid entry (an array or {benchmarks}), split defaulting to test', () => {
    const [e] = loadUserBenchmarks([userEntry()]);
    assert.equal(e.name, 'my_charts');
    assert.equal(e.split, 'test');
    assert.deepEqual(e.sources, []);
    assert.equal(loadUserBenchmarks({ benchmarks: [userEntry({ split: 'val' })] })[0].split, 'val');
  });

  const bad: [string, Record<string, unknown> | unknown, RegExp][] = [
    ['a short revision', userEntry({ revision: 'abc123' }), /0\.revision: the 40-hex commit/],
    ['no image column', userEntry({ columns: { question: 'q', answer: 'a' } }), /columns\.image/],
    ['a path leaving the repository', userEntry({ files: ['../x.parquet'] }), /0\.files\.0: a path inside the repository/],
    ['math scoring with a judge data_source', userEntry({ scoring: 'math' }), /scoring and dataSource disagree/],
    ['an unknown field', userEntry({ colums: {} }), /colums/],
    ['a row count of 0', userEntry({ rows: 0 }), /rows/],
    ['a file that is not a list', 'vstar', /holds string, not a list of entries/],
  ];
  for (const [what, json, re] of bad)
    it(`refuses ${what}`, () => {
      assert.throws(
        () => loadUserBenchmarks(typeof json === 'string' ? json : [json]),
        (e: Error) => e instanceof BenchmarkError && re.test(e.message),
      );
    });

  it('refuses a built-in name and a name given twice', () => {
    assert.throws(() => loadUserBenchmarks([userEntry({ name: 'vstar' })]), /'vstar' which is a built-in benchmark/);
    assert.throws(() => loadUserBenchmarks([userEntry(), userEntry()]), /'my_charts' twice/);
  });

  it('converts with its column mapping: question then lettered options from a list column, row by row', async () => {
    const [e] = loadUserBenchmarks([
      userEntry({
        name: 'my_mathvision',
        repo: 'MathLLMs/MathVision',
        files: ['data/testmini-00000-of-00001-f8ff70fcb2f29b1d.parquet'],
        dataSource: 'xince',
        scoring: 'math',
        split: 'testmini',
        columns: { question: 'question', answer: 'answer', image: 'decoded_image', options: 'options', id: 'id' },
      }),
    ]);
    const rows = await collect(e);
    assert.equal(rows.length, 2);
    assert.equal(rows[0].extra_info.question, 'Which of the figures shows the folded paper?\n<image1>\nA. A\nB. B\nC. C\nD. D\nE. E');
    assert.equal(rows[1].extra_info.question, 'How many dots are hidden under the card?');
    assert.deepEqual(
      rows.map((r) => [r.reward_model.ground_truth, r.extra_info.id, r.data_source, r.extra_info.split]),
      [
        ['C', '4', 'xince', 'testmini'],
        ['7', '8', 'xince', 'testmini'],
      ],
    );
    rows.forEach((r, i) => assert.ok(Buffer.from(r.images[0].bytes).equals(Buffer.from(png(MATHVISION_ROWS[i].image)))));
  });

  it('converts with a prompt template over option columns and other columns', async () => {
    const [e] = loadUserBenchmarks([
      userEntry({
        name: 'my_hr',
        repo: 'DreamMr/HR-Bench',
        files: ['hr_bench_4k.parquet'],
        rows: 3,
        columns: {
          question: 'question',
          answer: 'answer',
          image: 'image',
          options: ['A', 'B', 'C', 'D'],
          prompt: '[{category}] {question}\n{options}\nLetter?',
        },
      }),
    ]);
    const rows = await collect(e);
    assert.equal(rows[0].extra_info.question, '[single] What is the color of the umbrella?\nA. red\nB. green\nC. blue\nD. black\nLetter?');
    assert.equal(rows[2].reward_model.ground_truth, 'D');
    assert.equal(rows[2].extra_info.id, '2');
  });

  it('a template naming a column the file lacks is refused with the file’s columns', async () => {
    const [e] = loadUserBenchmarks([
      userEntry({ columns: { question: 'question', answer: 'answer', image: 'image', prompt: '{question} {nope}' } }),
    ]);
    await assert.rejects(collect(e), /has no column 'nope' \(columns: type, question, answer, image\)/);
  });
});

describe('benchmarks: the written parquet, read back by the eval', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-bench-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('holds the seed’s eval rows: data_source, {bytes, path} images, extra_info, reward_model, prompt', async () => {
    const e = { ...findBenchmark('mathvision_testmini'), rows: 2 };
    const rows = await collect(e);
    const file = path.join(tmp, 'mv.parquet');
    assert.equal(await writeBenchmarkParquet(rows, file, { entry: e, rowGroupSize: 1 }), 2);

    const ds = await openDataset(file);
    assert.equal(ds.rowCount, 2);
    const samples = [];
    for await (const s of ds.samples()) samples.push(s);
    samples.forEach((s, i) => {
      assert.equal(s.dataSource, 'thinklite_eureka');
      assert.equal(s.question, rows[i].extra_info.question);
      assert.equal(s.answer, rows[i].extra_info.answer);
      assert.equal(s.rowError, undefined);
      assert.equal(s.imageError, undefined);
      assert.ok(Buffer.from(s.images[0]).equals(Buffer.from(png(MATHVISION_ROWS[i].image))));
    });

    const raw = [];
    for await (const r of readParquetRows(file)) raw.push(r.row);
    assert.deepEqual(
      raw.map((r) => [r.extra_info, r.reward_model, r.prompt, r.ability]),
      rows.map((r) => [
        { ...r.extra_info },
        { ground_truth: r.reward_model.ground_truth, style: 'rule' },
        [{ role: 'user', content: `<image>${r.extra_info.question}` }],
        'visual_reasoning',
      ]),
    );
  });

  it('a conversion that fails (the row count) leaves no file', async () => {
    const e = findBenchmark('countbench');
    const file = path.join(tmp, 'cb.parquet');
    await assert.rejects(
      writeBenchmarkParquet(convertBenchmark(e, offlineFiles(path.join(HUB_FIXTURES, e.repo))), file, { entry: e }),
      /has 2 rows .* expected 491/,
    );
    assert.equal(existsSync(file), false);
  });
});
