/**
 * Rollout dumps as the trainer writes them (test/fixtures/runs/rollouts, validation: written by
 * make-rollouts.py with Python's json.dumps, NaN/Infinity tokens and all), and the checkpoints
 * folder, both read through the local RunFiles.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listCheckpoints, mergeCommand } from '../../../src/core/runs/checkpoints';
import { RunsError } from '../../../src/core/runs/errors';
import { parseRolloutFile, rolloutStepsFromNames, toolCallCount } from '../../../src/core/runs/rollouts';
import { localRunFiles, type RunFiles } from '../../../src/core/runs/runFiles';

const DIR = path.join(__dirname, '../../fixtures/runs');
const read = (rel: string) => readFileSync(path.join(DIR, rel), 'utf8');

describe('runs: rollout dumps', () => {
  it("reads Python's NaN and Infinity tokens, and every field the seed's reward adds", () => {
    const text = read('rollouts/1.jsonl');
    assert.throws(
      () =>
        text
          .split('\n')
          .slice(0, 2)
          .map((l) => JSON.parse(l) as unknown),
      SyntaxError,
      'the fixture is not plain JSON',
    );
    const rs = parseRolloutFile(text, 1);
    assert.equal(rs.length, 3);
    assert.deepEqual(
      rs.map((r) => [r.step, r.index, r.score, r.gts, r.fields.acc]),
      [
        [1, 0, 1, 'red', 1],
        [1, 1, -0.2, 'red', 0],
        [1, 2, 1, 'red', 1],
      ],
    );
    assert.ok(Number.isNaN(rs[1].fields.tool_success_rate as number), 'NaN: no tool call');
    assert.equal(rs[2].fields.response_ppl, Infinity);
    assert.deepEqual(rs[0].fields.tool_step, [0, -0.5, 0]);
    assert.equal(rs[0].fields.answer, 'red');
    assert.match(rs[0].output, /<answer>red<\/answer>$/);
    assert.deepEqual(rs.map(toolCallCount), [2, 0, 1]);
    assert.deepEqual(rs[0].images, []);
    const two = parseRolloutFile(read('rollouts/2.jsonl'), 2);
    assert.equal(two[1].fields.tool_reward_component, -Infinity);
    assert.match(two[0].input, /车是什么颜色？/);
  });

  it('skips a half-written last line until it is complete', () => {
    const text = read('rollouts/3.jsonl');
    assert.ok(!text.endsWith('\n'));
    assert.equal(parseRolloutFile(text, 3).length, 2);
    const lastLine = text.slice(text.lastIndexOf('\n') + 1);
    assert.ok(lastLine.length > 100, 'the fixture cuts a real line');
    assert.equal(parseRolloutFile(text.slice(0, text.lastIndexOf('\n') + 1), 3).length, 2);
    assert.equal(parseRolloutFile('', 3).length, 0);
  });

  it('validation dumps carry the input images as base64 PNGs', () => {
    const rs = parseRolloutFile(read('validation/4.jsonl'), 4);
    assert.deepEqual(
      rs.map((r) => r.images.length),
      [1, 2],
    );
    for (const b64 of rs.flatMap((r) => r.images))
      assert.deepEqual([...Buffer.from(b64, 'base64').subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.ok(!('multi_modal_data' in rs[0].fields));
  });

  it('a complete line that is not JSON is an error naming the step and line', () => {
    assert.throws(
      () => parseRolloutFile('{"input": "a", "output": "b", "score": 1}\n{oops\n', 7),
      (e: unknown) => e instanceof RunsError && e.code === 'format' && /rollouts of step 7, line 2: not JSON/.test(e.message),
    );
    assert.throws(() => parseRolloutFile('[1, 2]\n', 7), /line 1: not a JSON object/);
  });

  it('steps from the folder listing: <step>.jsonl only, numerically', async () => {
    assert.deepEqual(
      rolloutStepsFromNames(['10.jsonl', '2.jsonl', 'notes.txt', '1.jsonl', 'x/3.jsonl', '2.jsonl.tmp', '.5.jsonl']),
      [1, 2, 3, 10],
    );
    assert.deepEqual(rolloutStepsFromNames(await localRunFiles().list(path.join(DIR, 'rollouts'))), [1, 2, 3]);
  });
});

describe('runs: checkpoints', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'runs-ckpt-'));
    for (const p of [
      'global_step_20/actor/huggingface',
      'global_step_100/actor',
      'global_step_100/merged_hf',
      'global_step_40/merged_hf',
      'not_a_step',
    ])
      mkdirSync(path.join(dir, p), { recursive: true });
    writeFileSync(path.join(dir, 'global_step_100/merged_hf/config.json'), '{}');
    writeFileSync(path.join(dir, 'latest_checkpointed_iteration.txt'), '100');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const expected = () => [
    { step: 20, path: `${dir}/global_step_20` },
    { step: 40, path: `${dir}/global_step_40` },
    { step: 100, path: `${dir}/global_step_100`, mergedPath: `${dir}/global_step_100/merged_hf` },
  ];

  it('lists global_step_N folders numerically; merged only where merged_hf/config.json is', async () => {
    assert.deepEqual(await listCheckpoints(localRunFiles(), dir + '/'), expected());
  });

  it('the same through files that can only list one folder at a time', async () => {
    const local = localRunFiles();
    const plain: RunFiles = { list: (d) => local.list(d), read: (p) => local.read(p) };
    assert.deepEqual(await listCheckpoints(plain, dir), expected());
  });

  it('no folder yet: no checkpoints', async () => {
    assert.deepEqual(await listCheckpoints(localRunFiles(), path.join(dir, 'missing')), []);
  });

  it('the merge command, shell-quoted', () => {
    assert.equal(
      mergeCommand('/ckpt/global_step_20/actor', "/out/it's merged"),
      "python -m verl.model_merger merge --backend fsdp --local_dir /ckpt/global_step_20/actor --target_dir '/out/it'\\''s merged'",
    );
  });
});
