/**
 * Results files read for counts (resultsScan.ts): each sample index counts once, from its last
 * line, and every line that does not count (not JSON, no index, an earlier line of a sample
 * written again) is named with its number — in the stats file, the eval's log and the report.
 * Before, a duplicated line counted twice and a garbage line vanished without a word.
 */
import { strict as assert } from 'node:assert';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  describeSkippedLines,
  evalPaths,
  loadRun,
  readRecordAt,
  runEval,
  scanResults,
  statsFromResults,
  statsInput,
  type EvalOptions,
} from '../../../src/core/eval';
import { summarize } from '../../../src/core/training-data/verifySummary';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { fixtureEvalOptions } from './fixtureEval';
import { stubKernels } from './stubKernel';

/** a result line as the runner writes it, reduced to what the stats and the report read */
const rec = (index: number, acc: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    index,
    question: `q${index}`,
    ground_truth: 'a',
    pred_ans: '',
    status: 'success',
    acc,
    judge_score: acc,
    try_count: 2,
    tool_call_count: 1,
    tool_success_rate: 1,
    judge_result: {},
    codedance: { data_source: 'vstar', outcome: 'answered', latency_ms: 100 * (index + 1) },
    ...extra,
  });

describe('results files: each sample once, skipped lines named', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-scan-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  // line 1: sample 0 · 2: sample 1 (wrong) · 3: garbage · 4: sample 1 again (right) · 5: no index ·
  // 6: blank · 7: sample 2 · 8: sample 0 again (wrong) · 9: a line cut by a kill (no newline)
  const lines = [
    rec(0, 1),
    rec(1, 0),
    'this is not json',
    rec(1, 1),
    JSON.stringify({ question: 'no index', acc: 1, status: 'success' }),
    '',
    rec(2, 0),
    rec(0, 0),
    '{"index": 3, "acc',
  ];
  const write = (name: string) => {
    const f = path.join(tmp, name);
    writeFileSync(f, lines.join('\n'));
    return f;
  };

  it('scanResults keeps the last line of each index and names every line that does not count', async () => {
    const scan = await scanResults(write('a.jsonl'), (r) => r.acc);
    assert.deepEqual(
      [...scan.byIndex],
      [
        [0, 0],
        [1, 1],
        [2, 0],
      ],
    );
    assert.equal(scan.lines, 9);
    assert.deepEqual(scan.skipped, [
      { line: 1, reason: 'superseded', index: 0, by: 8 },
      { line: 2, reason: 'superseded', index: 1, by: 4 },
      { line: 3, reason: 'not-json' },
      { line: 5, reason: 'no-index' },
      { line: 9, reason: 'not-json' },
    ]);
    assert.equal(
      describeSkippedLines(scan.skipped),
      '5 lines not counted: lines 3, 9 are not JSON (cut by a kill, or damaged); line 5 has no sample index; lines 1-2 are samples written again later (the last line of each sample counts; e.g. sample 0: line 1, again on line 8)',
    );
    assert.equal(describeSkippedLines([]), undefined);
    // long lists are cut
    const many = Array.from({ length: 30 }, (_, i) => ({ line: 2 * i + 1, reason: 'not-json' as const }));
    assert.match(describeSkippedLines(many)!, /^30 lines not counted: lines 1, 3, 5, .*, 19 and 20 more are not JSON/);
  });

  it('the stats count each sample once and say which lines were skipped (the seed fields too)', async () => {
    const s = await statsFromResults(write('b.jsonl'), { modelName: 'm', dataSource: 'd', dataset: 'set', judged: true });
    assert.equal(s.total_samples, 3, 'samples 0, 1, 2 once each (before: 6 records counted, one of them twice)');
    assert.equal(s.avg_acc, 1 / 3, 'sample 1 right (its last line), samples 0 and 2 wrong');
    assert.equal(s.success_samples, 3);
    assert.deepEqual(s.codedance.per_source, { vstar: { n: 3, acc: 1 / 3, correct: 1 } });
    assert.equal(s.codedance.skipped_lines?.count, 5);
    assert.deepEqual(
      s.codedance.skipped_lines?.lines.map((l) => l.line),
      [1, 2, 3, 5, 9],
    );
    assert.match(s.codedance.skipped_lines!.note, /lines 3, 9 are not JSON/);
    // a clean file: no skipped_lines field at all (stats files of clean runs are unchanged)
    const clean = path.join(tmp, 'clean.jsonl');
    writeFileSync(clean, [rec(0, 1), rec(1, 0)].join('\n') + '\n');
    const c = await statsFromResults(clean, { modelName: 'm', dataSource: 'd', dataset: 'set', judged: true });
    assert.equal(c.total_samples, 2);
    assert.equal('skipped_lines' in c.codedance, false);
  });

  it('statsInput keeps only what the stats read (not the trajectory)', () => {
    const r = JSON.parse(
      rec(4, 1, {
        codedance: {
          data_source: 's',
          trajectory: { big: 'x'.repeat(1000) },
          error: { name: 'E', message: 'long message' },
          skipped: false,
        },
      }),
    );
    assert.deepEqual(statsInput(r), {
      status: 'success',
      acc: 1,
      judge_score: 1,
      try_count: 2,
      tool_call_count: 1,
      tool_success_rate: 1,
      codedance: { skipped: false, error: { name: 'E' }, data_source: 's' },
    });
  });

  it('the report shows each sample once (its last line opens) and warns about the skipped lines', async () => {
    const file = write('result_m_set.jsonl');
    const { run, offsets } = await loadRun(file);
    assert.equal(run.total, 3);
    assert.deepEqual(
      run.samples.map((s) => [s.index, s.acc]),
      [
        [0, 0],
        [1, 1],
        [2, 0],
      ],
    );
    assert.equal(run.avgAcc, 1 / 3);
    assert.equal(run.skippedLines?.count, 5);
    assert.match(run.skippedLines!.note, /line 5 has no sample index/);
    assert.equal(readRecordAt(file, offsets.get(1)!).acc, 1, 'sample 1 opens from its last line');
    assert.equal(readRecordAt(file, offsets.get(0)!).acc, 0);
    assert.deepEqual(run.latencies, [100, 200, 300]);
  });

  it('data verify: a row written twice counts once in the summary', async () => {
    const f = path.join(tmp, 'x.verify.jsonl');
    const v = (index: number, status: string) => JSON.stringify({ index, data_source: 's', status, turns: 1, cells: 1, ms: 1 });
    writeFileSync(f, [v(0, 'fails'), v(1, 'reproduces'), 'garbage', v(0, 'reproduces')].join('\n') + '\n');
    const s = await summarize(f);
    assert.equal(s.total.rows, 2);
    assert.equal(s.total.reproduces, 2);
    assert.equal(s.total.fails, 0);
  });

  describe('through the eval runner', () => {
    let fm: FixtureModel;
    beforeEach(async () => (fm = await startFixtureModel()));
    afterEach(async () => fm.close());

    it('a resumed run warns about the lines, and its stats file counts each sample once', async () => {
      const img = circlesImage({ red: 3, seed: 4 });
      const data = path.join(tmp, 'set.parquet');
      writeEvalParquet(
        data,
        Array.from({ length: 3 }, () => ({ dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: img.png })),
      );
      const save = path.join(tmp, 'run');
      const opts = (extra: Partial<EvalOptions> = {}): EvalOptions => ({
        ...fixtureEvalOptions(fm.baseUrl, data, save, { numWorkers: 1 }),
        kernels: stubKernels((code) => ({ stdout: code.includes('red') ? 'red_count = 3\n' : 'x\n' })),
        ...extra,
      });
      const first = await runEval(opts());
      assert.equal(first.stats.total_samples, 3);
      const p = evalPaths(save, 'm', 'set');
      // the same sample twice (e.g. two runs writing one folder) and a damaged line
      const [line0] = readFileSync(p.results, 'utf8').split('\n');
      appendFileSync(p.results, `${line0}\nnot json at all\n`);
      const log: string[] = [];
      const again = await runEval(opts({ log: (l) => log.push(l) }));
      assert.equal(again.ranNow, 0);
      assert.equal(again.stats.total_samples, 3, 'sample 0 counts once');
      assert.equal(again.stats.avg_acc, 1);
      assert.equal(again.stats.codedance.skipped_lines?.count, 2);
      assert.ok(
        log.some((l) =>
          /^warning: .*result_m_set\.jsonl: 2 lines not counted: line 5 is not JSON.*line 1 is a sample written again later/.test(l),
        ),
        log.join('\n'),
      );
      const onDisk = JSON.parse(readFileSync(p.stats, 'utf8'));
      assert.equal(onDisk.total_samples, 3);
      assert.equal(onDisk.codedance.skipped_lines.count, 2);
    });
  });
});
