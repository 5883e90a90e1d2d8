/**
 * `codedance eval` end to end: the built CLI (dist/cli.js) on a parquet file generated here
 * (images inline as {bytes, path} structs, one by relative path, one broken), the fixture VLM
 * (real OpenAI wire protocol; it only knows what the executed code printed, so a right answer
 * means a real kernel ran the model's code on the row's image), the fixture judge, then
 * kill -9 in the middle of a run and resume -> exactly one result per sample.
 */
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, type CliRun, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion, smallObjectImage } from '../../fixtures/images';
import { startJudgeServer, type JudgeServer } from '../../fixtures/judgeServer';
import { writeEvalJsonl, writeEvalParquet, type EvalRowSpec } from '../../fixtures/parquetWriter';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

const SEED_FIELDS = [
  'question',
  'ground_truth',
  'pred_ans',
  'input',
  'output',
  'multi_modal_data',
  'status',
  'index',
  'acc',
  'judge_score',
  'judge_result',
  'try_count',
  'tool_call_count',
  'tool_success_count',
  'tool_success_rate',
];
const SEED_STATS = [
  'total_samples',
  'success_samples',
  'success_rate',
  'avg_acc',
  'avg_judge_score',
  'avg_try_count',
  'avg_reasoning_turns',
  'tool_call_sample_count',
  'avg_code_exec_success_rate',
  'model_name',
  'data_source',
];

function cli(args: string[], env: Record<string, string | undefined> = {}, onChild?: (c: ChildProcess) => void): Promise<CliRun> {
  return runCli(
    args,
    {
      CODEDANCE_BASE_URL: undefined,
      LLM_AS_A_JUDGE_BASE: undefined,
      OPENAI_API_KEY: undefined,
      CODEDANCE_API_KEY: undefined,
      CODEDANCE_PYTHON: PYTHON,
      ...env,
    },
    onChild,
  );
}

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

