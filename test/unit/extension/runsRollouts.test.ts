/**
 * A dumped rollout as the run view shows it (src/extension/runs/rolloutTrajectory.ts,
 * rolloutAccess.ts): the decoded prompt and response split into the chat template's turns, each
 * call a cell with its tool response (an `--- Execution Error` as its error), the trainer's reward
 * on the cells, the question without the format's instruction, the input images; the steps of a
 * dump folder, the same prompt (text and image) at other steps, export items with the dumped
 * ground truth. Also the folders read from verl's log (logHints.ts), the thresholds' settings and
 * a run folder's newest log.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_THRESHOLDS } from '../../../src/core/runs/alarms';
import { readParquetRows } from '../../../src/core/data/parquet';
import { localRunFiles } from '../../../src/core/runs/runFiles';
import { exportTrainingData, trajectoryItems } from '../../../src/core/training-data';
import type { Rollout } from '../../../src/core/runs/types';
import { logHints, mergeHints } from '../../../src/extension/runs/logHints';
import { RolloutAccess } from '../../../src/extension/runs/rolloutAccess';
import { promptKey, rolloutRow, rolloutTrajectory, splitPrompt, splitResponse } from '../../../src/extension/runs/rolloutTrajectory';
import { newestLog } from '../../../src/extension/runs/runFolder';
import type { RunSession } from '../../../src/extension/runs/runSession';
import { alarmThresholds } from '../../../src/extension/runs/runSettings';
import { runLog, writeRunFixture } from '../../e2e/fixtures/runFixture';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
const INSTRUCTION =
  'Think step-by-step within <think></think>. You can call the execute_python_code tool to run Python code whenever it helps your reasoning. You must provide your final answer in <answer></answer>.';
const call = (code: string) => `<tool_call>\n${JSON.stringify({ name: 'execute_python_code', arguments: { code } })}\n</tool_call>`;

function rollout(output: string, fields: Record<string, unknown> = {}, images: string[] = [PNG]): Rollout {
  return {
    step: 12,
    index: 3,
    input: `system\nYou are a helpful assistant.\nuser\nHow many red circles are there?\n${INSTRUCTION}\nassistant\n`,
    output,
    score: 1,
    fields: { acc: 1, format_r: 0, tool_step: [0, -0.5], tool_success_rate: 0.5, tool_reward_component: 0.75, ...fields },
    images,
  };
}

const TWO_ROUNDS = [
  '<think>threshold the red pixels</think>',
  call('print(3)'),
  'user',
  '<tool_response>\nCode execution successful, output:\n3\n</tool_response>',
  'assistant',
  '<think>check again</think>',
  call('import scipy'),
  'user',
  "<tool_response>\n--- Execution Error (Error) ---\nModuleNotFoundError: No module named 'scipy'\n</tool_response>",
  'assistant',
  '<answer>3</answer>',
].join('\n');

describe('run view: a rollout as a trajectory', () => {
  it('splits the decoded prompt (system, question) and the response (turns and tool responses)', () => {
    assert.deepEqual(splitPrompt(rollout('').input), {
      system: 'You are a helpful assistant.',
      question: `How many red circles are there?\n${INSTRUCTION}`,
    });
    assert.deepEqual(splitPrompt('just text'), { question: 'just text' });
    assert.deepEqual(
      splitResponse(TWO_ROUNDS).map((t) => [t.role, t.content.slice(0, 16)]),
      [
        ['assistant', '<think>threshold'],
        ['user', '<tool_response>\n'],
        ['assistant', '<think>check aga'],
        ['user', '<tool_response>\n'],
        ['assistant', '<answer>3</answe'],
      ],
    );
    // two calls in one turn answered in one user turn, then the trainer's turn-limit message
    const limit =
      'Turn limit reached. Based on the analysis so far, directly provide the final answer using the <think></think><answer></answer> format. Do not use any more tools or execute code.';
    const two = `${call('a=1')}\n${call('b=2')}\nuser\n<tool_response>\nok\n</tool_response>\n<tool_response>\nok\n</tool_response>\nuser\n${limit}\nassistant\n<answer>2</answer>`;
    assert.deepEqual(
      splitResponse(two).map((t) => t.role),
      ['assistant', 'user', 'user', 'assistant'],
    );
    assert.equal(splitResponse(two)[2].content, limit);
    // "user" inside the model's own text is not a turn
    assert.deepEqual(splitResponse('<think>the user\nasks</think><answer>x</answer>').length, 1);
  });

  it('draws the calls as cells with their tool responses, the reward on each cell, the bare question, the images', () => {
    const { trajectory: t, reward } = rolloutTrajectory(rollout(TWO_ROUNDS), 'run step 12');
    assert.equal(t.question, 'How many red circles are there?');
    assert.equal(t.inputImages.length, 1);
    assert.equal(t.inputImages[0].data, PNG);
    assert.equal(t.answer, '3');
    assert.equal(t.status, 'answered');
    assert.equal(t.protocol, 'codedance-tools');
    const cells = t.turns.flatMap((x) => x.cells);
    assert.deepEqual(
      cells.map((c) => [c.id, c.code, c.status]),
      [
        ['t0-c0', 'print(3)', 'ok'],
        ['t1-c0', 'import scipy', 'error'],
      ],
    );
    assert.match(cells[0].stdout, /^Code execution successful, output:\n3$/);
    assert.deepEqual(cells[1].error && [cells[1].error.ename, cells[1].error.evalue], ['ModuleNotFoundError', "No module named 'scipy'"]);
    assert.ok(!t.turns[0].content.includes('<tool_call>'), 'the call is its cell, not text of the turn');
    assert.deepEqual(reward.cells, { 't0-c0': 0, 't1-c0': -0.5 });
    assert.equal(reward.tool_success_rate, 0.5);
    // the messages (what an export writes) keep the whole conversation, the call's JSON included
    assert.deepEqual(
      t.messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant'],
    );
    assert.ok(String(t.messages[2].content).includes('<tool_call>'));
    const first = t.messages[1].content as { type: string }[];
    assert.deepEqual(
      first.map((p) => p.type),
      ['image_url', 'text'],
    );
  });

  it('a rollout without calls: NaN tool_success_rate as none, no cells marked; the eval format’s <code> too', () => {
    const { reward } = rolloutTrajectory(rollout('<answer>3</answer>', { tool_step: [], tool_success_rate: NaN }, []), 'x');
    assert.equal(reward.tool_success_rate, null);
    assert.equal(reward.cells, undefined);
    const code =
      '<code>\n```python\nprint(1)\n```\n</code>\nuser\n<tool_response>\nOutput:\n1\n</tool_response>\nassistant\n<answer>1</answer>';
    const { trajectory } = rolloutTrajectory(rollout(code, { tool_step: [0] }), 'x');
    assert.equal(trajectory.protocol, 'codedance');
    assert.deepEqual(
      trajectory.turns.flatMap((x) => x.cells.map((c) => c.code)),
      ['print(1)'],
    );
  });

  it('a list row: numbers, tool calls, the clipped bare question; the prompt key covers text and image', () => {
    const r = rollout(TWO_ROUNDS, { tool_success_rate: NaN });
    const row = rolloutRow(r);
    assert.equal(row.toolCalls, 2);
    assert.ok(Number.isNaN(row.tool_success_rate!));
    assert.equal(row.question, 'How many red circles are there?');
    assert.equal(row.dataSource, '—');
    const otherOutput: Rollout = { ...r, output: 'other' };
    assert.equal(promptKey(r), promptKey(otherOutput));
    assert.notEqual(promptKey(r), promptKey({ ...r, images: [] }), 'the same question on another image is another prompt');
  });
});

describe('run view: a run folder’s rollouts', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-runs-'));
    writeRunFixture(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const access = () =>
    new RolloutAccess({
      label: 'demo',
      folders: () => ({ rolloutDir: path.join(dir, 'rollout_sft_step'), validationDir: path.join(dir, 'validation_sft_step') }),
      source: { files: () => ({ files: localRunFiles(), join: (d: string, n: string) => path.join(d, n) }) },
    } as unknown as RunSession);

  it('lists the dumped steps, reads a step, finds the same prompt at the other steps', async () => {
    const a = access();
    assert.deepEqual((await a.steps('validation')).steps, [10, 20, 30]);
    assert.equal((await a.steps('train')).steps.length, 30);
    const rows = await a.rows('validation', 30);
    assert.equal(rows.length, 4);
    const same = await a.samePrompt('validation', 30, 2);
    assert.deepEqual(
      same.matches.map((m) => [m.step, m.index]),
      [
        [10, 2],
        [20, 0],
      ],
    );
    assert.deepEqual([same.scanned, same.total], [2, 2]);
    const d = await a.detail('validation', 30, 2);
    assert.equal(d.groundTruth, '3');
    assert.equal(d.exchange.inputImages.length, 1);
    assert.ok(d.exchange.reward);
  });

  it('export items: the trajectory with its messages, the dumped ground truth', async () => {
    const [item] = await access().items('train', [{ step: 5, index: 1 }]);
    assert.equal(item.origin, 'demo rollout 1 of step 5');
    assert.match(item.groundTruth!, /^\d$/);
    assert.ok(item.trajectory.messages.length >= 3);
  });

  it('"Add to training data": the rollouts as CodeDance-SFT and -RL rows, through the exporters', async () => {
    const items = await access().items('validation', [
      { step: 30, index: 2 },
      { step: 20, index: 0 },
    ]);
    const rows = async (format: 'sft' | 'rl') => {
      const out = path.join(dir, `export_${format}.parquet`);
      const summary = await exportTrainingData({ format, out, items: trajectoryItems(items) });
      assert.equal(summary.rows, 2);
      const got: Record<string, unknown>[] = [];
      for await (const r of readParquetRows(out)) got.push(r.row);
      return got;
    };
    const sft = await rows('sft');
    const msgs = sft[0].messages as { role: string; content: string }[];
    assert.deepEqual(
      msgs.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant'],
    );
    assert.match(msgs[1].content, /^<image>How many red circles are there\?\nThink step-by-step/);
    assert.match(msgs[3].content, /^<tool_response>\nCode execution successful, output:\n3/);
    assert.equal((sft[0].images as unknown[]).length, 1);
    const rl = await rows('rl');
    assert.deepEqual(
      rl.map((r) => (r.reward_model as { ground_truth: string }).ground_truth),
      ['3', '3'],
    );
    assert.equal((rl[0].extra_info as { question: string }).question, 'How many red circles are there?');
  });

  it('a folder the run does not name, or that is not there yet, says so instead of failing', async () => {
    const none = new RolloutAccess({
      label: 'x',
      folders: () => ({ rolloutDir: path.join(dir, 'nope') }),
      source: { files: () => ({ files: localRunFiles(), join: path.join }) },
    } as unknown as RunSession);
    assert.match((await none.steps('train')).note!, /does not exist/);
    assert.match((await none.steps('validation')).note!, /names no validation folder: set trainer\.validation_data_dir/);
  });
});

describe('run view: where a run writes, from its log; settings; run folders', () => {
  it('reads the folders and names verl printed (config pprint, dumps, saves)', () => {
    const h = logHints(runLog());
    assert.deepEqual(h, {
      experiment: 'sa1b-grpo-demo',
      project: 'codedance_rl',
      rolloutDir: './rollout_sft_step',
      validationDir: './validation_sft_step',
      checkpointDir: 'checkpoints/codedance_rl/sa1b-grpo-demo',
      dumpDirs: ['./rollout_sft_step', './validation_sft_step'],
    });
    // no config printed (a log cut at the start): the dump and save lines alone
    const tail =
      '(TaskRunner pid=1) Dumped generations to /data/val_dump/20.jsonl\n(TaskRunner pid=1) Dumped generations to ./ro/21.jsonl\nlocal_global_step_folder: ck/p/e/global_step_20\n';
    assert.deepEqual(logHints(tail), {
      rolloutDir: './ro',
      validationDir: '/data/val_dump',
      checkpointDir: 'ck/p/e',
      dumpDirs: ['/data/val_dump', './ro'],
    });
    assert.deepEqual(mergeHints({ experiment: 'a', dumpDirs: ['x'] }, { rolloutDir: 'r', dumpDirs: ['x', 'y'] }), {
      experiment: 'a',
      rolloutDir: 'r',
      dumpDirs: ['x', 'y'],
    });
  });

  it('thresholds: each setting that is a number ≥ 0, else the default', () => {
    const settings: Record<string, unknown> = { earlySteps: 10, clipRatio: -1, hangFactor: 'x', formatDrop: 0 };
    assert.deepEqual(alarmThresholds({ get: <T>(k: string) => settings[k] as T }), {
      ...DEFAULT_THRESHOLDS,
      earlySteps: 10,
      formatDrop: 0,
    });
  });

  it('a run folder: its newest log, in it or in logs/', () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'codedance-runs-'));
    try {
      assert.equal(newestLog(d), undefined);
      mkdirSync(path.join(d, 'logs'));
      writeFileSync(path.join(d, 'logs', 'run_1.log'), 'a');
      writeFileSync(path.join(d, 'train.out'), 'b');
      writeFileSync(path.join(d, 'notes.md'), 'c');
      utimesSync(path.join(d, 'train.out'), new Date(1000), new Date(1000));
      assert.equal(newestLog(d), path.join(d, 'logs', 'run_1.log'));
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
