/**
 * Runs of catalog benchmarks in the results table: the converted parquet names its set in its
 * metadata (writeBenchmarkParquet), the real runner records it in the manifest (`benchmark:
 * {name, repo, revision}`), and the table gives each set its own row although MathVista,
 * MathVerse and MATH-Vision all write data_source `thinklite_eureka`; two runs of one set at
 * different revisions (or one from an offline copy) are flagged as not comparable.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBenchmark, writeBenchmarkParquet, type BenchmarkEntry, type SeedEvalRow } from '../../../src/core/benchmarks';
import { evalPaths } from '../../../src/core/eval';
import { benchmarkOfDataset, parseBenchmarkMetadata } from '../../../src/core/eval/benchmarkRecord';
import type { MathChecker } from '../../../src/core/eval/mathCheck';
import { loadResultsTable, POOLED_ROW } from '../../../src/core/eval/tableModel';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion, type ColorName } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { editManifest, writeTableRun } from './tableRuns';

const ROWS: [ColorName, number][] = [
  ['red', 3],
  ['blue', 2],
];

/** the seed's rows of a math set, as the catalog's converter writes them (data_source thinklite_eureka) */
function seedRows(entry: BenchmarkEntry): SeedEvalRow[] {
  const img = circlesImage({ red: 1, seed: 7 });
  return ROWS.map(([color, n], i) => ({
    data_source: entry.dataSource,
    prompt: [{ role: 'user', content: `<image>${circlesQuestion(color)}` }],
    images: [{ bytes: img.png, path: null }],
    ability: 'visual_reasoning',
    reward_model: { ground_truth: String(n), style: 'rule' },
    extra_info: {
      question: circlesQuestion(color),
      answer: String(n),
      index: BigInt(i),
      split: entry.split,
      benchmark: entry.name,
      id: String(i),
    },
  }));
}

/** no math_verify helper process in a unit test: exact text */
const exactMath: MathChecker = {
  info: { mode: 'approximate', note: 'math check: exact text (test)' },
  equivalent: (gold, answer) => Promise.resolve(gold.trim() === answer.trim()),
  dispose: () => Promise.resolve(),
};

