/**
 * The step sequence of "Evaluate / Serve this checkpoint" (src/core/runs/evaluateCheckpoint.ts)
 * with steps that record what they were asked: a merged model is not merged again, a merge job
 * that merged nothing stops the chain, data and merge run side by side (one failing stops the
 * other), a cancel mid-way stops the step that runs and leaves nothing recorded, and the serve
 * job is released whatever happened once it was started.
 */
import * as assert from 'node:assert/strict';
import type { CheckpointEval } from '../../../src/core/runs/checkpointEvals';
import { CheckpointError } from '../../../src/core/runs/checkpointErrors';
import {
  checkpointModelName,
  evaluateCheckpoint,
  serveCheckpoint,
  type ChainEvent,
  type CheckpointRef,
  type CheckpointSteps,
  type StepContext,
} from '../../../src/core/runs/evaluateCheckpoint';

const CKPT: CheckpointRef = {
  runKey: 'job:hpc:4242',
  label: 'codeformat 34k/beta',
  step: 40,
  path: '/scratch/ckpt/global_step_40',
  mergedDir: '/scratch/ckpt/global_step_40/merged_hf',
};

/** Resolves when the signal aborts (a step that waits on a job), rejecting like a real step does. */
function untilAborted(ctx: StepContext, what: string): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new CheckpointError('cancelled', `cancelled during ${what}`));
    if (ctx.signal.aborted) fail();
    else ctx.signal.addEventListener('abort', fail, { once: true });
  });
}

interface Fake {
  steps: CheckpointSteps;
  calls: string[];
  recorded: CheckpointEval[];
  merged: boolean;
}

function fake(over: Partial<CheckpointSteps> = {}, merged = false): Fake {
  const f: Fake = { calls: [], recorded: [], merged, steps: undefined as unknown as CheckpointSteps };
  f.steps = {
    isMerged: async () => (f.calls.push('isMerged'), f.merged),
    merge: async () => {
      f.calls.push('merge');
      f.merged = true;
    },
    fetchData: async (sources) => (
      f.calls.push(`data:${sources.join(',')}`),
      sources.map((s) => ({ source: s, local: `/cache/${s.split('/').pop()}` }))
    ),
    serve: async (c) => (
      f.calls.push('serve'),
      { servedModelName: checkpointModelName(c.label, c.step), baseUrls: ['http://127.0.0.1:40001/v1'], jobId: '77' }
    ),
    release: async (m) => void f.calls.push(`release:${m.jobId}`),
    evaluate: async (d) => {
      f.calls.push(`eval:${d.local}`);
      const stem = d.local
        .split('/')
        .pop()!
        .replace(/\.parquet$/, '');
      return {
        accuracy: stem === 'vstar_val' ? 0.5 : 0.25,
        n: 4,
        evalDir: `/ws/codedance-eval/x/${stem}`,
        dataset: stem,
        judged: true,
        cancelled: false,
      };
    },
    record: async (_c, e) => {
      f.calls.push(`record:${e.dataset}`);
      f.recorded.push(e);
    },
    ...over,
  };
  return f;
}

const VAL = ['/data/vstar_val.parquet', '/data/pixmo_test.parquet'];

