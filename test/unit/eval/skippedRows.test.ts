/**
 * Rows the eval cannot use cost one sample, not the run: a JSONL line that is not JSON, a row
 * without its answer (JSONL and parquet), an image Pillow cannot open — each is recorded as a
 * skipped sample with its index and reason, the run goes on, the stats count it, and a resume
 * gets past it. A worker that fails stops the run only after every running sample has given its
 * kernel back.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, runEval, type EvalOptions, type KernelSource } from '../../../src/core/eval';
import type { KernelSession } from '../../../src/core/kernel/types';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { fixtureEvalOptions } from './fixtureEval';
import { StubKernel } from './stubKernel';

const readLines = (f: string) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('eval: unusable rows are recorded as skipped and the run goes on', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  const img = circlesImage({ red: 3, seed: 4 });
  const good = (i: number) =>
    JSON.stringify({
      data_source: 'vstar',
      images: [{ bytes: img.png.toString('base64') }],
      extra_info: { question: `${circlesQuestion('red')} (${i})`, answer: '3' },
    });

  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-skip-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  beforeEach(async () => (fm = await startFixtureModel()));
  afterEach(async () => fm.close());

  const opts = (dataPath: string, save: string, extra: Partial<EvalOptions> = {}): EvalOptions =>
    fixtureEvalOptions(fm.baseUrl, dataPath, save, { numWorkers: 2, ...extra });

  it('JSONL: a line that is not JSON and a row without its answer are skipped with index and reason; resume gets past them', async () => {
    const data = path.join(tmp, 'bad.jsonl');
    const lines = [
      good(0),
      '{"data_source": "vstar", "extra_info": {"question": "q"',
      good(2),
      JSON.stringify({ data_source: 'vstar', extra_info: { question: 'no answer here' } }),
      good(4),
      good(5),
    ];
    writeFileSync(data, lines.join('\n') + '\n');
    const save = path.join(tmp, 'jsonl');
    // first run stops before the bad rows; the resume must run across them
    const first = await runEval(opts(data, save, { limit: 1 }));
    assert.equal(first.ranNow, 1);
    const progress: { skipped: number; done: number }[] = [];
    const s = await runEval(opts(data, save, { onProgress: (p) => progress.push({ skipped: p.skipped, done: p.done }) }));
    assert.equal(s.ranNow, 5);
    const p = evalPaths(save, 'm', 'bad');
    const recs = readLines(p.results);
    assert.deepEqual(recs.map((r) => r.index).sort(), [0, 1, 2, 3, 4, 5]);
    const byIndex = new Map(recs.map((r) => [r.index, r]));
    const r1 = byIndex.get(1)!;
    assert.equal(r1.codedance.skipped, true);
    assert.equal(r1.codedance.outcome, 'skipped');
    assert.equal(r1.codedance.error.name, 'BadRow');
    assert.match(r1.codedance.error.message, /bad\.jsonl: row 1: line 2 is not valid JSON/);
    const r3 = byIndex.get(3)!;
    assert.equal(r3.codedance.error.name, 'BadRow');
    assert.match(r3.codedance.error.message, /row 3: no answer/);
    assert.equal(r3.question, 'no answer here');
    for (const i of [0, 2, 4, 5]) assert.equal(byIndex.get(i)!.codedance.skipped, undefined);
    assert.equal(s.stats.total_samples, 4, 'skipped rows are left out of the seed stats');
    assert.equal(s.stats.codedance.skipped_samples, 2);
    assert.deepEqual(s.stats.codedance.skipped_by_reason, { BadRow: 2 });
    assert.equal(progress[progress.length - 1].skipped, 2);
    const stats = JSON.parse(readFileSync(p.stats, 'utf8'));
    assert.equal(stats.codedance.skipped_samples, 2);
    const m = JSON.parse(readFileSync(p.manifest, 'utf8'));
    assert.deepEqual(
      m.runs.map((r: { ran: number; skipped: number }) => [r.ran, r.skipped]),
      [
        [1, 0],
        [5, 2],
      ],
    );
    // a third run has nothing left to do: the skipped rows are finished samples
    const again = await runEval(opts(data, save));
    assert.equal(again.ranNow, 0);
    assert.equal(again.resumed, 6);
  });

  it('parquet: a row without its answer is skipped, a resume runs across it to the rows after it', async () => {
    const data = path.join(tmp, 'holes.parquet');
    const row = { dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: img.png };
    writeEvalParquet(data, [row, { ...row, answer: null as never }, row, row], { omit: ['reward_model'], rowGroupSize: 2 });
    const save = path.join(tmp, 'parquet');
    await runEval(opts(data, save, { limit: 1 }));
    const s = await runEval(opts(data, save)); // the resume runs across the bad row
    const recs = readLines(evalPaths(save, 'm', 'holes').results);
    assert.equal(recs.length, 4);
    const skipped = recs.filter((r) => r.codedance.skipped);
    assert.deepEqual(
      skipped.map((r) => r.index),
      [1],
    );
    assert.match(skipped[0].codedance.error.message, /holes\.parquet: row 1: no answer/);
    assert.equal(s.stats.total_samples, 3);
    assert.equal(s.stats.avg_acc, 1);
    assert.equal(s.stats.codedance.skipped_samples, 1);
    assert.equal(s.resumed, 1);
    assert.equal(s.ranNow, 3);
  });

  it('an image the kernel cannot open is skipped like the seed (no retry, not scored), the message names the file', async () => {
    const notImage = path.join(tmp, 'notes.txt');
    writeFileSync(notImage, 'this is not an image');
    const data = path.join(tmp, 'img.jsonl');
    writeFileSync(
      data,
      [good(0), JSON.stringify({ data_source: 'vstar', images: ['notes.txt'], extra_info: { question: 'q', answer: 'a' } })].join('\n') +
        '\n',
    );
    let acquired = 0;
    // the real kernel's error for bytes Pillow cannot identify (KernelSessionError from setInputImages)
    const kernels: KernelSource = {
      async acquire() {
        acquired++;
        const k = new StubKernel(() => ({ stdout: 'red_count = 3\n' }));
        k.setInputImages = async (images: Uint8Array[]) => {
          if (Buffer.from(images[0]).toString().startsWith('this is not'))
            throw new Error(
              'the input image could not be prepared: ValueError: input image #1 could not be read: UnidentifiedImageError: cannot identify image file <_io.BytesIO object at 0x7f>\nFix: pass a PNG, JPEG, GIF, BMP or WebP file that Pillow can open',
            );
          return images.map((b) => ({
            pngBase64: Buffer.from(b).toString('base64'),
            width: 28,
            height: 28,
            originalWidth: 28,
            originalHeight: 28,
          }));
        };
        return k;
      },
      async dispose() {},
    };
    const save = path.join(tmp, 'img');
    const s = await runEval(opts(data, save, { kernels, retries: 2 }));
    const recs = readLines(evalPaths(save, 'm', 'img').results);
    const bad = recs.find((r) => r.index === 1)!;
    assert.equal(bad.codedance.skipped, true);
    assert.equal(bad.codedance.error.name, 'ImageLoadError');
    assert.equal(
      bad.codedance.error.message,
      `image ${notImage} could not be loaded: UnidentifiedImageError: cannot identify image file <_io.BytesIO object at 0x7f>`,
    );
    assert.equal(acquired, 2, 'one kernel per sample: an unloadable image is not retried');
    assert.equal(s.stats.total_samples, 1, 'not counted as a wrong answer');
    assert.equal(s.stats.avg_acc, 1);
    assert.deepEqual(s.stats.codedance.skipped_by_reason, { ImageLoadError: 1 });
  });

  it('a worker that fails stops the run, but the kernels are disposed only after every running sample gave its session back', async () => {
    const data = path.join(tmp, 'many.jsonl');
    writeFileSync(data, Array.from({ length: 8 }, (_, i) => good(i)).join('\n') + '\n');
    let busy = 0;
    const kernels: KernelSource = {
      async acquire(): Promise<KernelSession> {
        const delay = 100 + 250 * busy++; // the first sample ends first, the others are still running then
        const k = new StubKernel(() => ({ stdout: 'red_count = 3\n' }));
        const exec = k.execute.bind(k);
        k.execute = async (code: string) => {
          await new Promise((r) => setTimeout(r, delay));
          return exec(code);
        };
        const dispose = k.dispose.bind(k);
        k.dispose = async () => {
          busy--;
          return dispose();
        };
        return k;
      },
      async dispose() {},
    };
    let n = 0;
    const save = path.join(tmp, 'fail');
    await assert.rejects(
      runEval({
        ...opts(data, save, { kernels, numWorkers: 4 }),
        kernels,
        onSample: () => {
          if (++n === 1) throw new Error('disk full while writing the results');
        },
      }).then(() => undefined),
      /disk full/,
    );
    // before: the first failure ended the run at once, its pool disposed under the 3 samples still running
    assert.equal(busy, 0, 'every session was given back before the run ended (and its own pool would be disposed)');
  });
});
