/**
 * The run view's charts as data (src/webview/runs/series.ts): x as steps or hours, shares of
 * actor/cnt_total, TensorBoard's debiased EMA, runs overlaid on one x axis with gaps as null,
 * a faint raw line beside a smoothed one, validation keys as points, checkpoint evals as points
 * on the accuracy chart with their numbers for the hover, newer steps replacing older ones; the CSV export (csv.ts) and the rollout list's sort and filters (rolloutRows.ts).
 */
import { strict as assert } from 'node:assert';
import type { StepMetrics } from '../../../src/core/runs/types';
import type { RolloutRow } from '../../../src/protocol/runs';
import { csvNumber, exportName, metricsCsv } from '../../../src/webview/runs/csv';
import { compareSteps, filterRows, sortRows } from '../../../src/webview/runs/rolloutRows';
import {
  allKeys,
  chartData,
  DEFAULT_CHARTS,
  evalHover,
  keyChart,
  lineValue,
  mergeSteps,
  shownKeys,
  smooth,
  xValues,
  type ChartSpec,
} from '../../../src/webview/runs/series';

const step = (n: number, values: Record<string, number>, extra: Partial<StepMetrics> = {}): StepMetrics => ({
  step: n,
  values,
  line: n,
  ...extra,
});
const chart = (id: string): ChartSpec => DEFAULT_CHARTS.find((c) => c.id === id)!;

