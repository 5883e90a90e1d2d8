/**
 * Judge verdicts as the seed gets them: every sample is judged (temperature 0.3, a new seed),
 * even when another sample had the same question, answer and prediction. A verdict is reused
 * only for the same sample (a resume or re-score), unless the user asks for a shared cache.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evalPaths, HttpJudge, judgePrompt, runEval, type EvalOptions, type JudgeRequest } from '../../../src/core/eval';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { startJudgeServer, type JudgeServer } from '../../fixtures/judgeServer';
import { fixtureEvalOptions } from './fixtureEval';

describe('judge verdict cache: per sample by default, shared only when asked', function () {
  this.timeout(60_000);
  let tmp: string;
  let judge: JudgeServer;
  beforeEach(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-judgecache-'));
    judge = await startJudgeServer();
  });
  afterEach(async () => {
    await judge.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  const req = (sample?: string): JudgeRequest => ({
    kind: 'default',
    prompt: judgePrompt('tan', 'tan', 'color?'),
    system: 'You are a helpful assistant.',
    temperature: 0.3,
    question: 'color?',
    answer: 'tan',
    prediction: 'tan',
    sample,
  });

  it('HttpJudge: the same sample reuses its verdict (also from the cache file); another sample with the same texts is asked again', async () => {
    const cacheFile = path.join(tmp, 'judge_cache.jsonl');
    const j = new HttpJudge({ endpoints: judge.baseUrl, cacheFile, maxRetries: 0 });
    assert.equal(j.cacheScope, 'sample');
    assert.equal((await j.ask(req('sha:0'))).cached, false);
    assert.equal((await j.ask(req('sha:1'))).cached, false, 'a different sample: judged again, as the seed');
    assert.equal((await j.ask(req('sha:0'))).cached, true, 'the same sample again (resume / re-score)');
    assert.equal((await j.ask(req())).cached, false, 'no sample identity: never cached');
    assert.equal((await j.ask(req())).cached, false);
    assert.equal(judge.requests.length, 4);
    const seeds = new Set(judge.requests.map((r) => r.seed));
    assert.equal(seeds.size, 4, 'a new seed per request, as the seed');
    assert.ok(judge.requests.every((r) => r.temperature === 0.3));
    // a later run over the same file: the same sample is a hit
    const j2 = new HttpJudge({ endpoints: judge.baseUrl, cacheFile, maxRetries: 0 });
    assert.equal((await j2.ask(req('sha:1'))).cached, true);
    assert.equal(judge.requests.length, 4);
  });

  it("cacheScope 'shared': one verdict for every sample with the same question, answer and prediction", async () => {
    const j = new HttpJudge({ endpoints: judge.baseUrl, cacheScope: 'shared', maxRetries: 0 });
    await j.ask(req('sha:0'));
    assert.equal((await j.ask(req('sha:1'))).cached, true);
    assert.equal((await j.ask(req())).cached, true);
    assert.equal(judge.requests.length, 1);
  });

  describe('in a run', () => {
    let fm: FixtureModel;
    beforeEach(async () => (fm = await startFixtureModel()));
    afterEach(async () => fm.close());

    const run = (data: string, save: string, scope: 'sample' | 'shared', extra: Partial<EvalOptions> = {}) =>
      runEval(
        fixtureEvalOptions(fm.baseUrl, data, save, {
          judge: new HttpJudge({
            endpoints: judge.baseUrl,
            cacheFile: evalPaths(save, 'm', 'same').judgeCache,
            cacheScope: scope,
            maxRetries: 0,
          }),
          ...extra,
        }),
      );

    it('three samples with the same question, answer and prediction: three judge calls; shared: one; the manifest says which', async () => {
      const img = circlesImage({ red: 3, seed: 4 });
      const line = JSON.stringify({
        data_source: 'vstar',
        images: [{ bytes: img.png.toString('base64') }],
        extra_info: { question: circlesQuestion('red'), answer: '3' },
      });
      const data = path.join(tmp, 'same.jsonl');
      writeFileSync(data, [line, line, line].join('\n') + '\n');
      const s = await run(data, path.join(tmp, 'a'), 'sample');
      assert.equal(judge.requests.length, 3, 'the seed asks the judge for every sample');
      assert.equal(s.stats.codedance.judge_cache_hits, 0);
      assert.equal(s.manifest.judge.cache, 'sample');
      const preds = s.stats.total_samples;
      assert.equal(preds, 3);

      const before = judge.requests.length;
      const s2 = await run(data, path.join(tmp, 'b'), 'shared');
      assert.equal(judge.requests.length - before, 1);
      assert.equal(s2.stats.codedance.judge_cache_hits, 2);
      assert.equal(JSON.parse(readFileSync(s2.paths.manifest, 'utf8')).judge.cache, 'shared');
    });
  });
});
