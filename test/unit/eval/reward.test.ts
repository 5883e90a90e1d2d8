/**
 * The seed's training reward per trajectory (core/reward/reward.ts) is the eval's scoring
 * code (core/reward/score.ts) applied to the whole rollout: the same numbers as `computeScore` on
 * that text, each call's score on its cell, acc from the eval's verdict or the `--no-judge` rule.
 */
import * as assert from 'node:assert/strict';
import { computeScore } from '../../../src/core/reward/score';
import { responseText, trajectoryReward } from '../../../src/core/reward/reward';
import { rowReference, rowReward } from '../../../src/core/reward/rowReward';
import { exchangeWithReward, withReward } from '../../../src/extension/data/chatReward';
import { exchangeEvents, sessionMessage } from '../../../src/protocol/panelEvents';
import { fixtureTrajectory, solidPng } from '../data/exportFixtures';

const input = solidPng(8, 8, [10, 20, 30]);
const failing = () =>
  fixtureTrajectory({
    id: 'r1',
    question: 'How many?',
    input,
    turns: [
      { code: 'print(x)', error: { ename: 'NameError', evalue: "name 'x' is not defined" } },
      { code: 'print(3)', stdout: '3' },
    ],
    answer: '3',
  });

describe('training reward per trajectory (the eval’s scoring code)', () => {
  it('equals computeScore on the rollout text, for the default and the math scorer', async () => {
    const t = failing();
    const text = responseText(t.messages, 2);
    assert.match(text, /^<think>step 0<\/think>/, 'the rollout starts after the prompt');
    assert.equal(text.match(/<tool_response>/g)?.length, 2);
    for (const source of ['vstar', 'thinklite_eureka', 'pixmo']) {
      const want = (await computeScore(source, text, '3', 'How many?')).result;
      const got = trajectoryReward(t, { dataSource: source, acc: want.acc })!;
      assert.deepEqual(
        {
          score: got.score,
          acc: got.acc,
          tool_step: got.tool_step,
          tool_success_rate: got.tool_success_rate,
          tool_reward_component: got.tool_reward_component,
          format_r: got.format_r,
        },
        {
          score: want.score,
          acc: want.acc,
          tool_step: want.tool_step,
          tool_success_rate: want.tool_success_rate,
          tool_reward_component: want.tool_reward_component,
          format_r: want.format_r,
        },
        source,
      );
    }
  });

  it('puts each call’s score on its cell: the failed call −0.5, the good one 0', () => {
    const r = trajectoryReward(failing(), { dataSource: 'vstar', acc: 1 })!;
    assert.deepEqual(r.perCall, [-0.5, 0]);
    assert.deepEqual(r.cells, { 't0-c0': -0.5, 't1-c0': 0 });
    assert.deepEqual(r.tool_step, [-0.5, 0, 0]);
    assert.equal(r.tool_success_rate, 0.5);
    assert.equal(r.tool_reward_component, 0.75, 'default source, acc 1: 1.5 × rate');
    assert.equal(r.score, 1);
    assert.equal(r.accFrom, 'eval');
  });

  it('without a ground truth: the tool part and format only, acc never made up', () => {
    const r = trajectoryReward(failing())!;
    assert.equal(r.acc, undefined);
    assert.equal(r.score, undefined);
    assert.equal(r.format_r, 0);
    assert.deepEqual(r.perCall, [-0.5, 0]);
  });

  it('an eval sample opened in the chat: the eval’s verdict for the answer it judged, else the --no-judge rule', () => {
    const t = failing();
    t.reference = { groundTruth: 'three', dataSource: 'vstar', judged: { answer: '3', acc: 1 } };
    assert.deepEqual([trajectoryReward(t)!.acc, trajectoryReward(t)!.accFrom], [1, 'eval']);
    t.reference = { groundTruth: 'three', dataSource: 'vstar', judged: { answer: '4', acc: 0 } };
    assert.deepEqual(
      [trajectoryReward(t)!.acc, trajectoryReward(t)!.accFrom],
      [0, 'normalized-match'],
      '"3" vs "three" does not match without the judge',
    );
    t.reference = { groundTruth: '3', dataSource: 'vstar' };
    const r = trajectoryReward(t)!;
    assert.deepEqual([r.acc, r.score, r.accFrom], [1, 1, 'normalized-match']);
  });

  it('a follow-up exchange: only its own replies and calls count', () => {
    const first = failing();
    const second = fixtureTrajectory({ id: 'r2', question: 'And now?', input, turns: [{ code: 'print(1)', stdout: '1' }], answer: '1' });
    const t = { ...second, messages: [...first.messages, ...second.messages.slice(1)] };
    const r = trajectoryReward(t)!;
    assert.deepEqual(r.perCall, [0]);
    assert.deepEqual(r.cells, { 't0-c0': 0 });
  });

  it('a results line: the rollout of its trajectory with the eval’s acc; an SFT row: no acc', () => {
    const t = failing();
    const e = rowReward({
      acc: 1,
      judge_result: { score: 1, acc: 1, tool_step: [0], tool_success_rate: null },
      output: '',
      codedance: { data_source: 'vstar', trajectory: t },
    })!;
    assert.deepEqual([e.source, e.score, e.perCall, e.tool_success_rate], ['eval', 1, [-0.5, 0], 0.5]);
    const seed = rowReward({
      acc: 0,
      judge_result: {},
      output: 'user\nq\nassistant\n<code>x</code>\nuser\n<tool_response>Output:\n1</tool_response>\nassistant\n<answer>2</answer>',
    })!;
    assert.deepEqual([seed.score, seed.perCall, seed.tool_reward_component], [0, [0], 0.5]);
  });

  it('reaches the chat panel with the events it already gets: the done summary and a stored exchange', () => {
    const t = failing();
    t.reference = { groundTruth: '3', dataSource: 'vstar' };
    const e = { type: 'event' as const, runId: 'r', index: 0, event: { type: 'done' as const, trajectory: t } };
    const m = withReward(sessionMessage(e)!, e);
    assert.ok(m.type === 'event' && m.event.type === 'done');
    assert.deepEqual(m.event.summary.reward?.cells, { 't0-c0': -0.5, 't1-c0': 0 });
    assert.equal(m.event.summary.reward?.score, 1);
    // a stored exchange: the webview replays it, the reward rides on its done event (not computed there)
    const done = exchangeEvents(exchangeWithReward(t)).pop()!;
    assert.ok(done.type === 'done');
    assert.deepEqual(done.summary.reward, m.event.summary.reward);
    const c = { type: 'conversation' as const, conversation: { id: 'c', title: 't', createdAt: '', updatedAt: '', exchanges: [t] } };
    const cm = withReward(sessionMessage(c)!, c);
    assert.ok(cm.type === 'conversation');
    assert.equal(cm.exchanges[0].reward?.perCall.length, 2);
  });

  it('a dataset row asked about in the chat brings its known answer: RL ground truth, an eval line with its verdict; an SFT row none', () => {
    const rl = { data_source: 'chart', reward_model: { ground_truth: '7', style: 'rule' }, extra_info: { answer: '8', question: 'q' } };
    assert.deepEqual(rowReference(rl, 'f.parquet row 3'), {
      groundTruth: '7',
      dataSource: 'chart',
      origin: 'f.parquet row 3',
      judged: undefined,
    });
    assert.equal(rowReference({ data_source: 'vstar', extra_info: { answer: 2 } }, 'x')?.groundTruth, '2');
    const line = { ground_truth: 'three', acc: 1, judge_result: { answer: '3' }, codedance: { data_source: 'vstar' } };
    assert.deepEqual(rowReference(line, 'r.jsonl row 0'), {
      groundTruth: 'three',
      dataSource: 'vstar',
      origin: 'r.jsonl row 0',
      judged: { answer: '3', acc: 1 },
    });
    assert.equal(rowReference({ messages: [] }, 'sft'), undefined);
    assert.equal(rowReference({ reward_model: { ground_truth: '  ' } }, 'blank'), undefined, 'an empty answer is no answer');
  });
});
