/**
 * The training-data loop, measured:
 *
 *   viewer open     a 63,000-row CodeDance-RL parquet in the published card's layout, written
 *                   streaming by the exporter's writer (rlSchema): `messages`, `images`
 *                   list<binary>, `ability`, `reward_model`, and `extra_info` whose
 *                   tools_kwargs holds the image a second time (as the published rows do: that
 *                   is what makes them multi-GB); every image distinct (noise PNG, ~8 KB each,
 *                   CODEDANCE_BENCH_IMAGE_KB to change), row groups of 1000: about 1 GB on disk
 *                   (the size is in the row's name). Opened as the viewer does (footer, then the
 *                   first page of 100 rows) — goal < 1 s; a page at a random place; RSS growth
 *                   after paging through 40 pages spread over the file (memory stays flat:
 *                   goal < 150 MB) and a full filter pass (data_source) over the light columns.
 *   export          SFT rows/s from in-memory trajectories (one input and one output image each).
 *   verify          SFT rows/s replayed in kernels (2 at a time, with image hashing and
 *                   comparison) vs the same code run by plain Python, one process per row,
 *                   2 at a time (baseline).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { resolvePython } from '../src/core/kernel';
import { DatasetView } from '../src/core/training-data/datasetView';
import { exportTrainingData } from '../src/core/training-data/export';
import { sftRow } from '../src/core/training-data/rows';
import { SFT_COLUMNS, sftSchema } from '../src/core/training-data/schema';
import { trajectoryItems } from '../src/core/training-data/sources';
import { verifySftFile } from '../src/core/training-data/verify';
import { writeParquetRows } from '../src/core/training-data/writeParquet';
import { encodePng } from '../test/fixtures/images';
import { writePublishedRl } from '../test/fixtures/publishedRl';
import { fixtureTrajectory, solidPng } from '../test/unit/data/exportFixtures';
import type { BenchResult } from './kernel.bench';

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const mb = () => process.memoryUsage().rss / 2 ** 20;
// a real gc() without --expose-gc on the command line (bench.mjs starts node without flags)
v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

async function pythonRows(python: string, codes: string[][], image: string, concurrency: number): Promise<number> {
  const script = `
import sys, json, io, os, tempfile
from PIL import Image
cells = json.loads(sys.argv[1])
os.chdir(tempfile.mkdtemp())
input_image = Image.open(sys.argv[2]); input_image.load(); input_image.save('input_image.jpg')
ns = {'input_image': input_image}
for c in cells: exec(c, ns)
`;
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < codes.length) {
      const cells = codes[next++];
      await new Promise<void>((resolve, reject) => {
        const p = spawn(python, ['-c', script, JSON.stringify(cells), image], { stdio: 'ignore' });
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`python exit ${code}`))));
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return codes.length / ((performance.now() - t0) / 1000);
}

/** A distinct image per row: a noise PNG (neither compression nor a dictionary shrinks the file), a few variants, the row index appended after IEND. */
function noiseImages(): (i: number) => Uint8Array {
  const kb = Number(process.env.CODEDANCE_BENCH_IMAGE_KB) || 8;
  const side = Math.max(8, Math.round(Math.sqrt((kb * 1024) / 3)));
  const variants = Array.from({ length: 16 }, () => encodePng(side, side, randomBytes(side * side * 3)));
  return (i) => {
    const tag = Buffer.alloc(4);
    tag.writeUInt32BE(i);
    return new Uint8Array(Buffer.concat([variants[i % variants.length], tag]));
  };
}