describe('results table: catalog benchmarks recorded in the run manifest', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  const mathvista = findBenchmark('mathvista_testmini');
  const mathverse = findBenchmark('mathverse_testmini_vision_only');
  const mathvision = findBenchmark('mathvision_testmini');

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-tablebench-'));
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** the set converted into `<dir>/<name>.parquet` (as the cache names it: one file per revision) */
  async function converted(entry: BenchmarkEntry, dir: string, offlineCopy = false): Promise<string> {
    const file = path.join(dir, `${entry.name}-${entry.revision}.parquet`);
    assert.equal(await writeBenchmarkParquet(seedRows(entry), file, { entry, offlineCopy }), ROWS.length);
    return file;
  }

  it('reads {name, repo, revision} from a converted parquet; nothing from a dataset of one’s own; a bad record is said', async () => {
    const file = await converted(mathvista, tmp);
    const none: string[] = [];
    assert.deepEqual(await benchmarkOfDataset(file, 'parquet', (l) => none.push(l)), {
      benchmark: { name: 'mathvista_testmini', repo: 'AI4Math/MathVista', revision: mathvista.revision },
    });
    assert.deepEqual(none, []);
    const plain = path.join(tmp, 'plain.parquet');
    writeEvalParquet(plain, [{ dataSource: 'thinklite_eureka', question: 'q', answer: '1' }]);
    assert.deepEqual(await benchmarkOfDataset(plain, 'parquet', () => assert.fail('no warning')), {});
    assert.match(String(parseBenchmarkMetadata('{"name": "x"')), /^its codedance\.benchmark metadata is not JSON \(.+\)$/);
    assert.equal(parseBenchmarkMetadata('{"name": "x", "repo": "o/x"}'), 'its codedance.benchmark metadata lacks a name, repo or revision');
    assert.deepEqual(parseBenchmarkMetadata('{"name": "x", "repo": "o/x", "revision": "abc", "offline_copy": true, "version": 1}'), {
      name: 'x',
      repo: 'o/x',
      revision: 'abc',
      offline_copy: true,
    });
  });

  it('three math sets (all data_source thinklite_eureka) get a row each; the same set at another revision is flagged', async () => {
    const dataA = path.join(tmp, 'a');
    const save = path.join(tmp, 'save');
    const opts = { math: exactMath };
    for (const e of [mathvista, mathverse, mathvision])
      await writeTableRun(fm.baseUrl, await converted(e, path.join(dataA)), save, 'base', { red: 3, blue: 2 }, opts);
    // run B: MathVista at another commit of its repository (blue answered wrong), MathVerse at the same one
    const moved = { ...mathvista, revision: 'f'.repeat(40) };
    await writeTableRun(fm.baseUrl, await converted(moved, path.join(tmp, 'b')), save, 'next', { red: 3, blue: 9 }, opts);
    await writeTableRun(fm.baseUrl, await converted(mathverse, path.join(tmp, 'b')), save, 'next', { red: 3, blue: 2 }, opts);

    const m = JSON.parse(readFileSync(evalPaths(save, 'base', `mathverse_testmini_vision_only-${mathverse.revision}`).manifest, 'utf8'));
    assert.deepEqual(m.benchmark, {
      name: 'mathverse_testmini_vision_only',
      repo: 'CaraJ/MathVerse-lmmseval',
      revision: mathverse.revision,
    });
    assert.equal(m.data_source, 'default', 'the row data_source is the set’s own (thinklite_eureka); the manifest names the set');

    const t = await loadResultsTable([path.join(save, 'base'), path.join(save, 'next')]);
    assert.deepEqual(t.benchmarks, ['mathverse_testmini_vision_only', 'mathvision_testmini', 'mathvista_testmini', POOLED_ROW]);
    const cell = (b: string, run: number) => t.cells.find((c) => c.benchmark === b && c.run === run)!;
    assert.deepEqual(
      [cell('mathvista_testmini', 0).n, cell('mathvista_testmini', 0).correct, cell('mathvista_testmini', 1).correct],
      [2, 2, 1],
    );
    assert.equal(cell('mathvista_testmini', 0).settings.revision, `AI4Math/MathVista@${mathvista.revision.slice(0, 12)}`);
    assert.equal(cell('mathvista_testmini', 1).settings.revision, 'AI4Math/MathVista@ffffffffffff');
    const flagged = t.flags.filter((f) => f.kind === 'differs' && f.field === 'revision');
    assert.deepEqual(
      flagged.map((f) => [f.benchmark, f.message]),
      [
        [
          'mathvista_testmini',
          `benchmark revision differs (base: AI4Math/MathVista@${mathvista.revision.slice(0, 12)}, next: AI4Math/MathVista@ffffffffffff) (its rows come from another commit or repository: questions, images or answers may differ)`,
        ],
      ],
    );
    // the same set at the same commit: comparable (the converted files are byte for byte the same)
    assert.deepEqual(
      t.flags.filter((f) => f.benchmark === 'mathverse_testmini_vision_only'),
      [],
    );
  });

  it('an offline copy is flagged against the Hub’s; a dataset of one’s own is compared by its file alone', async () => {
    const save = path.join(tmp, 'save2');
    const opts = { math: exactMath };
    await writeTableRun(fm.baseUrl, await converted(mathvision, path.join(tmp, 'hub')), save, 'hub', { red: 3, blue: 2 }, opts);
    await writeTableRun(fm.baseUrl, await converted(mathvision, path.join(tmp, 'dir'), true), save, 'dir', { red: 3, blue: 2 }, opts);
    const t = await loadResultsTable([path.join(save, 'hub'), path.join(save, 'dir')]);
    assert.deepEqual(t.benchmarks, ['mathvision_testmini']);
    assert.equal(t.cells[1].settings.revision, `MathLLMs/MathVision@${mathvision.revision.slice(0, 12)} (offline copy)`);
    assert.deepEqual(
      t.flags.map((f) => (f.kind === 'differs' ? f.field : f.kind)),
      ['dataset', 'revision'],
    );

    // the seed's own file of the set (no catalog record) beside a catalog run: only the dataset file differs
    const own = path.join(tmp, 'own', `mathvision_testmini-${mathvision.revision}.parquet`);
    mkdirSync(path.dirname(own));
    writeEvalParquet(
      own,
      ROWS.map(([color, n]) => ({
        dataSource: 'thinklite_eureka',
        question: circlesQuestion(color),
        answer: String(n),
        image: circlesImage({ red: 1, seed: 7 }).png,
      })),
    );
    const ownRun = await writeTableRun(fm.baseUrl, own, save, 'own', { red: 3, blue: 2 }, opts);
    const apart = await loadResultsTable([path.join(save, 'hub'), ownRun]);
    // its samples go under their data_source: a row of their own, nothing compared
    assert.deepEqual(apart.benchmarks, ['mathvision_testmini', 'thinklite_eureka', POOLED_ROW]);
    assert.equal(apart.cells.find((c) => c.benchmark === 'thinklite_eureka')!.settings.revision, 'none');
    assert.deepEqual(apart.flags, []);
    // a manifest that names the set by name only (no revision): the same row, flagged for its dataset file, not its revision
    editManifest(save, 'own', `mathvision_testmini-${mathvision.revision}`, (m) => (m.benchmark = 'mathvision_testmini'));
    const together = await loadResultsTable([path.join(save, 'hub'), ownRun]);
    assert.deepEqual(together.benchmarks, ['mathvision_testmini']);
    assert.deepEqual(
      together.flags.map((f) => (f.kind === 'differs' ? f.field : f.kind)),
      ['dataset'],
    );
  });
});
