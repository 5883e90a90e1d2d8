/**
 * Each alarm triggered by the numbers its rule names, and not triggered just inside its
 * threshold; the job-ended alarm with the traceback of the fixture log.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_THRESHOLDS, evaluateAlarms, medianStepMs, type AlarmContext } from '../../../src/core/runs/alarms';
import { MetricsStore } from '../../../src/core/runs/metricsStore';
import { exceptionLine, lastTraceback } from '../../../src/core/runs/traceback';
import type { AlarmKind, AlarmThresholds, RunMetrics, StepMetrics } from '../../../src/core/runs/types';

const LOG = readFileSync(path.join(__dirname, '../../fixtures/runs/verl-console.log'), 'utf8');
const T = DEFAULT_THRESHOLDS;
const idle: AlarmContext = { now: 0, running: false };

/** steps 1..n, `values(step)` on each */
function run(n: number, values: (step: number) => Record<string, number>, seenAt?: (step: number) => number): RunMetrics {
  const steps: StepMetrics[] = [];
  for (let s = 1; s <= n; s++) steps.push({ step: s, values: values(s), line: s, ...(seenAt && { seenAt: seenAt(s) }) });
  return { steps, keys: [...new Set(steps.flatMap((x) => Object.keys(x.values)))].sort() };
}

const kinds = (m: RunMetrics, ctx: AlarmContext = idle, t: AlarmThresholds = T): AlarmKind[] =>
  evaluateAlarms(m, t, ctx).map((a) => a.kind);
const one = (m: RunMetrics, kind: AlarmKind, ctx: AlarmContext = idle) => {
  const found = evaluateAlarms(m, T, ctx).filter((a) => a.kind === kind);
  assert.equal(found.length, 1, `one ${kind} alarm`);
  return found[0];
};

/** the seed's four counts for a share of rollouts with a tool call */
const counts = (share: number) => {
  const calls = Math.round(256 * share);
  return {
    'actor/cnt_tool_call_correct': Math.round(calls * 0.7),
    'actor/cnt_tool_call_incorrect': calls - Math.round(calls * 0.7),
    'actor/cnt_no_tool_call_correct': 256 - calls - 40,
    'actor/cnt_no_tool_call_incorrect': 40,
    'actor/cnt_total': 256,
  };
};