export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-data-bench-'));
  try {
    // ---- viewer on 63k rows ----
    const rl = path.join(tmp, 'codedance_rl.parquet');
    const tg = performance.now();
    await writePublishedRl(rl, { rows: 63_000, image: noiseImages() });
    const gb = statSync(rl).size / 2 ** 30;
    console.error(`data bench: wrote the 63k-row RL parquet (${gb.toFixed(2)} GiB) in ${((performance.now() - tg) / 1000).toFixed(1)} s`);
    gc();
    const rss0 = mb();
    const t0 = performance.now();
    const view = await DatasetView.open(rl);
    await view.page(0);
    const openMs = performance.now() - t0;
    results.push({
      name: `data: viewer open + first page (63k-row RL parquet, ${gb.toFixed(2)} GiB)`,
      value: round(openMs),
      unit: 'ms',
      goal: '< 1000 ms',
      pass: openMs < 1000,
    });
    const tp = performance.now();
    for (let k = 0; k < 40; k++) await view.page(Math.floor((k * 629) / 39)); // spread over all 630 pages
    const pageMs = (performance.now() - tp) / 40;
    results.push({
      name: 'data: viewer page of 100 rows (random place)',
      value: round(pageMs),
      unit: 'ms',
      goal: '< 200 ms',
      pass: pageMs < 200,
    });
    const tf = performance.now();
    const f = await view.filter({ dataSource: 'chart' });
    const filterMs = performance.now() - tf;
    results.push({
      name: `data: viewer filter pass over 63k rows (${f.indexes.length} match)`,
      value: round(filterMs),
      unit: 'ms',
      goal: '< 10000 ms',
      pass: filterMs < 10_000,
    });
    gc();
    const grow = mb() - rss0;
    results.push({
      name: 'data: viewer RSS growth (open, 40 pages, a filter pass)',
      value: round(grow),
      unit: 'MB',
      goal: '< 150 MB',
      pass: grow < 150,
    });

    // ---- export ----
    const input = solidPng(224, 224, [200, 30, 30]);
    const plot = solidPng(112, 112, [0, 0, 255]);
    const n = 2000;
    const trajs = Array.from({ length: n }, (_, i) => ({
      trajectory: fixtureTrajectory({
        id: `t${i}`,
        question: `q${i}`,
        input,
        turns: [{ code: 'print(input_image.size)', stdout: '(224, 224)', images: [plot] }],
        answer: 'x',
      }),
      origin: `t${i}`,
    }));
    const te = performance.now();
    const s = await exportTrainingData({ format: 'sft', out: path.join(tmp, 'sft.parquet'), items: trajectoryItems(trajs) });
    const exportRate = s.rows / ((performance.now() - te) / 1000);
    results.push({
      name: 'data: export SFT rows/s (2 images a row)',
      value: round(exportRate),
      unit: 'rows/s',
      goal: '> 500 rows/s',
      pass: exportRate > 500,
    });

    // ---- verify vs plain Python ----
    const py = (await resolvePython({ explicit: process.env.CODEDANCE_PYTHON })).python;
    const cells = ['print(input_image.size)', 'import numpy as np\nprint(int(np.asarray(input_image).mean()))'];
    const rows = 16;
    const vt = Array.from(
      { length: rows },
      (_, i) =>
        sftRow(
          fixtureTrajectory({ id: `v${i}`, question: 'q', input, turns: cells.map((code) => ({ code, stdout: '' })), answer: 'a' }),
        ) as unknown as Record<string, unknown>,
    );
    const sft = path.join(tmp, 'verify.parquet');
    await writeParquetRows({ file: sft, schema: sftSchema(), columns: SFT_COLUMNS, rows: vt });
    const tv = performance.now();
    const r = await verifySftFile({ file: sft, out: path.join(tmp, 'verify.jsonl'), python: py, concurrency: 2, sandbox: 'off' });
    const verifyRate = r.ran / ((performance.now() - tv) / 1000);
    const imgFile = path.join(tmp, 'input.png');
    (await import('node:fs')).writeFileSync(imgFile, input);
    const baseRate = await pythonRows(
      py,
      Array.from({ length: rows }, () => cells),
      imgFile,
      2,
    );
    results.push({
      name: 'data: verify rows/s (kernels, 2 at a time) vs plain Python (ratio: time ours/theirs)',
      value: round(verifyRate, 2),
      unit: 'rows/s',
      baseline: round(baseRate, 2),
      ratio: round(baseRate / verifyRate, 2),
      goal: 'report',
      pass: r.ran === rows,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}