describe('runs: evaluate a checkpoint (the step sequence)', () => {
  it('merges a checkpoint that is not merged, then serves it, evaluates each file and records each result at its step', async () => {
    const f = fake();
    const events: ChainEvent[] = [];
    const r = await evaluateCheckpoint(CKPT, VAL, f.steps, { onEvent: (e) => events.push(e) });
    // data and merge start together; serving waits for both
    assert.deepEqual(
      f.calls.slice(0, 4).sort(),
      ['data:/data/vstar_val.parquet,/data/pixmo_test.parquet', 'isMerged', 'isMerged', 'merge'].sort(),
    );
    assert.deepEqual(f.calls.slice(4), [
      'serve',
      'eval:/cache/vstar_val.parquet',
      'record:vstar_val',
      'eval:/cache/pixmo_test.parquet',
      'record:pixmo_test',
      'release:77',
    ]);
    assert.deepEqual(
      f.recorded.map((e) => [e.step, e.dataset, e.accuracy, e.n, e.dataFile, e.model]),
      [
        [40, 'vstar_val', 0.5, 4, '/data/vstar_val.parquet', CKPT.mergedDir],
        [40, 'pixmo_test', 0.25, 4, '/data/pixmo_test.parquet', CKPT.mergedDir],
      ],
    );
    assert.equal(r.served.servedModelName, 'codeformat-34k-beta-step40');
    const steps = events.filter((e) => e.type === 'step').map((e) => `${e.step}:${e.state}`);
    assert.deepEqual(
      steps.filter((s) => s.startsWith('merge')),
      ['merge:started', 'merge:done'],
    );
    assert.ok(steps.indexOf('serve:started') > steps.indexOf('merge:done') && steps.indexOf('serve:started') > steps.indexOf('data:done'));
  });

  it('skips the merge when the merged model is there (no merge job), and says so', async () => {
    const f = fake({}, true);
    const events: ChainEvent[] = [];
    await evaluateCheckpoint(CKPT, VAL.slice(0, 1), f.steps, { onEvent: (e) => events.push(e) });
    assert.ok(!f.calls.includes('merge'));
    assert.equal(f.calls.filter((c) => c === 'isMerged').length, 1);
    const skip = events.find((e) => e.type === 'step' && e.step === 'merge');
    assert.deepEqual([skip?.type === 'step' && skip.state, skip?.message], ['skipped', `step 40 is merged already (${CKPT.mergedDir})`]);
    // serve alone: the same
    const g = fake({}, true);
    await serveCheckpoint(CKPT, g.steps);
    assert.deepEqual(g.calls, ['isMerged', 'serve']);
  });

  it('a merge job that leaves no merged model stops the chain before anything is served', async () => {
    const f = fake({ merge: async () => void 0 });
    await assert.rejects(evaluateCheckpoint(CKPT, VAL, f.steps), (e: CheckpointError) => {
      assert.equal(e.code, 'merge-failed');
      assert.match(e.message, /holds no config\.json/);
      return true;
    });
    assert.ok(!f.calls.includes('serve') && !f.calls.some((c) => c.startsWith('record')));
  });

  it('nothing to evaluate on: refused before any job', async () => {
    const f = fake();
    await assert.rejects(
      evaluateCheckpoint(CKPT, [], f.steps),
      (e: CheckpointError) => e.code === 'no-data' && /data\.val_files/.test(e.message),
    );
    assert.deepEqual(f.calls, []);
  });

  it('a dataset that cannot be fetched stops the merge job beside it (its signal aborts) and is the error thrown', async () => {
    let mergeSignal: AbortSignal | undefined;
    const f = fake({
      merge: (_c, ctx) => {
        mergeSignal = ctx.signal;
        return untilAborted(ctx, 'the merge');
      },
      fetchData: async () => {
        await new Promise((r) => setImmediate(r));
        throw new CheckpointError('no-data', '/data/vstar_val.parquet does not exist on hpc');
      },
    });
    await assert.rejects(evaluateCheckpoint(CKPT, VAL, f.steps), (e: CheckpointError) => e.code === 'no-data');
    assert.equal(mergeSignal?.aborted, true);
    assert.ok(!f.calls.includes('serve'));
  });

  it('cancelled while the merge job runs: the merge and the copy stop, nothing is served or recorded', async () => {
    const ac = new AbortController();
    const signals: AbortSignal[] = [];
    const f = fake({
      merge: (_c, ctx) => {
        signals.push(ctx.signal);
        setImmediate(() => ac.abort());
        return untilAborted(ctx, 'the merge');
      },
      fetchData: (_s, ctx) => (signals.push(ctx.signal), untilAborted(ctx, 'the copy')),
    });
    await assert.rejects(
      evaluateCheckpoint(CKPT, VAL, f.steps, { signal: ac.signal }),
      (e: CheckpointError) => e.code === 'cancelled' && e.kind === 'cancelled',
    );
    assert.deepEqual(
      signals.map((s) => s.aborted),
      [true, true],
    );
    assert.ok(!f.calls.includes('serve') && !f.recorded.length);
  });

  it('cancelled during the eval: that eval is not recorded, the rest do not run, and the serve job is released', async () => {
    const ac = new AbortController();
    const f = fake({
      evaluate: async (d) => {
        f.calls.push(`eval:${d.local}`);
        ac.abort(); // the user cancels while the samples run: the eval stops with what it has
        return { accuracy: 0.1, n: 1, evalDir: '/x', dataset: 'vstar_val', judged: true, cancelled: true };
      },
    });
    await assert.rejects(
      evaluateCheckpoint(CKPT, VAL, f.steps, { signal: ac.signal }),
      (e: CheckpointError) => e.code === 'cancelled' && /resumes/.test(e.message),
    );
    assert.deepEqual(f.calls.slice(-3), ['serve', 'eval:/cache/vstar_val.parquet', 'release:77']);
    assert.deepEqual(f.recorded, []);
  });

  it('cancelled while the model loads: the serve step stops, no eval runs; a merge already done is kept for the next try', async () => {
    const ac = new AbortController();
    const f = fake({
      serve: (_c, ctx) => {
        f.calls.push('serve');
        setImmediate(() => ac.abort());
        return untilAborted(ctx, 'serving');
      },
    });
    await assert.rejects(evaluateCheckpoint(CKPT, VAL, f.steps, { signal: ac.signal }), (e: CheckpointError) => e.code === 'cancelled');
    assert.ok(!f.calls.some((c) => c.startsWith('eval') || c.startsWith('release')), 'nothing was served: nothing to release');
    assert.equal(f.merged, true);
    // the next try: merged, so no merge job
    f.calls.length = 0;
    f.steps.serve = fake().steps.serve;
    await evaluateCheckpoint(CKPT, VAL.slice(0, 1), f.steps);
    assert.ok(!f.calls.includes('merge'));
    assert.deepEqual(
      f.recorded.map((e) => e.dataset),
      ['vstar_val'],
    );
  });

  it('an eval that fails releases the serve job and keeps the results recorded before it', async () => {
    let n = 0;
    const base = fake();
    const f = fake({
      evaluate: async (d, m, c, ctx) => {
        if (n++ === 1) throw new Error('the model endpoint failed');
        return base.steps.evaluate(d, m, c, ctx);
      },
    });
    await assert.rejects(evaluateCheckpoint(CKPT, VAL, f.steps), /model endpoint failed/);
    assert.deepEqual(
      f.recorded.map((e) => e.dataset),
      ['vstar_val'],
    );
    assert.equal(f.calls.at(-1), 'release:77');
  });

  it('names the served model after the run and the step, in the characters vLLM takes', () => {
    assert.equal(checkpointModelName('codeformat-34k-step-beta-0.2', 20), 'codeformat-34k-step-beta-0.2-step20');
    assert.equal(checkpointModelName('exp: "a/b"', 3), 'exp-a-b-step3');
    assert.equal(checkpointModelName('///', 3), 'checkpoint-step3');
    assert.ok(checkpointModelName('x'.repeat(300), 1).length <= 128);
  });
});