describe('run view: series', () => {
  it('x is the step, or hours from the sum of timing_s/step, else from when the lines were read', () => {
    const timed = [step(1, { 'timing_s/step': 1800 }), step(2, { 'timing_s/step': 3600 }), step(4, { 'timing_s/step': 1800 })];
    assert.deepEqual(xValues(timed, 'step'), [1, 2, 4]);
    assert.deepEqual(xValues(timed, 'time'), [0.5, 1.5, 2]);
    const live = [step(1, {}, { seenAt: 1_000_000 }), step(2, {}, { seenAt: 1_000_000 + 5_400_000 }), step(3, {})];
    assert.deepEqual(xValues(live, 'time'), [0, 1.5, null]);
    assert.deepEqual(xValues([step(1, {})], 'time'), [null], 'neither: no x (the step is not plotted in hours)');
  });

  it('a share is the key over `per`; missing, NaN or a zero total is a gap', () => {
    const share = chart('tool-use').lines[0];
    assert.equal(share.key, 'actor/cnt_tool_call_correct');
    assert.equal(lineValue(step(1, { 'actor/cnt_tool_call_correct': 128, 'actor/cnt_total': 512 }), share), 0.25);
    assert.equal(lineValue(step(1, { 'actor/cnt_tool_call_correct': 128, 'actor/cnt_total': 0 }), share), null);
    assert.equal(lineValue(step(1, { 'actor/cnt_tool_call_correct': 128 }), share), null);
    assert.equal(lineValue(step(1, { 'actor/acc': NaN }), { key: 'actor/acc' }), null);
    assert.equal(lineValue(step(1, { 'actor/acc': Infinity }), { key: 'actor/acc' }), null);
  });

  it('smooths as TensorBoard: debiased EMA, nulls kept in place and skipped', () => {
    assert.deepEqual(smooth([1, null, 3], 0), [1, null, 3]);
    const s = smooth([2, null, 2, 2], 0.9);
    assert.deepEqual(
      s.map((v) => (v === null ? null : Math.round(v * 1e9) / 1e9)),
      [2, null, 2, 2],
      'a constant stays constant (no pull towards 0)',
    );
    const t = smooth([0, 10], 0.5);
    // last = 0.5·0 + 0.5·0 = 0 → 0; then 0.5·0 + 0.5·10 = 5, debiased by 1 − 0.25
    assert.deepEqual(t, [0, 5 / 0.75]);
  });

  it('overlays runs on the union of their x values, gaps as null, one series per run and line', () => {
    const a = { id: 'r1', label: 'A', steps: [step(1, { 'actor/acc': 0.5 }), step(2, { 'actor/acc': 0.6 })] };
    const b = { id: 'r2', label: 'B', steps: [step(2, { 'actor/acc': 0.4 }), step(3, { 'actor/acc': 0.45 })] };
    const d = chartData(chart('acc'), [a, b], { x: 'step', smoothing: 0, keys: allKeys([a, b]) });
    assert.deepEqual(d.xs, [1, 2, 3]);
    assert.deepEqual(
      d.series.map((s) => [s.label, s.runIndex, s.values]),
      [
        ['A · actor/acc', 0, [0.5, 0.6, null]],
        ['B · actor/acc', 1, [null, 0.4, 0.45]],
      ],
    );
    assert.deepEqual(
      [...d.xOfStep.get('r2')!],
      [
        [2, 2],
        [3, 3],
      ],
    );
  });

  it('a smoothed line comes with its raw values as a faint series; points are never smoothed', () => {
    const r = {
      id: 'r1',
      label: 'A',
      steps: [step(1, { 'actor/acc': 0 }), step(2, { 'actor/acc': 1 }), step(10, { 'val-core/vstar/acc/mean@1': 0.7 })],
    };
    const keys = allKeys([r]);
    const d = chartData(chart('acc'), [r], { x: 'step', smoothing: 0.5, keys });
    assert.deepEqual(
      d.series.map((s) => [s.label, s.raw]),
      [
        ['actor/acc (raw)', true],
        ['actor/acc', false],
      ],
    );
    assert.deepEqual(d.series[0].values, [0, 1, null]);
    assert.notDeepEqual(d.series[1].values, d.series[0].values);
    const v = chartData(chart('val'), [r], { x: 'step', smoothing: 0.5, keys });
    assert.deepEqual(
      v.series.map((s) => [s.label, s.points, s.raw, s.values]),
      [['vstar/acc/mean@1', true, false, [null, null, 0.7]]],
    );
  });

  it('checkpoint evals: points on the accuracy chart at their steps, a series per dataset, their numbers for the hover', () => {
    const timed = (n: number) => step(n, { 'actor/acc': 0.5 + n / 100, 'timing_s/step': 1800 });
    const evals = [
      {
        dataset: 'vstar_val',
        points: [
          { step: 2, accuracy: 0.61, n: 300, judged: true },
          // a checkpoint the metrics have not reached yet (hours: no x for it)
          { step: 4, accuracy: 0.655555, n: 300, judged: true },
        ],
      },
      { dataset: 'chartqa_val', points: [{ step: 2, accuracy: 0.4, n: 50, judged: false }] },
    ];
    const a = { id: 'r1', label: 'A', steps: [timed(1), timed(2), timed(3)], evals };
    const d = chartData(chart('acc'), [a], { x: 'step', smoothing: 0, keys: allKeys([a]) });
    assert.deepEqual(d.xs, [1, 2, 3, 4]);
    assert.deepEqual(
      d.series.map((s) => [s.label, s.points, s.lineIndex, s.values, s.hover]),
      [
        ['actor/acc', false, 0, [0.51, 0.52, 0.53, null], undefined],
        ['eval vstar_val', true, 1, [null, 0.61, null, 0.655555], [null, '0.61 · n 300', null, '0.6556 · n 300']],
        ['eval chartqa_val', true, 2, [null, 0.4, null, null], [null, '0.4 · n 50 · no judge', null, null]],
      ],
    );
    const h = chartData(chart('acc'), [a], { x: 'time', smoothing: 0, keys: allKeys([a]) });
    assert.deepEqual(h.xs, [0.5, 1, 1.5]);
    assert.deepEqual(h.series[1].values, [null, 0.61, null], 'in hours: at the x of its step');
    // only the accuracy chart draws them; a second run's points are named after it, a dataset keeps its colour
    assert.equal(chartData(chart('score'), [a], { x: 'step', smoothing: 0, keys: allKeys([a]) }).series.length, 0);
    const b = {
      id: 'r2',
      label: 'B',
      steps: [timed(2)],
      evals: [{ dataset: 'chartqa_val', points: [{ step: 2, accuracy: 0.5, n: 50, judged: true }] }],
    };
    const two = chartData(chart('acc'), [a, b], { x: 'step', smoothing: 0.6, keys: allKeys([a, b]) });
    assert.deepEqual(
      two.series.filter((s) => s.hover).map((s) => [s.label, s.lineIndex, s.raw]),
      [
        ['A · eval vstar_val', 1, false],
        ['A · eval chartqa_val', 2, false],
        ['B · eval chartqa_val', 2, false],
      ],
    );
    assert.equal(evalHover({ step: 1, accuracy: 1, n: 3, judged: true }), '1 · n 3');
  });

  it('a run without any value of a line draws no series for it (the chart says "no values yet")', () => {
    const r = { id: 'r1', label: 'A', steps: [step(1, { 'actor/acc': 0.5 })] };
    assert.deepEqual(chartData(chart('format'), [r], { x: 'step', smoothing: 0, keys: allKeys([r]) }).series, []);
  });

  it('the key picker offers the keys not on the first screen; a picked key is its own chart', () => {
    const keys = ['actor/acc', 'actor/entropy', 'val-core/x/acc', 'val-aux/y'];
    assert.deepEqual([...shownKeys(DEFAULT_CHARTS, keys)].filter((k) => keys.includes(k)).sort(), ['actor/acc', 'val-core/x/acc']);
    assert.deepEqual(keyChart('actor/entropy'), {
      id: 'key:actor/entropy',
      title: 'actor/entropy',
      lines: [{ key: 'actor/entropy' }],
      added: true,
      points: false,
    });
    assert.equal(keyChart('val-aux/y').points, true);
  });

  it('merges newly read steps: appended in order, or a repeated step replaced by the newer line', () => {
    const old = [step(1, { a: 1 }), step(2, { a: 2 }), step(3, { a: 3 })];
    assert.deepEqual(
      mergeSteps(old, [step(4, { a: 4 })]).map((s) => s.values.a),
      [1, 2, 3, 4],
    );
    // a run resumed from its step-2 checkpoint prints step 3 again
    const resumed = mergeSteps(old, [step(3, { a: 30 }, { line: 99 }), step(4, { a: 40 }, { line: 100 })]);
    assert.deepEqual(
      resumed.map((s) => [s.step, s.values.a]),
      [
        [1, 1],
        [2, 2],
        [3, 30],
        [4, 40],
      ],
    );
  });
});

