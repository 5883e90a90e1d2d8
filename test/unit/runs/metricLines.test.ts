/**
 * verl's console metric lines read back out of a job log (test/fixtures/runs/verl-console.log,
 * written by make-console-log.py with every quirk of codedance-rl-runs.md §1).
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanLogLine, parseMetricLine, parseMetricValue } from '../../../src/core/runs/metricLines';

const LOG = readFileSync(path.join(__dirname, '../../fixtures/runs/verl-console.log'), 'utf8');
const lines = LOG.split('\n');
const lineWith = (needle: string, nth = 0) => lines.filter((l) => l.includes(needle))[nth];

describe('runs: verl console metric lines', () => {
  it('reads a plain line behind the Ray prefix: every key, ints, floats, negative values, 1e-06', () => {
    const m = parseMetricLine(lineWith('step:1 - '))!;
    assert.equal(m.step, 1);
    assert.equal(m.values['critic/score/mean'], 0.6125);
    assert.equal(m.values['actor/pg_loss'], -0.0123);
    assert.equal(m.values['actor/lr'], 1e-6);
    assert.equal(m.values['response_length/max'], 10240);
    assert.equal(m.values['response_length/clip_ratio'], 0.0078125);
    assert.equal(m.values['actor/cnt_total'], 256);
    assert.equal(Object.keys(m.values).length, 25);
  });

  it('reads numpy 2 reprs and the coloured prefix', () => {
    const raw = lineWith('step:3 - training');
    assert.ok(raw.startsWith('\x1b[36m(TaskRunner pid=2749)\x1b[0m '), 'the fixture has the colour codes');
    const m = parseMetricLine(raw)!;
    assert.equal(m.step, 3);
    assert.equal(m.values['actor/acc'], 0.59375);
    assert.equal(m.values['response_length/clip_ratio'], 0);
    assert.equal(m.values['actor/cnt_tool_call_correct'], 126);
    assert.equal(m.values['critic/score/mean'], 0.6475);
  });

  it('reads the prefix with ip=, keys with @ and -, and validation keys', () => {
    const m = parseMetricLine(lineWith('step:4 - '))!;
    assert.equal(m.step, 4);
    assert.equal(m.values['val-core/vstar/acc/mean@1'], 0.6875);
    assert.equal(m.values['val-aux/num_turns/mean'], 3.125);
  });

  it('reads nan, inf, -inf and True/False', () => {
    const first5 = parseMetricLine(lineWith('step:5 - ', 0))!;
    assert.ok(Number.isNaN(first5.values['critic/score/mean']));
    assert.ok(Number.isNaN(first5.values['actor/grad_norm']));
    assert.equal(first5.values['actor/kl_loss'], Infinity);
    assert.equal(first5.values['perf/min'], -Infinity);
    assert.equal(first5.values['actor/is_resumed'], 0);
    assert.equal(parseMetricLine(lineWith('step:5 - ', 1))!.values['actor/is_resumed'], 1);
  });

  it('reads the text after the last \\r of a progress bar line', () => {
    const raw = lineWith('step:2 - ');
    assert.ok(raw.includes('Training Progress') && raw.includes('\r'));
    assert.equal(parseMetricLine(raw)!.values['actor/acc'], 0.5781);
    assert.equal(parseMetricLine(lineWith('1/490 [01:02')), undefined, 'a progress bar alone is no metric line');
  });

  it('a line that is not a metric line is not one', () => {
    for (const l of [
      lineWith('could not log step:3'),
      'step:3 took 64.2 s',
      lineWith('step:3 - saving checkpoint'),
      lineWith('Dumped generations to ./rollout_sft_step/1.jsonl'),
      lineWith('Traceback'),
      'step:7',
      'step:x - a:1',
      'step:7 - a:1 - b:0.5(TaskRunner pid=1) warning text',
      'step:7 - a:1 - b:np.bool_(True)',
      'step:7 - a:1 - bad key:2',
      'a step:7 - a:1',
      '',
    ])
      assert.equal(parseMetricLine(l), undefined, JSON.stringify(l));
  });

  it('values: each form pprint prints a Python number in', () => {
    const cases: [string, number][] = [
      ['0.4375', 0.4375],
      ['-0.125', -0.125],
      ['1e-06', 1e-6],
      ['1.5e+20', 1.5e20],
      ['812', 812],
      ['True', 1],
      ['False', 0],
      ['inf', Infinity],
      ['-inf', -Infinity],
      ['np.float64(0.4375)', 0.4375],
      ['np.int64(101)', 101],
      ['np.float32(0.5)', 0.5],
      ['np.float64(-inf)', -Infinity],
      ['0.438', 0.438], // older verl's {v:.3f}
    ];
    for (const [text, want] of cases) assert.equal(parseMetricValue(text), want, text);
    assert.ok(Number.isNaN(parseMetricValue('nan')!));
    assert.ok(Number.isNaN(parseMetricValue('np.float64(nan)')!));
    for (const bad of ['', 'abc', '1.2.3', 'np.float64()', 'np.float64(True)', '0x10', '(1+2j)'])
      assert.equal(parseMetricValue(bad), undefined, bad);
  });

  it('cleans a line: CRLF, colours, both prefix forms, names with parentheses', () => {
    assert.equal(cleanLogLine('(TaskRunner pid=2749) step:1 - a:1\r\n'), 'step:1 - a:1');
    assert.equal(cleanLogLine('(TaskRunner pid=2749, ip=10.0.3.7) x'), 'x');
    assert.equal(cleanLogLine('\x1b[36m(WorkerDict pid=3012, ip=10.0.3.8)\x1b[0m x'), 'x');
    assert.equal(cleanLogLine('(pid=12) x'), 'x');
    assert.equal(cleanLogLine('(Worker(rank=3) pid=12) x'), 'x');
    assert.equal(cleanLogLine('(not a prefix) x'), '(not a prefix) x');
  });
});
