/**
 * The eval runner in-process with a stub kernel and the fixture model: resume (a cut last
 * line, finished samples skipped, exactly one line per sample), the run manifest (its fields,
 * and refusing to mix runs), failures recorded with their error, per-sample timeouts, and
 * cancellation leaving unfinished samples to the resume. Every sample gets its own session.
 */
import { strict as assert } from 'node:assert';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, finishedIndexes, repairTail, runEval, type EvalOptions } from '../../../src/core/eval';
import { getProtocol, templateHash } from '../../../src/core/protocol';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { writeEvalParquet } from '../../fixtures/parquetWriter';
import { fixtureEvalOptions } from './fixtureEval';
import { stubKernels } from './stubKernel';

const readLines = (f: string) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

describe('eval runner (stub kernel, fixture model)', function () {
  this.timeout(60_000);
  let tmp: string;
  let fm: FixtureModel;
  let data: string;
  const N = 10;

  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-runner-'));
    const img = circlesImage({ red: 3, seed: 4 });
    data = path.join(tmp, 'set.parquet');
    writeEvalParquet(
      data,
      Array.from({ length: N }, (_, i) => ({
        dataSource: 'vstar',
        question: circlesQuestion('red'),
        answer: '3',
        image: img.png,
        ...(i === 7 ? { image: undefined, imagePath: 'nope.png' } : {}),
      })),
      { rowGroupSize: 3 },
    );
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  beforeEach(async () => (fm = await startFixtureModel()));
  afterEach(async () => fm.close());

  const opts = (save: string, extra: Partial<EvalOptions> = {}): EvalOptions =>
    fixtureEvalOptions(fm.baseUrl, data, save, { numWorkers: 4, ...extra });

  it('runs every sample with its own kernel session and writes one line each, with the manifest', async () => {
    const save = path.join(tmp, 'a');
    const kernels = stubKernels((code) => ({ stdout: code.includes('red') ? 'red_count = 3\n' : 'x\n' }));
    const progress: number[] = [];
    const s = await runEval(
      opts(save, { kernels, onProgress: (p) => progress.push(p.done), extensionVersion: '9.9.9', sampling: { temperature: 0.5 } }),
    );
    const p = evalPaths(save, 'm', 'set');
    const recs = readLines(p.results);
    assert.equal(recs.length, N);
    assert.equal(kernels.made.length, N - 1, 'one session per sample (the skipped row needs none)');
    assert.ok(
      kernels.made.every((k) => k.disposed),
      'every session disposed',
    );
    assert.equal(s.stats.total_samples, N - 1);
    assert.equal(s.stats.avg_acc, 1);
    assert.equal(progress[progress.length - 1], N);
    const m = JSON.parse(readFileSync(p.manifest, 'utf8'));
    assert.equal(m.model_name, 'm');
    assert.equal(m.eval_model_name, 'codedance-fixture-7b');
    assert.deepEqual(m.endpoints, [fm.baseUrl]);
    assert.equal(m.sampling.temperature, 0.5);
    assert.equal(m.sampling.max_tokens, 2048);
    assert.equal(m.max_turns, 7);
    assert.equal(m.protocol, 'codedance');
    assert.equal(m.protocol_template_hash, templateHash(getProtocol('codedance')));
    assert.equal(m.judge.mode, 'no-judge');
    assert.match(m.judge.prompt_hash, /^[0-9a-f]{64}$/);
    assert.equal(m.dataset.rows, N);
    assert.match(m.dataset.sha256, /^[0-9a-f]{64}$/);
    assert.equal(m.extension_version, '9.9.9');
    assert.equal(m.runs.length, 1);
    const stats = JSON.parse(readFileSync(p.stats, 'utf8'));
    assert.equal(stats.codedance.manifest.dataset.sha256, m.dataset.sha256);
  });

  it("maxObservationTokens reaches every sample's loop (the model sees the output cut to it) and is in the manifest", async () => {
    const save = path.join(tmp, 'cap');
    const kernels = stubKernels((code) => ({ stdout: code.includes('red') ? `red_count = 3\n${'0123456789'.repeat(10_000)}\n` : 'x\n' }));
    const s = await runEval(opts(save, { kernels, limit: 2, numWorkers: 1, maxObservationTokens: 300 }));
    assert.equal(s.stats.avg_acc, 1, 'the head of the output (the count) is kept');
    const observations = fm.chatRequests
      .map((r) => JSON.stringify((r.body!.messages as unknown[]).at(-1)))
      .filter((m) => m.includes('0123456789'));
    assert.ok(observations.length >= 2, `${observations.length} observations with the long output`);
    for (const o of observations) {
      assert.match(o, /an observation is limited to about 300 tokens/);
      assert.ok(o.length < 4000, `${o.length} characters sent`);
    }
    assert.equal(JSON.parse(readFileSync(evalPaths(save, 'm', 'set').manifest, 'utf8')).max_observation_tokens, 300);
  });

  it('resumes: a cut last line is dropped, finished samples are skipped, each sample ends up once', async () => {
    const save = path.join(tmp, 'b');
    await runEval(opts(save, { limit: 4 }));
    const p = evalPaths(save, 'm', 'set');
    assert.equal(readLines(p.results).length, 4);
    appendFileSync(p.results, '{"question":"half a line written when the process was kil');
    const before = fm.chatRequests.length;
    const s = await runEval(opts(save));
    assert.equal(s.resumed, 4);
    assert.equal(s.ranNow, N - 4);
    const recs = readLines(p.results);
    assert.equal(recs.length, N);
    assert.deepEqual(
      recs.map((r) => r.index).sort((a, b) => a - b),
      [...Array(N).keys()],
    );
    assert.ok(fm.chatRequests.length - before <= (N - 4) * 2, 'finished samples were not asked again');
    const m = JSON.parse(readFileSync(p.manifest, 'utf8'));
    assert.equal(m.runs.length, 2);
  });

  it('refuses to resume into results of a different run (dataset, model or scoring changed)', async () => {
    const save = path.join(tmp, 'c');
    await runEval(opts(save, { limit: 1 }));
    await assert.rejects(runEval(opts(save, { limit: 1, evalModelName: 'other-model' })), /belongs to a different run: the model changed/);
    const m = evalPaths(save, 'm', 'set').manifest;
    const man = JSON.parse(readFileSync(m, 'utf8'));
    man.dataset.sha256 = '0'.repeat(64);
    writeFileSync(m, JSON.stringify(man));
    await assert.rejects(runEval(opts(save, { limit: 1 })), /the dataset file changed/);
  });

  it('a failing endpoint: the sample is retried, then recorded with its error, never dropped', async () => {
    const save = path.join(tmp, 'd');
    fm.setFaults(Array(40).fill({ kind: 'http', status: 500 }));
    const s = await runEval(opts(save, { limit: 2, numWorkers: 1, retries: 1 }));
    const recs = readLines(evalPaths(save, 'm', 'set').results);
    assert.equal(recs.length, 2);
    for (const r of recs) {
      assert.equal(r.status, 'error');
      assert.equal(r.codedance.attempts, 2);
      assert.match(r.codedance.error.message, /500/);
      assert.equal(r.acc, 0);
    }
    assert.equal(s.stats.success_rate, 0);
    assert.equal(s.stats.codedance.sample_error_rate, 1);
  });

  it('--retry-errors: a resume runs the samples that ended in an error again, still one line each', async () => {
    const save = path.join(tmp, 'g');
    fm.setFaults(Array(8).fill({ kind: 'http', status: 500 }));
    await runEval(opts(save, { limit: 4, numWorkers: 1, retries: 0 }));
    const p = evalPaths(save, 'm', 'set');
    const first = readLines(p.results);
    const errored = first.filter((r) => r.status === 'error').length;
    assert.ok(errored >= 1 && errored <= 4, `errors: ${errored}`);
    fm.setFaults([]);
    const s = await runEval(opts(save, { limit: 4, retryErrors: true }));
    assert.equal(s.ranNow, errored);
    const recs = readLines(p.results);
    assert.equal(recs.length, 4);
    assert.deepEqual(
      recs.map((r) => r.index).sort((a, b) => a - b),
      [0, 1, 2, 3],
    );
    assert.ok(recs.every((r) => r.status === 'success'));
  });

  it('a sample over its time limit is recorded as a timeout; a cancelled run records nothing unfinished', async () => {
    const save = path.join(tmp, 'e');
    await fm.close();
    fm = await startFixtureModel({ faults: ['hang', 'hang', 'hang', 'hang'] });
    const s = await runEval(opts(save, { limit: 1, numWorkers: 1, sampleTimeoutMs: 300, retries: 0 }));
    const [r] = readLines(evalPaths(save, 'm', 'set').results);
    assert.equal(r.codedance.outcome, 'timeout');
    assert.equal(r.status, 'error');
    assert.equal(s.stats.codedance.sample_timeout_rate, 1);

    const save2 = path.join(tmp, 'f');
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 200);
    const s2 = await runEval(opts(save2, { limit: 2, numWorkers: 2, signal: ctrl.signal }));
    assert.equal(s2.cancelled, true);
    assert.equal(readLines(evalPaths(save2, 'm', 'set').results).length, 0);
  });

  it('repairTail and finishedIndexes', async () => {
    const f = path.join(tmp, 'r.jsonl');
    writeFileSync(f, '{"index":0}\n{"index":2}\n{"ind');
    assert.equal(repairTail(f), 5);
    assert.equal(readFileSync(f, 'utf8'), '{"index":0}\n{"index":2}\n');
    assert.deepEqual([...(await finishedIndexes(f))], [0, 2]);
    writeFileSync(f, 'no newline at all');
    repairTail(f);
    assert.equal(readFileSync(f, 'utf8'), '');
  });
});
