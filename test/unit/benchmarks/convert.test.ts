/**
 * Each catalog set's converter on its fixture (test/fixtures/benchmarks/hub, laid out as the Hub
 * repository), row by row: the question text as lmms-eval builds it (written out here by hand,
 * not by the code under test), the ground truth, the image bytes as the fixture holds them, the
 * index, id, split and data_source. A row count other than the entry's is an error.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  BenchmarkError,
  convertBenchmark,
  findBenchmark,
  offlineFiles,
  referencedFiles,
  type SeedEvalRow,
} from '../../../src/core/benchmarks';
import {
  CHARTQA_ROWS,
  COUNTBENCH_ROWS,
  HRBENCH_ROWS,
  HUB_FIXTURES,
  MATHVERSE_QUERY_FREE,
  MATHVERSE_QUERY_MC,
  MATHVERSE_ROWS,
  MATHVISION_ROWS,
  MATHVISTA_ROWS,
  PIXMO_ROWS,
  jpeg,
  png,
  writeHubFixtures,
} from '../../fixtures/benchmarks/hubFixtures';

const V = "Answer with the option's letter from the given choices directly.";
const BOXED = 'Please solve the problem step by step and put your answer in one "\\boxed{}".';

/** The fixture copy of the entry's repository, with the fixture's row count and a pinned revision. */
function fixtureEntry(name: string, rows: number) {
  return { ...findBenchmark(name), rows, revision: 'f'.repeat(40) };
}

async function convert(name: string, rows: number): Promise<SeedEvalRow[]> {
  const e = fixtureEntry(name, rows);
  const out: SeedEvalRow[] = [];
  for await (const r of convertBenchmark(e, offlineFiles(path.join(HUB_FIXTURES, e.repo)))) out.push(r);
  return out;
}

interface Want {
  question: string;
  answer: string;
  image: Uint8Array;
  id: string;
  path?: string | null;
}

function check(rows: SeedEvalRow[], name: string, want: Want[]): void {
  const e = findBenchmark(name);
  assert.equal(rows.length, want.length);
  rows.forEach((r, i) => {
    const w = want[i];
    assert.equal(r.extra_info.question, w.question, `${name} row ${i} question`);
    assert.deepEqual(r.prompt, [{ role: 'user', content: `<image>${w.question}` }], `${name} row ${i} prompt`);
    assert.equal(r.extra_info.answer, w.answer, `${name} row ${i} answer`);
    assert.equal(r.reward_model.ground_truth, w.answer, `${name} row ${i} ground truth`);
    assert.equal(r.reward_model.style, 'rule');
    assert.equal(r.images.length, 1);
    assert.ok(Buffer.from(r.images[0].bytes).equals(Buffer.from(w.image)), `${name} row ${i} image bytes`);
    if (w.path !== undefined) assert.equal(r.images[0].path, w.path);
    assert.equal(r.extra_info.index, BigInt(i));
    assert.equal(r.extra_info.id, w.id);
    assert.equal(r.extra_info.split, e.split);
    assert.equal(r.extra_info.benchmark, name);
    assert.equal(r.data_source, e.dataSource);
  });
}

const fixtureFile = (repo: string, p: string) => readFileSync(path.join(HUB_FIXTURES, repo, p));

