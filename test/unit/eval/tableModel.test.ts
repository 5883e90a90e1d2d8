/**
 * The results table on eval output folders written by the real runner (tableRuns.ts): samples
 * grouped by data_source (or the benchmark the manifest names, or the dataset's name), the
 * paired comparison and the flipped samples with their files, the settings flags (a different
 * protocol, an older manifest without the image budget), run folders that are not ones, and the
 * A/B report's warnings built on the same rules.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, loadRun } from '../../../src/core/eval';
import { reportComparisonWarnings } from '../../../src/core/eval/tableCompare';
import { loadResultsTable, POOLED_ROW, runLabels } from '../../../src/core/eval/tableModel';
import type { ResultsTable } from '../../../src/core/eval/tableTypes';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { editManifest, writeTableDataset, writeTableRun } from './tableRuns';

const cell = (t: ResultsTable, benchmark: string, run: number) => t.cells.find((c) => c.benchmark === benchmark && c.run === run);
const row = (t: ResultsTable, benchmark: string) => t.comparisons[0].rows.find((r) => r.benchmark === benchmark)!;

describe('results table across benchmarks and runs', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  let data: string;
  let save: string;
  let runA: string;
  let runB: string;

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-table-'));
    fm = await startFixtureModel();
    data = writeTableDataset(tmp, 'mini');
    save = path.join(tmp, 'save');
    // A gets green wrong; B gets blue wrong and speaks another format
    runA = await writeTableRun(fm.baseUrl, data, save, 'qwen', { red: 3, blue: 2, green: 9 });
    runB = await writeTableRun(fm.baseUrl, data, save, 'tools', { red: 3, blue: 7, green: 4 }, { protocol: 'openai-tools' });
  });
  after(async () => {
    await fm.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('the manifest records the image budget (max_pixels, images per request)', () => {
    const m = JSON.parse(readFileSync(evalPaths(save, 'qwen', 'mini').manifest, 'utf8'));
    assert.deepEqual(m.image_budget, { resize: 'qwen-smart', min_pixels: 3136, max_pixels: 12845056, max_request_images: 32 });
    const t = JSON.parse(readFileSync(evalPaths(save, 'tools', 'mini').manifest, 'utf8'));
    assert.deepEqual(t.image_budget, { resize: 'none', max_request_images: 32 });
  });

  it('groups samples by data_source, with accuracy, its interval, n, errors and tool calls, and a pooled row', async () => {
    const t = await loadResultsTable([runA, runB]);
    assert.deepEqual(
      t.runs.map((r) => [r.label, r.files.map((f) => path.basename(f))]),
      [
        ['qwen', ['result_qwen_mini.jsonl']],
        ['tools', ['result_tools_mini.jsonl']],
      ],
    );
    assert.deepEqual(t.benchmarks, ['chart', 'vstar', POOLED_ROW]);
    assert.equal(t.pooled, POOLED_ROW);
    const v = cell(t, 'vstar', 0)!;
    assert.deepEqual([v.n, v.correct, v.errors, v.timeouts, v.skipped, v.meanToolCalls], [3, 2, 0, 0, 0, 1]);
    assert.ok(Math.abs(v.accuracy - 2 / 3) < 1e-12);
    assert.deepEqual(
      v.ci!.map((x) => x.toFixed(4)),
      ['0.2077', '0.9385'],
    );
    assert.deepEqual([cell(t, 'chart', 0)!.correct, cell(t, 'chart', 1)!.correct], [2, 1]);
    assert.deepEqual([cell(t, POOLED_ROW, 0)!.n, cell(t, POOLED_ROW, 0)!.correct, cell(t, POOLED_ROW, 1)!.correct], [5, 4, 3]);
    assert.equal(v.settings.protocol, 'codedance');
    assert.equal(cell(t, 'vstar', 1)!.settings.protocol, 'openai-tools');
  });

  it('compares the second run with the first on the samples both have: difference, McNemar, the flips with their files', async () => {
    const t = await loadResultsTable([runA, runB]);
    assert.equal(t.comparisons.length, 1);
    assert.deepEqual([t.comparisons[0].a, t.comparisons[0].b], [0, 1]);
    const v = row(t, 'vstar');
    assert.deepEqual([v.paired, v.onlyA, v.onlyB, v.diff], [3, 0, 0, 0]);
    assert.deepEqual(v.test, { method: 'exact', b: 1, c: 1, p: 1 });
    assert.deepEqual(
      v.flips.map((f) => [f.key, f.index, f.direction, f.from, f.to]),
      [
        ['1', 1, 'correct-to-wrong', 'correct', 'wrong'],
        ['2', 2, 'wrong-to-correct', 'wrong', 'correct'],
      ],
    );
    assert.equal(v.flips[0].fileA, evalPaths(save, 'qwen', 'mini').results);
    assert.equal(v.flips[0].fileB, evalPaths(save, 'tools', 'mini').results);
    const c = row(t, 'chart');
    assert.deepEqual([c.paired, c.accA, c.accB, c.diff, c.test.b, c.test.c], [2, 1, 0.5, -0.5, 1, 0]);
    assert.deepEqual(
      c.flips.map((f) => f.index),
      [4],
    );
    const all = row(t, POOLED_ROW);
    assert.deepEqual([all.paired, all.test.b, all.test.c, all.flips.length], [5, 2, 1, 0]);
  });

  it('flags the rows whose runs differ in protocol, max turns and image budget (not the prompts: the protocol says it)', async () => {
    const t = await loadResultsTable([runA, runB]);
    const vstar = t.flags.filter((f) => f.benchmark === 'vstar');
    assert.deepEqual(
      vstar.map((f) => [f.kind, f.kind === 'differs' ? f.field : '']),
      [
        ['differs', 'protocol'],
        ['differs', 'maxTurns'],
        ['differs', 'imageBudget'],
      ],
    );
    assert.equal(vstar[0].message, 'protocol differs (qwen: codedance, tools: openai-tools)');
    assert.deepEqual(vstar[0].kind === 'differs' && vstar[0].values, { 0: 'codedance', 1: 'openai-tools' });
    assert.equal(
      vstar[2].message,
      'image budget differs (qwen: max_pixels 12845056 (smart resize), 32 images/request, tools: not resized, 32 images/request)',
    );
    assert.ok(!t.flags.some((f) => f.benchmark === POOLED_ROW));
    // one run alone is compared with nothing
    assert.deepEqual((await loadResultsTable([runA])).flags, []);
  });

  it('a run whose manifest predates the image budget is flagged unknown, and two same-format runs differ in nothing else', async () => {
    const older = await writeTableRun(fm.baseUrl, data, save, 'older', { red: 3, blue: 2, green: 4 });
    editManifest(save, 'older', 'mini', (m) => delete m.image_budget);
    const t = await loadResultsTable([runA, older]);
    assert.deepEqual(
      t.flags.map((f) => [f.benchmark, f.kind, f.kind === 'unknown' ? f.run : -1, f.kind === 'unknown' ? f.fields : [], f.message]),
      ['chart', 'vstar'].map((b) => [
        b,
        'unknown',
        1,
        ['imageBudget'],
        "older does not record its image budget (a manifest written before it was recorded, or none: the seed's own files)",
      ]),
    );
    assert.equal(cell(t, 'vstar', 1)!.settings.imageBudget, 'unknown');
    assert.deepEqual(
      row(t, 'vstar').flips.map((f) => f.direction),
      ['wrong-to-correct'],
    );
  });

  it("groups by the benchmark the manifest names, by the dataset's name without a data_source, and matches by dataset and index across files", async () => {
    const dir = path.join(tmp, 'grouping');
    mkdirSync(dir);
    const noSource = writeTableDataset(dir, 'plain', [
      [null, 'red', 3],
      [null, 'blue', 2],
    ]);
    const named = writeTableDataset(dir, 'named', [['vstar', 'red', 3]]);
    const s = path.join(dir, 'save');
    for (const [model, counts] of [
      ['x', { red: 3, blue: 2 }],
      ['y', { red: 1, blue: 2 }],
    ] as const) {
      await writeTableRun(fm.baseUrl, noSource, s, model, counts);
      await writeTableRun(fm.baseUrl, named, s, model, counts);
      editManifest(s, model, 'named', (m) => (m.benchmark = { name: 'plain' }));
    }
    const t = await loadResultsTable([path.join(s, 'x'), path.join(s, 'y')]);
    // both files' samples under "plain": the dataset's name, and the benchmark the other manifest names
    assert.deepEqual(t.benchmarks, ['plain']);
    assert.deepEqual([cell(t, 'plain', 0)!.n, cell(t, 'plain', 0)!.files.length], [3, 2]);
    const r = row(t, 'plain');
    assert.equal(r.paired, 3);
    assert.deepEqual(
      r.flips.map((f) => f.key),
      ['named:0', 'plain:0'],
    );
    // the two files' manifests name different datasets: the row says so
    assert.match(cell(t, 'plain', 0)!.settings.dataset, /^mixed: /);
    assert.ok(t.flags.some((f) => f.kind === 'differs' && f.field === 'dataset'));
  });

  it('says what a run folder must hold when it is missing, empty, or a save path above the run folders', async () => {
    await assert.rejects(loadResultsTable([path.join(tmp, 'nope')]), (e: Error) => {
      assert.match(e.message, /^run folder .*nope does not exist — a run is what an eval writes: .*result_<model>_<dataset>\.jsonl/);
      return true;
    });
    const empty = path.join(tmp, 'empty');
    mkdirSync(empty);
    await assert.rejects(loadResultsTable([empty]), /empty has no results file \(result_\*\.jsonl\) — a run is/);
    await assert.rejects(loadResultsTable([save]), (e: Error) => {
      assert.match(e.message, /it looks like a save path: its run folders are .*save\/older, .*save\/qwen, .*save\/tools/);
      return true;
    });
    const notJsonl = path.join(tmp, 'x.txt');
    writeFileSync(notJsonl, '');
    await assert.rejects(loadResultsTable([notJsonl]), /x\.txt is not a results file \(\.jsonl\)/);
  });

  it('a results file is a run too; labels repeat with #2; a damaged manifest is noted and counts as unknown', async () => {
    const file = evalPaths(save, 'qwen', 'mini').results;
    assert.deepEqual(runLabels([runA, file, '/x/y/tools']), ['qwen', 'qwen#2', 'tools']);
    const copy = path.join(tmp, 'copy', 'qwen');
    mkdirSync(copy, { recursive: true });
    writeFileSync(path.join(copy, 'result_qwen_mini.jsonl'), readFileSync(file));
    writeFileSync(path.join(copy, 'manifest_qwen_mini.json'), '{"kind": ');
    const t = await loadResultsTable([file, copy]);
    assert.match(t.runs[1].notes[0], /manifest_qwen_mini\.json is not valid JSON \(.*\): its settings count as unknown/);
    assert.equal(cell(t, 'vstar', 1)!.settings.scoring, 'unknown');
    assert.equal(cell(t, 'vstar', 1)!.settings.protocol, 'codedance', "from the samples' trajectories");
    assert.deepEqual(row(t, 'vstar').flips, []);
  });

  it('the A/B report names what else differs beside the protocol, by the same rules', async () => {
    const a = (await loadRun(evalPaths(save, 'qwen', 'mini').results, 'A')).run;
    const b = (await loadRun(evalPaths(save, 'tools', 'mini').results, 'B')).run;
    assert.deepEqual(reportComparisonWarnings(a, b), [
      'the runs use different protocols (A: codedance, B: openai-tools): each model was asked in a different format',
      'max turns differs (run A: 7, run B: 10)',
      'image budget differs (run A: max_pixels 12845056 (smart resize), 32 images/request, run B: not resized, 32 images/request)',
    ]);
    assert.deepEqual(reportComparisonWarnings(a, a), []);
  });
});
