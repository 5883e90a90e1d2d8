/**
 * DeepEyes' judge (`--judge-style deepeyes`, reward/deepeyesJudge.ts) against DeepEyes' own
 * eval/judge_result.py: test/fixtures/golden/deepeyes-judge.json is written by
 * scripts/golden/deepeyes_judge.py, which runs the repository's process() as written with a
 * scripted client. For each case the request our judge sends over the wire (an OpenAI-compatible
 * fixture judge records the body) must equal the repository's, and the accuracy must be its own.
 * Then a run: the manifest names the judge, the records its scorer, a resume with another judge
 * is refused.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EvalManifestError, evalPaths, HttpJudge, runEval, type ResultRecord } from '../../../src/core/eval';
import {
  DEEPEYES_JUDGE_EXAMPLES,
  DEEPEYES_JUDGE_PROMPT_HASH,
  DEEPEYES_JUDGE_TEMPLATE,
  deepeyesGroundTruth,
  deepeyesPrediction,
  defaultJudgeStyle,
  scoreDeepeyes,
} from '../../../src/core/reward/deepeyesJudge';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { smallObjectImage } from '../../fixtures/images';
import { startJudgeServer, type JudgeServer } from '../../fixtures/judgeServer';
import { fixtureEvalOptions } from './fixtureEval';
import { stubKernels } from './stubKernel';

interface GoldenCase {
  pred_ans: string;
  judgeReply: string | null;
  acc: number;
  requests: Record<string, unknown>[];
}
const GOLDEN = JSON.parse(readFileSync(path.resolve(__dirname, '../../fixtures/golden/deepeyes-judge.json'), 'utf8')) as {
  source: { commit: string };
  strings: { chat_template: string; examples: string[] };
  sample: { question: string; answer: string; options: string[]; groundTruth: string };
  model: string;
  cases: GoldenCase[];
};

describe("DeepEyes' judge (eval/judge_result.py) as --judge-style deepeyes", function () {
  this.timeout(60_000);
  let judge: JudgeServer;
  let tmp: string;
  beforeEach(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-dejudge-'));
    judge = await startJudgeServer({ models: [GOLDEN.model, 'judge'] });
  });
  afterEach(async () => {
    await judge.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('its strings are the repository’s, byte for byte (the golden is of commit 6c5e796)', () => {
    assert.equal(GOLDEN.source.commit, '6c5e79671dbff958a6f9d44848ba2ca87854f0b0');
    assert.equal(DEEPEYES_JUDGE_TEMPLATE, GOLDEN.strings.chat_template);
    assert.deepEqual(DEEPEYES_JUDGE_EXAMPLES, GOLDEN.strings.examples);
  });

  it('each golden case: the same judge request on the wire (or none), the same accuracy', async () => {
    const http = new HttpJudge({ endpoints: judge.baseUrl, model: GOLDEN.model, maxRetries: 0 });
    const { question, answer, options } = GOLDEN.sample;
    for (const c of GOLDEN.cases) {
      const before = judge.requests.length;
      if (c.judgeReply !== null) judge.setFaults([c.judgeReply]);
      // the model's last reply, from which pred_ans is read (eval_vstar.py lines 265-268)
      const reply = `<think>I looked closely.</think> <answer>${c.pred_ans}</answer>`;
      const { result, detail } = await scoreDeepeyes(reply, { question, answer, options }, { judge: http });
      const sent = judge.requests.slice(before).map((r) => r.body);
      assert.deepEqual(sent, c.requests, `case ${JSON.stringify(c.pred_ans)}: the judge request`);
      assert.equal(result.acc, c.acc, `case ${JSON.stringify(c.pred_ans)}: acc`);
      assert.equal(result.ground_truth, GOLDEN.sample.groundTruth);
      assert.equal(detail.scorer, 'deepeyes');
      assert.equal(detail.method, c.requests.length ? 'judge' : 'rule', `case ${JSON.stringify(c.pred_ans)}: how it was decided`);
      assert.equal(result.score, result.acc, 'no format term in DeepEyes’ judge');
    }
    assert.ok(GOLDEN.cases.some((c) => c.requests.length) && GOLDEN.cases.some((c) => !c.requests.length), 'both routes are covered');
  });

  it('the ground truth: the correct option’s letter and text (A for V*’s first option), a lettered answer kept, none invented', () => {
    assert.deepEqual(deepeyesGroundTruth('white', ['white', 'black']), { groundTruth: 'A. white', letter: 'A' });
    assert.deepEqual(deepeyesGroundTruth('black', ['white', 'black']), { groundTruth: 'B. black', letter: 'B' });
    assert.deepEqual(deepeyesGroundTruth('C. red', undefined), { groundTruth: 'C. red', letter: 'C' });
    assert.deepEqual(deepeyesGroundTruth('B', ['white', 'black']), { groundTruth: 'B. black', letter: 'B' });
    assert.deepEqual(deepeyesGroundTruth('42', undefined), { groundTruth: '42' });
  });

  it('the letter rules follow the correct letter; without one a lone "A" is not right by itself', async () => {
    const s = (pred: string, answer: string, options?: string[]) =>
      scoreDeepeyes(`<answer>${pred}</answer>`, { question: 'q', answer, options }).then((r) => [r.result.acc, r.detail.method]);
    assert.deepEqual(await s('B', 'black', ['white', 'black']), [1, 'rule']);
    assert.deepEqual(await s('A', 'black', ['white', 'black']), [0, 'rule']);
    assert.deepEqual(await s('B.', 'B. black'), [1, 'rule']);
    // no letter known and no judge: the normalized match decides
    assert.deepEqual(await s('A', '42'), [0, 'normalized-match']);
    assert.deepEqual(await s('42', '42'), [1, 'rule']);
  });

  it('pred_ans: the answer tags of the last reply, else the whole reply; \\boxed unwrapped; a \\boxed without { cannot be split', () => {
    assert.deepEqual(deepeyesPrediction('<think>x</think> <answer> B. black </answer>'), { pred: 'B. black' });
    assert.deepEqual(deepeyesPrediction('no tags at all'), { pred: 'no tags at all' });
    assert.deepEqual(deepeyesPrediction('<answer>\\boxed{B}</answer>'), { pred: 'B' });
    assert.match(deepeyesPrediction('<answer>\\boxed B</answer>').error ?? '', /^IndexError: /);
  });

  it('the protocol picks the judge: deepeyes for deepeyes, the seed’s for the others', () => {
    assert.equal(defaultJudgeStyle('deepeyes'), 'deepeyes');
    for (const p of ['codedance', 'codedance-tools', 'openai-tools', 'pyvision', 'thyme']) assert.equal(defaultJudgeStyle(p), 'seed');
  });

  describe('a run', () => {
    let fm: FixtureModel;
    beforeEach(async () => {
      fm = await startFixtureModel();
    });
    afterEach(async () => {
      await fm.close();
    });

    it('--protocol deepeyes is judged by DeepEyes’ judge: manifest, records and judge requests say so; a resume with the seed’s judge is refused', async () => {
      const sq = smallObjectImage({ color: 'red', seed: 5, width: 280, height: 210 });
      const data = path.join(tmp, 'rows.jsonl');
      const rows = [
        // the fixture model answers "unknown" to a question it cannot place: the ground truth holds it (rule)
        { extra_info: { question: 'Where is it?', answer: 'unknown' } },
        // it zooms; the stub kernel returns no crop, so it answers "no square": the LLM judge decides (wrong)
        {
          images: [{ bytes: sq.png.toString('base64'), path: null }],
          extra_info: {
            question: 'What color is the small square? It is inside [10, 10, 60, 60].',
            answer: 'red',
            options: ['red', 'blue'],
          },
        },
      ];
      writeFileSync(data, rows.map((r) => JSON.stringify({ data_source: 'vstar', ...r })).join('\n') + '\n');
      const save = path.join(tmp, 'save');
      const http = () => new HttpJudge({ endpoints: judge.baseUrl, model: 'judge', maxRetries: 0 });
      const opts = fixtureEvalOptions(fm.baseUrl, data, save, { protocol: 'deepeyes', kernels: stubKernels(() => ({})), judge: http() });
      const summary = await runEval(opts);
      assert.equal(summary.manifest.judge.style, 'deepeyes');
      assert.equal(summary.manifest.judge.prompt_hash, DEEPEYES_JUDGE_PROMPT_HASH);
      const recs = readFileSync(evalPaths(save, 'm', 'rows').results, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as ResultRecord)
        .sort((a, b) => a.index - b.index);
      assert.deepEqual(
        recs.map((r) => [r.acc, r.codedance.scorer, r.codedance.score_method, (r.judge_result as { ground_truth: string }).ground_truth]),
        [
          [1, 'deepeyes', 'rule', 'unknown'],
          [0, 'deepeyes', 'judge', 'A. red'],
        ],
      );
      assert.equal(judge.requests.length, 1, 'only the sample the rules could not decide was judged');
      const body = judge.requests[0].body as { messages: { content: string }[]; temperature: number };
      assert.equal(body.temperature, 0);
      assert.equal('seed' in body, false, 'DeepEyes’ judge sends no seed');
      assert.ok(body.messages[1].content.endsWith('[Standard Answer]: A. red\n[Model_answer] : no square\nJudgement:'));
      // a resume must be judged the same way
      await assert.rejects(runEval({ ...opts, judgeStyle: 'seed', judge: http() }), (e: Error) => {
        assert.ok(e instanceof EvalManifestError);
        assert.match(e.message, /the judge changed \(deepeyes -> seed; --judge-style deepeyes resumes it\)/);
        return true;
      });
    });
  });
});