describe('runs: alarms', () => {
  it('tool use collapsing: the share of rollouts with a tool call far below its early mean', () => {
    const collapsed = run(60, (s) => counts(s <= 50 ? 0.9 : s < 60 ? 0.5 : 0.1));
    const a = one(collapsed, 'tool-use-collapse');
    assert.equal(a.step, 60);
    assert.match(
      a.message,
      /share of rollouts with a tool call 0\.102 at step 60, 0\.898 in steps 1–50 \(threshold: below 25 % of the early mean\)/,
    );
    assert.ok(Math.abs(a.values.earlyMean - 0.9) < 0.01 && Math.abs(a.values.value - 0.1) < 0.01);
    assert.deepEqual(kinds(run(60, (s) => counts(s <= 50 ? 0.9 : 0.3))), [], '0.3 is above a quarter of 0.9');
    assert.deepEqual(kinds(run(60, () => counts(0))), [], 'a run that never used the tool does not collapse');
    assert.deepEqual(kinds(run(3, (s) => counts(s < 3 ? 0.9 : 0))), [], 'two early steps are too few to judge');
  });

  it('tool use collapsing, measured as tool_call_counts/mean when the counts are absent', () => {
    const a = one(
      run(20, (s) => ({ 'tool_call_counts/mean': s < 20 ? 1.8 : 0.2 })),
      'tool-use-collapse',
    );
    assert.match(a.message, /tool calls per rollout 0\.2 at step 20, 1\.8 in steps 1–19/);
    const tight = { ...T, toolUseCollapseRatio: 0.1 };
    assert.deepEqual(
      kinds(
        run(20, (s) => ({ 'tool_call_counts/mean': s < 20 ? 1.8 : 0.2 })),
        idle,
        tight,
      ),
      [],
      'the ratio is a setting',
    );
  });

  it('tool success rate falling', () => {
    const a = one(
      run(10, (s) => ({ 'actor/tool_success_rate': s < 10 ? 0.8 : 0.55 })),
      'tool-success-falling',
    );
    assert.match(a.message, /tool success rate falling: 0\.55 at step 10, 0\.8 in steps 1–9 \(threshold: 0\.2 below the early mean\)/);
    assert.deepEqual(kinds(run(10, (s) => ({ 'actor/tool_success_rate': s < 10 ? 0.8 : 0.65 }))), []);
    assert.deepEqual(kinds(run(10, (s) => ({ 'actor/tool_success_rate': s < 10 ? 0.8 : NaN }))), [], 'a NaN step is no value');
  });

  it('format errors rising: the format score dropping', () => {
    const a = one(
      run(8, (s) => ({ 'actor/format_score': s < 8 ? -0.05 : -0.3 })),
      'format-errors-rising',
    );
    assert.match(a.message, /format score -0\.3 at step 8, -0\.05 in steps 1–7/);
    assert.deepEqual(kinds(run(8, (s) => ({ 'actor/format_score': s < 8 ? -0.05 : -0.2 }))), []);
  });

  it('responses clipped at the length cap', () => {
    const a = one(
      run(3, (s) => ({ 'response_length/clip_ratio': s === 3 ? 0.15 : 0, 'response_length/max': 10240 })),
      'length-clipped',
    );
    assert.match(a.message, /^15 % of responses cut at the length cap at step 3 \(longest 10240 tokens\) \(threshold: above 10 %\)$/);
    assert.deepEqual(kinds(run(3, () => ({ 'response_length/clip_ratio': 0.1 }))), [], 'at the threshold: not above it');
  });

  it('reward or loss NaN', () => {
    const a = one(
      run(6, (s) => ({ 'critic/score/mean': s === 3 || s === 5 ? NaN : 0.5, 'actor/grad_norm': s === 5 ? Infinity : 1 })),
      'nan',
    );
    assert.equal(a.step, 5);
    assert.match(
      a.message,
      /critic\/score\/mean = NaN, actor\/grad_norm = Infinity at step 5 \(2 steps with NaN\/inf, the first at step 3\)/,
    );
    assert.deepEqual(kinds(run(6, () => ({ 'critic/score/mean': 0.5, 'perf/min': -Infinity }))), [], 'inf in a key that is no loss');
  });

  it('hang: no metric line for hangFactor × the median step time while the job runs', () => {
    const minute = 60_000;
    const m = run(
      5,
      () => ({ 'actor/acc': 0.5 }),
      (s) => s * minute,
    );
    const at = (now: number, running = true): AlarmContext => ({ now, running });
    const a = one(m, 'hang', at(5 * minute + 6 * minute));
    assert.equal(a.step, 5);
    assert.match(a.message, /no metric line for 6 min since step 5 while the job runs \(median step 60 s; threshold: 5× that, 5 min\)/);
    assert.deepEqual(kinds(m, at(5 * minute + 4 * minute)), []);
    assert.deepEqual(kinds(m, at(5 * minute + 60 * minute, false)), [], 'a job that does not run does not hang');
    // lines read in one catch-up share one time: verl's own step time is the measure
    const caughtUp = run(
      5,
      () => ({ 'timing_s/step': 62 }),
      () => 1000,
    );
    assert.equal(medianStepMs(caughtUp.steps), 62_000);
    assert.deepEqual(kinds(caughtUp, at(1000 + 300_000)), []);
    assert.equal(one(caughtUp, 'hang', at(1000 + 320_000)).values.medianStepMs, 62_000);
    assert.deepEqual(
      kinds(
        run(
          5,
          () => ({ a: 1 }),
          () => 1000,
        ),
        at(10 ** 9),
      ),
      [],
      'no measure of a step: no hang alarm',
    );
  });

  it('the job ended: its exit and the traceback from the log', () => {
    const m = new MetricsStore();
    m.feed(LOG);
    const a = one(m.snapshot(), 'job-ended', { now: 0, running: false, job: { status: 'FAILED', exitCode: 1 }, logTail: LOG });
    assert.equal(a.step, 6);
    assert.equal(
      a.message,
      'the job ended FAILED (exit 1) after step 6: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.50 GiB. GPU 3 has a total capacity of 79.10 GiB',
    );
    assert.deepEqual(a.values, { exitCode: 1, lastStep: 6 });
    assert.match(a.detail!, /^Traceback \(most recent call last\):\n {2}File "\/workspace\/CodeDance\/verl\/trainer\/main_ppo.py"/);
    assert.match(a.detail!, /\nray\.exceptions\.RayTaskError\(OutOfMemoryError\): ray::TaskRunner\.run\(\) \(pid=2749/);
    assert.ok(!a.detail!.includes('Started a local Ray instance') && !a.detail!.includes('TimeoutError'));
    assert.deepEqual(kinds(m.snapshot(), { now: 0, running: true, job: { status: 'RUNNING' }, logTail: LOG }), []);
    const ok = one(
      run(2, () => ({})),
      'job-ended',
      // a finished job's log with a worker's warning traceback in it: not the job's end
      { now: 0, running: false, job: { status: 'SUCCEEDED', exitCode: 0 }, logTail: `${LOG}\ndone\n` },
    );
    assert.equal(ok.message, 'the job finished (exit 0) after step 2');
    assert.equal(ok.detail, undefined);
  });

  it('the fixture run raises nothing while it runs: the NaN of step 5 was on a line the resumed run replaced', () => {
    const m = new MetricsStore();
    m.feed(LOG);
    assert.deepEqual(kinds(m.snapshot(), { now: 0, running: true }), []);
  });

  it('tracebacks: the last one, Ray prefixes off, a worker traceback read to its exception', () => {
    const worker = LOG.split('\n').slice(0, 17).join('\n');
    const tb = lastTraceback(worker)!;
    assert.equal(
      tb,
      [
        'Traceback (most recent call last):',
        '  File "/workspace/CodeDance/verl/tools/code_tool.py", line 88, in execute',
        '    result = await asyncio.wait_for(self._run(code), timeout=30)',
        'TimeoutError: code execution timed out after 30 s',
      ].join('\n'),
    );
    assert.equal(exceptionLine(tb), 'TimeoutError: code execution timed out after 30 s');
    assert.equal(lastTraceback('no trouble here\n'), undefined);
    const long = ['Traceback (most recent call last):', ...Array.from({ length: 200 }, (_, i) => `  frame ${i}`), 'ValueError: deep'].join(
      '\n',
    );
    const cut = lastTraceback(long)!.split('\n');
    assert.equal(cut.length, 80);
    assert.equal(cut.at(-1), 'ValueError: deep');
    assert.match(cut[10], /… 123 lines …/);
  });
});