describe('run view: CSV export', () => {
  it('one row per run and step, every key of any run a column, nan/inf as verl prints them', () => {
    const runs = [
      { id: 'r1', label: 'exp, one', steps: [step(1, { 'actor/acc': 0.5, 'timing_s/step': 3600 }, { seenAt: Date.UTC(2025, 10, 20, 9) })] },
      { id: 'r2', label: 'B', steps: [step(1, { 'actor/pg_loss': NaN, 'x"y': -Infinity })] },
    ];
    const lines = metricsCsv(runs).split('\r\n');
    assert.equal(lines.at(-1), '', 'ends with a line break');
    assert.deepEqual(lines.slice(0, -1), [
      'run,step,hours,seen_at,actor/acc,actor/pg_loss,timing_s/step,"x""y"',
      '"exp, one",1,1,2025-11-20T09:00:00.000Z,0.5,,3600,',
      'B,1,,,,nan,,-inf',
    ]);
    assert.deepEqual([csvNumber(undefined), csvNumber(Infinity), csvNumber(1e-6)], ['', 'inf', '0.000001']);
  });

  it('names the file after the runs, plain characters only', () => {
    assert.equal(exportName([{ label: 'sa1b/grpo:demo' }, { label: 'b' }], 'csv'), 'sa1b_grpo_demo_vs_b.csv');
    assert.equal(exportName([{ label: 'x' }], 'png', 'key:actor/acc'), 'x_key_actor_acc.png');
    assert.equal(exportName([], 'csv'), 'run.csv');
  });
});

describe('run view: the rollout list', () => {
  const row = (index: number, o: Partial<RolloutRow>): RolloutRow => ({
    step: 3,
    index,
    dataSource: 'vstar',
    score: 0,
    toolCalls: 0,
    question: 'q',
    promptKey: 'k',
    images: 0,
    ...o,
  });
  const rows = [
    row(0, { score: 1, acc: 1, toolCalls: 2, dataSource: 'chart' }),
    row(1, { score: NaN, acc: 0, toolCalls: 0 }),
    row(2, { score: 0.5, acc: 1, toolCalls: 1 }),
    row(3, { score: -0.2, toolCalls: 0, dataSource: 'chart' }),
  ];
  const order = (rs: RolloutRow[]) => rs.map((r) => r.index);

  it('sorts by score (NaN last either way), acc, tool calls, data source, or as dumped', () => {
    assert.deepEqual(order(sortRows(rows, 'score-desc')), [0, 2, 3, 1]);
    assert.deepEqual(order(sortRows(rows, 'score-asc')), [3, 2, 0, 1]);
    assert.deepEqual(order(sortRows(rows, 'acc-desc')), [0, 2, 1, 3], 'no acc sorts last');
    assert.deepEqual(order(sortRows(rows, 'tools-desc')), [0, 2, 1, 3]);
    assert.deepEqual(order(sortRows(rows, 'source')), [0, 3, 1, 2]);
    assert.deepEqual(order(sortRows(rows, 'index')), [0, 1, 2, 3]);
  });

  it('filters by data source, correctness (acc > 0.5) and tool use', () => {
    assert.deepEqual(order(filterRows(rows, { dataSource: 'chart' })), [0, 3]);
    assert.deepEqual(order(filterRows(rows, { correct: 'correct' })), [0, 2]);
    assert.deepEqual(order(filterRows(rows, { correct: 'wrong', tools: 'none' })), [1, 3]);
    assert.deepEqual(order(filterRows(rows, { tools: 'some' })), [0, 2]);
  });

  it('side by side: the picked step, then the earliest and latest others, at most three', () => {
    assert.deepEqual(compareSteps(20, [5, 10, 30, 40]), [5, 20, 40]);
    assert.deepEqual(compareSteps(20, [10]), [10, 20]);
    assert.deepEqual(compareSteps(20, []), [20]);
    assert.deepEqual(compareSteps(20, [5, 10, 30, 40], 4), [5, 20, 30, 40]);
  });
});
