/**
 * `verifySftFile` with a real kernel (/usr/bin/python3 with ipykernel): an SFT parquet written by
 * the test (through the exporter's own row builder) with one row whose code reproduces its
 * recorded output (text and a drawn image), one whose output differs, one whose code fails, one
 * without code and one that cannot be read (an <image> token without its image). Each is
 * classified; the results file is resumable; the summary is per data_source.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readResults } from '../../../src/core/eval/resultsFile';
import { sftRow } from '../../../src/core/training-data/rows';
import { sftSchema, SFT_COLUMNS } from '../../../src/core/training-data/schema';
import { verifySftFile, type VerifyRecord } from '../../../src/core/training-data/verify';
import { writeParquetRows } from '../../../src/core/training-data/writeParquet';
import { encodePng } from '../../fixtures/images';
import { fixtureTrajectory, solidPng } from '../../unit/data/exportFixtures';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

describe('codedance data verify: replaying SFT rows in fresh kernels', function () {
  this.timeout(240_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-verify-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('classifies reproducing, differing, failing, code-less and unreadable rows, and resumes', async () => {
    const input = solidPng(56, 56, [200, 30, 30]);
    const blue = solidPng(64, 64, [0, 0, 255]);
    const rows = [
      fixtureTrajectory({
        id: 'ok',
        question: 'size?',
        input,
        turns: [
          { code: 'print(input_image.size)', stdout: '(56, 56)' },
          { code: "from PIL import Image\nw, h = input_image.size\nImage.new('RGB', (w + 8, h + 8), (0, 0, 255)).show()", images: [blue] },
        ],
        answer: '56',
      }),
      fixtureTrajectory({
        id: 'differs',
        question: 'size?',
        input,
        turns: [{ code: 'print(input_image.size)', stdout: '(100, 100)' }],
        answer: '100',
      }),
      fixtureTrajectory({
        id: 'fails',
        question: 'x?',
        input,
        turns: [
          { code: 'print(1)', stdout: '1' },
          { code: 'print(undefined_name)', stdout: 'hello' },
        ],
        answer: 'hello',
      }),
      fixtureTrajectory({ id: 'nocode', question: 'colour?', input, turns: [], answer: 'red' }),
    ].map((t) => sftRow(t) as unknown as Record<string, unknown>);
    rows.push({
      messages: [
        { role: 'user', content: '<image>what?' },
        { role: 'assistant', content: '<code>\n```python\nprint(1)\n```\n</code>' },
      ],
      images: [],
    });
    // images that differ: in size (recorded 40×40, drawn 64×64), and in content (a dark-to-light
    // gradient recorded, a solid square drawn: the perceptual hashes are far apart)
    const draw = "from PIL import Image\nImage.new('RGB', (64, 64), (0, 0, 255)).show()";
    const gradient = Buffer.from(
      encodePng(
        64,
        64,
        Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => 255 - 4 * (Math.floor(i / 3) % 64)),
      ),
    );
    rows.push(
      sftRow(
        fixtureTrajectory({
          id: 'size',
          question: 'q',
          input,
          turns: [{ code: draw, images: [solidPng(40, 40, [0, 0, 255])] }],
          answer: 'a',
        }),
      ) as unknown as Record<string, unknown>,
    );
    rows.push(
      sftRow(
        fixtureTrajectory({ id: 'content', question: 'q', input, turns: [{ code: draw, images: [gradient] }], answer: 'a' }),
      ) as unknown as Record<string, unknown>,
    );
    const file = path.join(tmp, 'sft.parquet');
    await writeParquetRows({ file, schema: sftSchema(), columns: SFT_COLUMNS, rows, rowGroupSize: 2 });

    const out = path.join(tmp, 'sft.verify.jsonl');
    const seen: number[] = [];
    const r = await verifySftFile({
      file,
      out,
      python: PYTHON,
      concurrency: 2,
      timeoutMs: 20_000,
      sandbox: 'off',
      onProgress: (p) => seen.push(p.done),
    });
    assert.equal(r.ran, 7);
    assert.equal(seen.at(-1), 7);
    const recs = new Map<number, VerifyRecord>();
    for await (const x of readResults<VerifyRecord>(out)) recs.set(x.index, x);
    assert.equal(recs.get(0)?.status, 'reproduces', JSON.stringify(recs.get(0)));
    assert.equal(recs.get(0)?.cells, 2);
    const d = recs.get(1)!;
    assert.equal(d.status, 'differs');
    assert.equal(d.diffs?.[0].turn, 0);
    assert.equal(d.diffs?.[0].what, 'text');
    assert.match(d.diffs![0].expected, /\(100, 100\)/);
    assert.match(d.diffs![0].got, /\(56, 56\)/);
    const f = recs.get(2)!;
    assert.equal(f.status, 'fails');
    assert.deepEqual(f.error, { turn: 1, message: "NameError: name 'undefined_name' is not defined" });
    assert.equal(recs.get(3)?.status, 'no_code');
    const bad = recs.get(4)!;
    assert.equal(bad.status, 'invalid');
    assert.match(bad.reason!, /1 <image> token\(s\) but the row has 0 image/);
    assert.deepEqual(
      recs.get(5)?.diffs?.map((x) => [x.what, x.expected, x.got]),
      [['image size', 'image 0: 40×40', '64×64']],
    );
    assert.equal(recs.get(6)?.diffs?.[0].what, 'image content');
    assert.match(recs.get(6)!.diffs![0].got, /\(\d+ of 64 bits differ\)/);
    assert.deepEqual(
      { rows: r.summary.total.rows, executable: r.summary.total.executablePct, reproduces: r.summary.total.reproducesPct },
      { rows: 7, executable: 80, reproduces: 20 },
    );
    assert.deepEqual(Object.keys(r.summary.bySource), ['default']);

    // a rerun resumes: nothing runs again, the summary is the same
    const again = await verifySftFile({ file, out, python: PYTHON, concurrency: 2, sandbox: 'off' });
    assert.equal(again.ran, 0);
    assert.equal(again.resumed, 7);
    assert.deepEqual(again.summary, r.summary);
  });

  it('cancel stops between cells and keeps the finished rows; a rerun runs only the rest', async () => {
    const input = solidPng(56, 56, [1, 2, 3]);
    const rows = [0, 1, 2, 3].map(
      (i) =>
        sftRow(
          fixtureTrajectory({
            id: `s${i}`,
            question: 'q',
            input,
            turns: [{ code: `import time\ntime.sleep(1.5)\nprint(${i})`, stdout: String(i) }],
            answer: 'a',
          }),
        ) as unknown as Record<string, unknown>,
    );
    const file = path.join(tmp, 'slow.parquet');
    await writeParquetRows({ file, schema: sftSchema(), columns: SFT_COLUMNS, rows });
    const out = path.join(tmp, 'slow.verify.jsonl');
    const ctrl = new AbortController();
    const first = await verifySftFile({
      file,
      out,
      python: PYTHON,
      concurrency: 1,
      sandbox: 'off',
      signal: ctrl.signal,
      onRecord: () => ctrl.abort(),
    });
    assert.equal(first.cancelled, true);
    assert.equal(first.ran, 1);
    const rest = await verifySftFile({ file, out, python: PYTHON, concurrency: 2, sandbox: 'off' });
    assert.equal(rest.cancelled, false);
    assert.equal(rest.resumed, 1);
    assert.equal(rest.ran, 3);
    assert.equal(rest.summary.total.reproduces, 4);
  });
});