describe('benchmarks: each set converted from its Hub-shaped fixture, row by row', () => {
  it('V*: options re-lettered, the instruction twice (as lmms-eval sends it), ground truth letter + option, images from the repository', async () => {
    const rows = await convert('vstar', 3);
    check(rows, 'vstar', [
      {
        question: `What is the material of the glove?\nA. rubber\nB. cotton\nC. kevlar\nD. leather\n${V}\n${V}`,
        answer: 'A. rubber',
        image: fixtureFile('craigwu/vstar_bench', 'direct_attributes/sa_4690.jpg'),
        id: '0',
        path: 'direct_attributes/sa_4690.jpg',
      },
      {
        question: `What is the color of the dustpan?\nA. purple\nB. red\nC. blue\nD. white\n${V}\n${V}`,
        answer: 'C. blue',
        image: fixtureFile('craigwu/vstar_bench', 'direct_attributes/sa_86101.jpg'),
        id: '1',
      },
      {
        question: `Is the telephone on the left or right side of the hand lamp?\nA. left\nB. right\n${V}\n${V}`,
        answer: 'B. right',
        image: fixtureFile('craigwu/vstar_bench', 'relative_position/sa_24971.jpg'),
        id: '115',
      },
    ]);
    assert.equal(rows[0].data_source, 'vstar');
  });

  it('V*: the images to fetch are the ones test_questions.jsonl names', async () => {
    const e = fixtureEntry('vstar', 3);
    const got = await referencedFiles(e, offlineFiles(path.join(HUB_FIXTURES, e.repo)));
    assert.deepEqual(got, ['direct_attributes/sa_4690.jpg', 'direct_attributes/sa_86101.jpg', 'relative_position/sa_24971.jpg']);
    assert.deepEqual(await referencedFiles(fixtureEntry('countbench', 2), offlineFiles(HUB_FIXTURES)), []);
  });

  for (const k of ['4k', '8k'] as const) {
    it(`HR-Bench ${k}: question, A.–D. lines, "Answer the option letter directly.", image decoded from base64`, async () => {
      const rows = await convert(`hrbench${k}`, 3);
      const jpegOf = (i: number) => jpeg(i);
      check(rows, `hrbench${k}`, [
        {
          question: 'What is the color of the umbrella?\nA. red\nB. green\nC. blue\nD. black\nAnswer the option letter directly.',
          answer: 'C. blue',
          image: jpegOf(HRBENCH_ROWS[0].image),
          id: '0',
          path: null,
        },
        {
          question: 'How many boats are on the river?\nA. 2\nB. 3\nC. 4\nD. 5\nAnswer the option letter directly.',
          answer: 'A. 2',
          image: jpegOf(HRBENCH_ROWS[1].image),
          id: '1',
        },
        {
          question: 'Which sign is closer to the bus?\nA. STOP\nB. EXIT\nC. WAIT\nD. GO\nAnswer the option letter directly.',
          answer: 'D. GO',
          image: jpegOf(HRBENCH_ROWS[2].image),
          id: '2',
        },
      ]);
    });
  }

  it('MathVista testmini: format-prompt hints per answer type, (Unit: …), multiple choice answered by letter', async () => {
    const rows = await convert('mathvista_testmini', 3);
    check(rows, 'mathvista_testmini', [
      {
        question: `What fraction of the shape is blue?\nA. 3/11\nB. 8/11\nC. 6/11\nD. 3/5\n${V}`,
        answer: 'B',
        image: png(MATHVISTA_ROWS[0].image),
        id: '1',
      },
      {
        question: 'What is the total volume of the measuring cup? (Unit: g)\nAnswer the question using a single integer number.',
        answer: '1000',
        image: png(MATHVISTA_ROWS[1].image),
        id: '2',
      },
      {
        question: 'Find x.\nAnswer the question using a single floating-point number with one decimal place.',
        answer: '2.5',
        image: png(MATHVISTA_ROWS[2].image),
        id: '3',
      },
    ]);
    assert.equal(rows[0].data_source, 'thinklite_eureka');
  });

  it('MathVerse vision-only: the query_wo text, stripped; the answer as given', async () => {
    const rows = await convert('mathverse_testmini_vision_only', 2);
    check(rows, 'mathverse_testmini_vision_only', [
      { question: MATHVERSE_QUERY_MC, answer: 'B', image: png(MATHVERSE_ROWS[0].image), id: '5', path: '5.png' },
      { question: MATHVERSE_QUERY_FREE, answer: '12', image: png(MATHVERSE_ROWS[1].image), id: '10' },
    ]);
  });

  it('MathVision testmini: the \\boxed{} instruction glued to the question, Choices: and the letter instruction', async () => {
    const rows = await convert('mathvision_testmini', 2);
    check(rows, 'mathvision_testmini', [
      {
        question: `${BOXED}Which of the figures shows the folded paper?\n<image1>\nChoices: A. A\nB. B\nC. C\nD. D\nE. E\nAnswer the question with the option's letter from the given choices directly.`,
        answer: 'C',
        image: png(MATHVISION_ROWS[0].image),
        id: '4',
      },
      { question: `${BOXED}How many dots are hidden under the card?`, answer: '7', image: png(MATHVISION_ROWS[1].image), id: '8' },
    ]);
  });

  it('CountBench: the counting pre-prompt, the number as the answer', async () => {
    const pre = 'Look at the image carefully and count the objects. Answer with just a number, without any additional text. ';
    const rows = await convert('countbench', 2);
    check(rows, 'countbench', [
      { question: `${pre}How many dogs are in the image?`, answer: '3', image: png(COUNTBENCH_ROWS[0].image), id: '0' },
      { question: `${pre}How many crayons are in the image?`, answer: '10', image: png(COUNTBENCH_ROWS[1].image), id: '1' },
    ]);
  });

  it('ChartQA test: the single-word post-prompt', async () => {
    const rows = await convert('chartqa_test', 2);
    check(rows, 'chartqa_test', [
      {
        question: 'How many food item is shown in the bar graph?\nAnswer the question with a single word.',
        answer: '14',
        image: png(CHARTQA_ROWS[0].image),
        id: '0',
      },
      {
        question: 'What is the value of the largest bar?\nAnswer the question with a single word.',
        answer: '48',
        image: png(CHARTQA_ROWS[1].image),
        id: '1',
      },
    ]);
  });

  it('PixMo-count test: <image> removed, the single-number post-prompt, the answer trimmed', async () => {
    const rows = await convert('pixmo_count_test', 2);
    check(rows, 'pixmo_count_test', [
      { question: 'How many cars are there?\nAnswer with a single number.', answer: '4', image: png(PIXMO_ROWS[0].image), id: '0' },
      { question: 'How many birds are there?\nAnswer with a single number.', answer: '7', image: png(PIXMO_ROWS[1].image), id: '1' },
    ]);
  });
});

