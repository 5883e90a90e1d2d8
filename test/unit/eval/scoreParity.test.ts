/**
 * Scoring details at seed parity: the 1000-character answer limit counts code points as
 * Python's `len` does; a run's math rows use the evaluating Python's `math_verify` (a recording
 * stand-in here) started once for the run, or are marked approximate in the stats and manifest.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { codePointLength, computeScore, runEval, type EvalOptions, type Judge } from '../../../src/core/eval';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { fixtureEvalOptions } from './fixtureEval';
import { stubKernels } from './stubKernel';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const STANDIN = path.resolve(__dirname, '../../fixtures/mathVerifyStandIn');
const judgeSaying = (text: string): Judge & { asked: number } => {
  const j = { model: 'judge', promptHash: 'h', endpoints: [], asked: 0, ask: async () => (j.asked++, { text, cached: false }) };
  return j;
};

describe('scoring at seed parity', function () {
  this.timeout(60_000);

  it("the 1000-character limit counts code points like Python's len (emoji and other astral characters count 1)", async () => {
    const emoji = '😀'.repeat(600); // 600 code points, 1200 UTF-16 units
    assert.equal(codePointLength(emoji), 600);
    const ok = await computeScore('vstar', `<answer>${emoji}</answer>`, 'x', 'q', { judge: judgeSaying('Judgement: 1') });
    assert.equal(ok.result.acc, 1, 'under the limit for Python: judged');
    assert.equal(ok.result.format_r, 0);
    const long = await computeScore('vstar', `<answer>${'😀'.repeat(1000)}</answer>`, 'x', 'q', { judge: judgeSaying('Judgement: 1') });
    assert.equal(long.result.acc, 0);
    assert.equal(long.detail.method, 'too-long');
    const edge = await computeScore('vstar', `<answer>${'𝔸'.repeat(999)}</answer>`, 'x', 'q', { judge: judgeSaying('Judgement: 1') });
    assert.equal(edge.result.acc, 1, '999 code points pass');
  });

  describe('math rows in a run', () => {
    let tmp: string;
    let fm: FixtureModel;
    beforeEach(async () => {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-mathrun-'));
      fm = await startFixtureModel();
    });
    afterEach(async () => {
      await fm.close();
      rmSync(tmp, { recursive: true, force: true });
    });

    const dataset = () => {
      const f = path.join(tmp, 'math.jsonl');
      const row = (q: string, a: string) => JSON.stringify({ data_source: 'xince', extra_info: { question: q, answer: a } });
      writeFileSync(f, [row('What is 2+3?', '5'), row('What is 2+3 again?', '5'), row('Name a vowel.', 'A')].join('\n') + '\n');
      return f;
    };
    const opts = (extra: Partial<EvalOptions>): EvalOptions =>
      fixtureEvalOptions(fm.baseUrl, dataset(), path.join(tmp, 'save'), {
        numWorkers: 2,
        kernels: stubKernels(() => ({ stdout: '5\n' })),
        python: PY,
        ...extra,
      });

    it("with math_verify importable in the evaluating Python: the seed's calls, one helper for the run, said in stats and manifest", async () => {
      const log = path.join(tmp, 'calls.jsonl');
      const saved = {
        PYTHONPATH: process.env.PYTHONPATH,
        LOG: process.env.MATH_VERIFY_STANDIN_LOG,
        NOPYC: process.env.PYTHONDONTWRITEBYTECODE,
      };
      process.env.PYTHONPATH = STANDIN;
      process.env.MATH_VERIFY_STANDIN_LOG = log;
      process.env.PYTHONDONTWRITEBYTECODE = '1'; // no __pycache__ in the fixture folder
      try {
        const s = await runEval(opts({}));
        assert.equal(s.manifest.math_check?.mode, 'math_verify');
        assert.match(s.stats.codedance.math_check!, /^math check: math_verify 0\.0-standin/);
        const m = JSON.parse(readFileSync(s.paths.manifest, 'utf8'));
        assert.equal(m.math_check.mode, 'math_verify');
        const calls = readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { fn: string; args: unknown[]; kwargs: object; pid: number });
        const recs = readFileSync(s.paths.results, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l));
        const answered = recs.filter((r) => r.judge_result.answer);
        assert.ok(answered.length >= 1, 'the fixture model answered');
        // per answered sample: parse(ground_truth), parse(model_answer), verify(both) — the raw strings
        assert.equal(calls.filter((c) => c.fn === 'verify').length, answered.length);
        for (const r of answered) {
          const v = calls.find(
            (c) =>
              c.fn === 'verify' &&
              JSON.stringify(c.args) === JSON.stringify([{ parsed: r.ground_truth }, { parsed: r.judge_result.answer }]),
          );
          assert.ok(v, `verify(parse(${r.ground_truth}), parse(${r.judge_result.answer}))`);
          assert.deepEqual(v.kwargs, {});
          assert.equal(r.codedance.score_method === 'symbolic' || r.codedance.score_method === 'normalized-match', true);
        }
        assert.equal(new Set(calls.map((c) => c.pid)).size, 1, 'one helper process for the run');
      } finally {
        if (saved.PYTHONPATH === undefined) delete process.env.PYTHONPATH;
        else process.env.PYTHONPATH = saved.PYTHONPATH;
        if (saved.LOG === undefined) delete process.env.MATH_VERIFY_STANDIN_LOG;
        else process.env.MATH_VERIFY_STANDIN_LOG = saved.LOG;
        if (saved.NOPYC === undefined) delete process.env.PYTHONDONTWRITEBYTECODE;
        else process.env.PYTHONDONTWRITEBYTECODE = saved.NOPYC;
      }
    });

    it('without math_verify: the approximate check, marked in the stats and the manifest with the install command', async function () {
      if (spawnSync(PY, ['-c', 'import math_verify']).status === 0) this.skip(); // installed here: the other test covers it
      const s = await runEval(opts({}));
      assert.equal(s.manifest.math_check?.mode, 'approximate');
      assert.equal(s.stats.codedance.math_check, 'math check: approximate (math_verify not installed)');
      assert.equal(s.manifest.math_check?.fix, `${PY} -m pip install math-verify`);
      const stats = JSON.parse(readFileSync(s.paths.stats, 'utf8'));
      assert.equal(stats.codedance.math_check, 'math check: approximate (math_verify not installed)');
    });

    it('a dataset without math rows starts no helper and says nothing about the math check', async () => {
      const f = path.join(tmp, 'plain.jsonl');
      writeFileSync(f, JSON.stringify({ data_source: 'vstar', extra_info: { question: 'q', answer: 'a' } }) + '\n');
      const s = await runEval({ ...opts({}), dataPath: f });
      assert.equal(s.manifest.math_check, undefined);
      assert.equal(s.stats.codedance.math_check, undefined);
    });
  });
});