describe('codedance eval (CLI, parquet, fixture model + judge, real kernel)', function () {
  this.timeout(240_000);
  let fm: FixtureModel;
  let judge: JudgeServer;
  let tmp: string;
  let rows: EvalRowSpec[];
  let parquet: string;

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-eval-'));
    const c1 = circlesImage({ red: 4, blue: 2, seed: 3 });
    const c2 = circlesImage({ green: 3, red: 1, seed: 5 });
    const c3 = circlesImage({ blue: 6, seed: 9 });
    const sq = smallObjectImage({ color: 'red', seed: 2, width: 600, height: 400 });
    writeFileSync(path.join(tmp, 'side.png'), c2.png);
    rows = [
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '4', image: c1.png },
      { dataSource: 'chart', question: circlesQuestion('green'), answer: '3', imagePath: 'side.png' }, // path relative to the parquet file
      { dataSource: 'xince', question: circlesQuestion('blue'), answer: '6', image: c3.png }, // math: symbolic check
      { dataSource: null, question: sq.question, answer: sq.truth.color, image: sq.png }, // --data-source fallback
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '7', image: c1.png }, // wrong ground truth -> acc 0
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '1', imagePath: 'missing.png' }, // the seed skips it
    ];
    parquet = path.join(tmp, 'mini_bench.parquet');
    writeEvalParquet(parquet, rows, { rowGroupSize: 2 });
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  beforeEach(async () => {
    fm = await startFixtureModel();
    judge = await startJudgeServer();
  });
  afterEach(async () => {
    await fm.close();
    await judge.close();
  });

  it('scores every row as the seed does and writes the seed-compatible files', async () => {
    const save = path.join(tmp, 'save1');
    const r = await cli([
      'eval',
      '--model_name',
      'fx',
      '--api_url',
      fm.baseUrl,
      '--data_path',
      parquet,
      '--save_path',
      save,
      '--num_workers',
      '3',
      '--data_source',
      'vl_agent',
      '--judge-url',
      judge.baseUrl,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const resultFile = path.join(save, 'fx', 'result_fx_mini_bench.jsonl');
    const recs = lines(resultFile).sort((a, b) => a.index - b.index);
    assert.deepEqual(
      recs.map((x) => x.index),
      [0, 1, 2, 3, 4, 5],
    );
    for (const x of recs)
      assert.deepEqual(
        Object.keys(x).filter((k) => k !== 'codedance'),
        SEED_FIELDS,
        `fields of sample ${x.index}`,
      );
    assert.deepEqual(
      recs.map((x) => x.acc),
      [1, 1, 1, 1, 0, 0],
    );
    assert.equal(recs[2].codedance.scorer, 'math');
    assert.equal(recs[2].codedance.score_method, 'symbolic');
    assert.equal(recs[2].judge_score, 1.2, 'math score = acc * 1.2');
    assert.equal(recs[3].codedance.data_source, 'vl_agent', 'the flag is the fallback for rows without data_source');
    assert.equal(recs[5].codedance.skipped, true);
    assert.match(recs[5].codedance.error.message, /missing\.png/);
    const ok = recs[0];
    assert.equal(ok.status, 'success');
    assert.equal(ok.try_count, 2);
    assert.equal(ok.tool_call_count, 1);
    assert.equal(ok.tool_success_count, 1);
    assert.equal(ok.tool_success_rate, 1);
    assert.match(ok.output, /^system\nYou are a helpful assistant\./);
    assert.match(ok.output, /\nuser\nHow many red circles are there\?\nThink step-by-step/);
    assert.match(ok.output, /\nuser\n<tool_response>\n<tool_response>\nOutput:\n/);
    assert.match(ok.pred_ans, /<answer>4<\/answer>/);
    assert.equal(ok.judge_result.answer, '4');
    assert.equal(ok.judge_result.format_r, 0);
    assert.ok(
      ok.multi_modal_data.image.length >= 1 && !ok.multi_modal_data.image[0].startsWith('data:'),
      'the input image first, bare base64 as eval.py',
    );
    assert.ok(ok.codedance.trajectory.turns[0].cells[0].code.includes('input_image'));
    // the line embeds the whole trajectory (schema 2), its images as files beside the results
    assert.equal(ok.codedance.trajectory.version, 2);
    assert.deepEqual(
      ok.codedance.trajectory.messages.map((m: { role: string }) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant'],
    );
    const ref = /^codedance-file:([0-9a-f]{40}\.png)$/.exec(ok.codedance.trajectory.inputImages[0].data);
    assert.ok(ref, ok.codedance.trajectory.inputImages[0].data.slice(0, 40));
    assert.equal(readFileSync(path.join(save, 'fx', 'images', ref[1])).toString('base64'), ok.multi_modal_data.image[0]);
    // judge: the seed's prompt, system message and temperature; the math row never reached it (symbolic)
    assert.equal(judge.requests.length, 4);
    const jr = judge.requests[0];
    assert.equal(jr.model, 'judge');
    assert.equal(jr.temperature, 0.3);
    assert.equal(jr.messages[0].content, 'You are a helpful assistant.');
    assert.match(jr.messages[1].content, /Judement is 1; if they are different, Judement is 0\./);
    assert.match(jr.messages[1].content, /\nJudgement:$/);

    const stats = JSON.parse(readFileSync(path.join(save, 'fx', 'stats_fx.json'), 'utf8'));
    assert.deepEqual(
      Object.keys(stats).filter((k) => k !== 'codedance'),
      SEED_STATS,
    );
    assert.equal(stats.total_samples, 5, 'the skipped row is out of the stats, as the seed drops it');
    assert.equal(stats.avg_acc, 4 / 5);
    assert.equal(stats.model_name, 'fx');
    assert.equal(stats.codedance.per_source.vstar.n, 2);
    assert.equal(stats.codedance.skipped_samples, 1);
    const manifest = JSON.parse(readFileSync(path.join(save, 'fx', 'manifest_fx_mini_bench.json'), 'utf8'));
    assert.equal(manifest.eval_model_name, 'codedance-fixture-7b');
    assert.equal(manifest.judge.mode, 'llm-judge');
    assert.match(manifest.dataset.sha256, /^[0-9a-f]{64}$/);
    assert.match(manifest.protocol_template_hash, /^[0-9a-f]{64}$/);
    assert.match(manifest.judge.prompt_hash, /^[0-9a-f]{64}$/);
    assert.match(r.stderr, /Average accuracy \(ACC\): 0\.8000/);

    // a rerun skips everything: no model call, no judge call
    const before = fm.chatRequests.length;
    const r2 = await cli([
      'eval',
      '--model-name',
      'fx',
      '--api-url',
      fm.baseUrl,
      '--data-path',
      parquet,
      '--save-path',
      save,
      '--num-workers',
      '3',
      '--data-source',
      'vl_agent',
      '--judge-url',
      judge.baseUrl,
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(fm.chatRequests.length, before);
    assert.equal(lines(resultFile).length, 6);
  });

  it('kill -9 in the middle of a run, then resume: exactly one result per sample', async () => {
    await fm.close();
    fm = await startFixtureModel({ chunkDelayMs: 15 });
    const many: EvalRowSpec[] = [];
    const img = circlesImage({ red: 2, blue: 1, seed: 21 });
    for (let i = 0; i < 10; i++) many.push({ dataSource: 'vstar', question: circlesQuestion('red'), answer: '2', image: img.png });
    const file = path.join(tmp, 'killme.parquet');
    writeEvalParquet(file, many, { rowGroupSize: 5 });
    const save = path.join(tmp, 'save-kill');
    const out = path.join(save, 'fx', 'result_fx_killme.jsonl');
    const args = [
      'eval',
      '--model-name',
      'fx',
      '--api-url',
      fm.baseUrl,
      '--data-path',
      file,
      '--save-path',
      save,
      '--num-workers',
      '3',
      '--judge-url',
      judge.baseUrl,
    ];
    const first = await cli(args, {}, (child) => {
      const t = setInterval(() => {
        if (existsSync(out) && readFileSync(out, 'utf8').split('\n').filter(Boolean).length >= 3) {
          clearInterval(t);
          child.kill('SIGKILL');
        }
      }, 20);
      child.on('close', () => clearInterval(t));
    });
    assert.equal(first.code, null, 'killed');
    const partial = readFileSync(out, 'utf8').split('\n').filter(Boolean).length;
    assert.ok(partial >= 3 && partial < 10, `partial run wrote ${partial}`);
    const second = await cli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /resuming: \d+ of 10/);
    const recs = lines(out);
    assert.equal(recs.length, 10);
    assert.deepEqual(
      [...new Set(recs.map((x) => x.index))].sort((a, b) => a - b),
      [...Array(10).keys()],
    );
    const stats = JSON.parse(readFileSync(path.join(save, 'fx', 'stats_fx.json'), 'utf8'));
    assert.equal(stats.total_samples, 10);
    assert.equal(stats.avg_acc, 1);
    const manifest = JSON.parse(readFileSync(path.join(save, 'fx', 'manifest_fx_killme.json'), 'utf8'));
    assert.equal(manifest.runs.length, 2);
  });

  it('--no-judge scores by normalized match, says so, and a JSONL dataset works the same', async () => {
    const file = path.join(tmp, 'mini.jsonl');
    writeEvalJsonl(file, rows.slice(0, 2));
    const save = path.join(tmp, 'save-nj');
    const r = await cli([
      'eval',
      '--model-name',
      'nj',
      '--api-url',
      `${fm.baseUrl},${fm.baseUrl}`,
      '--data-path',
      file,
      '--save-path',
      save,
      '--num-workers',
      '2',
      '--no-judge',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--no-judge: normalized exact match/);
    const recs = lines(path.join(save, 'nj', 'result_nj_mini.jsonl'));
    assert.equal(recs.length, 2);
    assert.ok(recs.every((x) => x.acc === 1 && x.codedance.score_method === 'normalized-match'));
    const stats = JSON.parse(readFileSync(path.join(save, 'nj', 'stats_nj.json'), 'utf8'));
    assert.match(stats.codedance.scoring, /^no-judge/);
    assert.equal(judge.requests.length, 0);
  });

  it('a missing column is an error naming the column and the file (exit 2); no judge configured is explained', async () => {
    const bad = path.join(tmp, 'bad.parquet');
    writeEvalParquet(bad, rows.slice(0, 1), { omit: ['extra_info', 'reward_model'] });
    const r = await cli(['eval', '--api-url', fm.baseUrl, '--data-path', bad, '--save-path', path.join(tmp, 'save-bad'), '--no-judge']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.parquet: column 'extra_info' is missing/);
    const bad2 = path.join(tmp, 'bad2.parquet');
    writeEvalParquet(bad2, rows.slice(0, 1), { omit: ['reward_model'], answerField: 'solution' });
    const r2 = await cli(['eval', '--api-url', fm.baseUrl, '--data-path', bad2, '--save-path', path.join(tmp, 'save-bad'), '--no-judge']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /bad2\.parquet: column 'extra_info\.answer' is missing/);
    const r3 = await cli(['eval', '--api-url', fm.baseUrl, '--data-path', parquet, '--save-path', path.join(tmp, 'save-bad')]);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /--judge-url URL or set LLM_AS_A_JUDGE_BASE/);
  });

  it('exit 2: --max-observation-tokens that is not a whole number >= 0', async () => {
    for (const bad of ['-1', '2.5', 'lots']) {
      const r = await cli([
        'eval',
        '--api-url',
        fm.baseUrl,
        '--data-path',
        parquet,
        '--save-path',
        path.join(tmp, 'save-mot'),
        '--no-judge',
        `--max-observation-tokens=${bad}`,
      ]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`--max-observation-tokens must be a whole number of tokens >= 0 \\(0 = no limit\\), got '${bad}'`));
    }
  });

  it('LLM_AS_A_JUDGE_BASE is honoured; a rate-limited judge is retried; a re-score hits the verdict cache', async () => {
    judge.setFaults(['rate-limit', 'rate-limit']);
    const save = path.join(tmp, 'save-env');
    const args = [
      'eval',
      '--model-name',
      'env',
      '--api-url',
      fm.baseUrl,
      '--data-path',
      parquet,
      '--save-path',
      save,
      '--num-workers',
      '2',
      '--limit',
      '2',
    ];
    const r = await cli(args, { LLM_AS_A_JUDGE_BASE: judge.baseUrl });
    assert.equal(r.code, 0, r.stderr);
    const recs = lines(path.join(save, 'env', 'result_env_mini_bench.jsonl'));
    assert.equal(recs.length, 2, '--limit 2');
    assert.ok(
      recs.every((x) => x.acc === 1),
      JSON.stringify(recs.map((x) => x.codedance.judge_error)),
    );
    assert.equal(judge.requests.length, 4, 'two 429s, then two verdicts');
    // a fresh run into the same folder (results removed) re-scores from the cache
    rmSync(path.join(save, 'env', 'result_env_mini_bench.jsonl'));
    const r2 = await cli(args, { LLM_AS_A_JUDGE_BASE: judge.baseUrl });
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(judge.requests.length, 4, 'no new judge request');
    assert.ok(lines(path.join(save, 'env', 'result_env_mini_bench.jsonl')).every((x) => x.codedance.judge_cached === true));
  });
});