describe('benchmarks: a row count other than the expected one, missing files', () => {
  it('refuses a set whose files hold another number of rows, naming both counts and the file', async () => {
    const e = { ...findBenchmark('mathvista_testmini'), revision: 'f'.repeat(40) };
    const it = convertBenchmark(e, offlineFiles(path.join(HUB_FIXTURES, e.repo)))[Symbol.asyncIterator]();
    await assert.rejects(
      it.next(),
      (err: Error) =>
        err instanceof BenchmarkError &&
        /mathvista_testmini \(AI4Math\/MathVista@ffffffffffff\) has 3 rows \(data\/testmini-00000-of-00001-725687bf7a18d64b\.parquet: 3\), expected 1000/.test(
          err.message,
        ) &&
        /fetch it again/.test(err.message),
    );
  });

  it('counts JSON Lines rows too (V*: 3, expected 191)', async () => {
    const e = { ...findBenchmark('vstar'), revision: 'f'.repeat(40) };
    await assert.rejects(async () => {
      for await (const _ of convertBenchmark(e, offlineFiles(path.join(HUB_FIXTURES, e.repo)))) void _;
    }, /vstar .* has 3 rows \(test_questions\.jsonl: 3\), expected 191/);
  });

  it('a file missing from the copy names the set, the file and where it looked', async () => {
    const e = fixtureEntry('countbench', 2);
    await assert.rejects(
      convertBenchmark(e, offlineFiles(path.join(HUB_FIXTURES, 'nowhere')))
        [Symbol.asyncIterator]()
        .next(),
      /countbench \(vikhyatk\/CountBenchQA@ffffffffffff\): data\/test-00000-of-00001\.parquet is missing \(looked for .*nowhere.*ENOENT\)/,
    );
  });

  it('a missing column names it and the columns the file has', async () => {
    const e = { ...fixtureEntry('chartqa_test', 2), files: ['data/test-00000-of-00001.parquet'], repo: 'vikhyatk/CountBenchQA' };
    await assert.rejects(
      convertBenchmark(e, offlineFiles(path.join(HUB_FIXTURES, e.repo)))
        [Symbol.asyncIterator]()
        .next(),
      /has no column 'answer' \(columns: image, text, question, number\)/,
    );
  });

  it('an offline copy refuses paths that leave the repository', () => {
    assert.throws(() => offlineFiles('/tmp/x').path('../etc/passwd'), BenchmarkError);
    assert.equal(offlineFiles('/tmp/x').path('data/a.parquet'), path.join('/tmp/x', 'data', 'a.parquet'));
  });
});

describe('benchmarks: the committed fixtures', () => {
  it('are what hubFixtures.ts writes, file for file and byte for byte', () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-hubfix-'));
    try {
      writeHubFixtures(tmp);
      const list = (d: string) =>
        (readdirSync(d, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
          .filter((e) => e.isFile())
          .map((e) => path.relative(d, path.join(e.parentPath, e.name)))
          .sort();
      const files = list(tmp);
      assert.deepEqual(list(HUB_FIXTURES), files);
      assert.ok(files.length >= 12);
      for (const f of files) assert.ok(readFileSync(path.join(tmp, f)).equals(readFileSync(path.join(HUB_FIXTURES, f))), f);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
