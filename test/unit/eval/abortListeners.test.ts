/**
 * Abort listeners over a long eval run (issue #26): 500 samples, 32 workers, ONE parent signal
 * as `codedance eval` passes it (its Ctrl+C), every 7th kernel start failing (a retry after a
 * back-off) and every sample judged over HTTP. No MaxListenersExceededWarning, no signal ever
 * holds more than a few abort listeners (however many workers), none are left at the end, and the
 * process's own listeners are as before.
 */
import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpJudge, runEval } from '../../../src/core/eval';
import type { KernelSource } from '../../../src/core/eval/runner';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { startJudgeServer, type JudgeServer } from '../../fixtures/judgeServer';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { fixtureEvalOptions, redCountKernels } from './fixtureEval';

/** every AbortSignal that gets an abort listener while `fn` runs, with the most it ever held at once */
async function watchAbortListeners<T>(fn: () => Promise<T>): Promise<{ result: T; peak: Map<AbortSignal, number> }> {
  const peak = new Map<AbortSignal, number>();
  const proto = AbortSignal.prototype as unknown as { addEventListener: EventTarget['addEventListener'] };
  const own = Object.getOwnPropertyDescriptor(proto, 'addEventListener');
  const add = proto.addEventListener;
  proto.addEventListener = function (
    this: AbortSignal,
    type: string,
    ...rest: [EventListenerOrEventListenerObject | null, (AddEventListenerOptions | boolean)?]
  ) {
    add.call(this, type, ...rest);
    if (type === 'abort') peak.set(this, Math.max(peak.get(this) ?? 0, getEventListeners(this, 'abort').length));
  };
  try {
    return { result: await fn(), peak };
  } finally {
    if (own) Object.defineProperty(proto, 'addEventListener', own);
    else delete (proto as { addEventListener?: unknown }).addEventListener;
  }
}

describe('eval run: abort listeners stay flat (500 samples, 32 workers, one parent signal)', function () {
  this.timeout(120_000);
  let tmp: string;
  let fm: FixtureModel;
  let judge: JudgeServer;
  const N = 500;
  const warnings: Error[] = [];
  const onWarning = (w: Error) => warnings.push(w);

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-listeners-'));
    fm = await startFixtureModel();
    judge = await startJudgeServer({ delayMs: 2 });
    process.on('warning', onWarning);
  });
  after(async () => {
    process.off('warning', onWarning);
    await fm.close();
    await judge.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('no MaxListenersExceededWarning; every signal holds ≤ 3 abort listeners at any time, none left at the end', async () => {
    const img = circlesImage({ red: 3, seed: 4 });
    const data = path.join(tmp, 'set.parquet');
    writeEvalParquet(
      data,
      Array.from({ length: N }, () => ({ dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: img.png })),
      { rowGroupSize: 100 },
    );
    // every 7th kernel start fails: that sample backs off (an abortable sleep) and tries again
    const stub = redCountKernels();
    let starts = 0;
    const kernels: KernelSource = {
      ...stub,
      acquire: () => (++starts % 7 === 0 ? Promise.reject(new Error('no kernel this time')) : stub.acquire()),
    };
    const parent = new AbortController(); // the CLI's Ctrl+C
    let parentPeak = 0;
    const processListeners = () => Object.fromEntries(process.eventNames().map((n) => [String(n), process.listenerCount(n)]));
    const processBefore = processListeners();
    const { result: s, peak } = await watchAbortListeners(() =>
      runEval(
        fixtureEvalOptions(fm.baseUrl, data, path.join(tmp, 'save'), {
          numWorkers: 32,
          signal: parent.signal,
          kernels,
          retries: 1,
          judge: new HttpJudge({ endpoints: judge.baseUrl, maxRetries: 0 }),
          onSample: () => (parentPeak = Math.max(parentPeak, getEventListeners(parent.signal, 'abort').length)),
        }),
      ),
    );
    await new Promise((r) => setImmediate(r)); // process 'warning' is emitted on a later tick
    assert.equal(s.ranNow, N);
    assert.ok(starts > N, 'some samples retried after a failed kernel start');
    assert.ok(s.stats.avg_acc > 0.9, 'the samples ran and were judged right (a sample whose retry failed too is recorded failed)');
    assert.ok(judge.requests.length > 0.9 * N, 'the answered samples were judged');
    const leaks = warnings.filter((w) => w.name === 'MaxListenersExceededWarning');
    assert.deepEqual(
      leaks.map((w) => w.message),
      [],
      'no MaxListenersExceededWarning',
    );
    assert.ok(parentPeak <= 1, `the parent signal held ${parentPeak} abort listeners during the run`);
    assert.equal(getEventListeners(parent.signal, 'abort').length, 0, 'the parent signal has no listener left after the run');
    const most = Math.max(...peak.values());
    assert.ok(most <= 3, `a signal held ${most} abort listeners at once (32 workers: a listener per worker on a shared signal)`);
    assert.deepEqual(processListeners(), processBefore, "the process's own listeners are as before the run");
    const left = [...peak.keys()].filter((sig) => !sig.aborted).reduce((n, sig) => n + getEventListeners(sig, 'abort').length, 0);
    assert.equal(left, 0, `${left} abort listener(s) left on live signals after the run`);
  });

  it('the parent aborted mid-run (Ctrl+C): the samples in flight stop through their shared listener, every kernel goes back', async () => {
    const img = circlesImage({ red: 3, seed: 4 });
    const data = path.join(tmp, 'cut.parquet');
    writeEvalParquet(
      data,
      Array.from({ length: 200 }, () => ({ dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: img.png })),
      { rowGroupSize: 100 },
    );
    const kernels = redCountKernels();
    const parent = new AbortController();
    let seen = 0;
    const s = await runEval(
      fixtureEvalOptions(fm.baseUrl, data, path.join(tmp, 'cut'), {
        numWorkers: 32,
        signal: parent.signal,
        kernels,
        onSample: () => ++seen === 40 && parent.abort(),
      }),
    );
    assert.equal(s.cancelled, true);
    assert.ok(s.ranNow >= 40 && s.ranNow < 200, `ran ${s.ranNow}`);
    assert.ok(
      kernels.made.every((k) => k.disposed),
      'every session given back',
    );
    assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
  });
});
