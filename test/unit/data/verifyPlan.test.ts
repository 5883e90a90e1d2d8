/**
 * Reading SFT rows for replay (no kernel): code and recorded responses per turn in both formats,
 * images consumed in token order, and the rows that cannot be read, each with its reason.
 */
import { strict as assert } from 'node:assert';
import { replayPlan, type ReplayPlan } from '../../../src/core/training-data/replayPlan';
import { replayedText } from '../../../src/core/training-data/compare';
import { summarizeRecords } from '../../../src/core/training-data/verifySummary';
import { rowReward } from '../../../src/core/reward/rowReward';

const img = (n: number) => Uint8Array.from([137, 80, 78, 71, n]);
const code = (c: string) => `<think>t</think>\n<code>\n\`\`\`python\n${c}\n\`\`\`\n</code>`;

describe('verify: SFT rows as replay plans', () => {
  it('pairs each code block with the <tool_response> after it, images in token order', () => {
    const p = replayPlan(
      3,
      {
        data_source: 'chart',
        messages: [
          { role: 'system', content: 'sys' },
          { role: 'user', content: '<image>What?' },
          { role: 'assistant', content: code('print(1)') },
          { role: 'user', content: '<tool_response>Output:\n1Output image:<image></tool_response>' },
          { role: 'assistant', content: code('print(2)') },
          { role: 'user', content: '<tool_response>\nOutput:\n2\n</tool_response>' },
          { role: 'assistant', content: '<answer>2</answer>' },
        ],
        images: [img(0), { bytes: img(1), path: null }],
      },
      '/x.parquet',
    ) as ReplayPlan;
    assert.equal(p.dataSource, 'chart');
    assert.deepEqual(p.inputImage, img(0));
    assert.deepEqual(
      p.cells.map((c) => [c.turn, c.code, c.format, c.recorded?.text, c.recorded?.images.length]),
      [
        [0, 'print(1)', 'codedance', 'Output:\n1Output image:<image>', 1],
        [1, 'print(2)', 'codedance', '\nOutput:\n2\n', 0],
      ],
    );
    assert.deepEqual(p.cells[0].recorded?.images[0], img(1));
  });

  it('reads the training format: each <tool_call> with its <tool_response> block', () => {
    const call = (c: string) => `<tool_call>\n${JSON.stringify({ name: 'execute_python_code', arguments: { code: c } })}\n</tool_call>`;
    const p = replayPlan(
      0,
      {
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: `a\n${call('print(1)')}\n${call('print(2)')}` },
          { role: 'user', content: '<tool_response>\nA\n</tool_response>\n<tool_response>\nB\n</tool_response>' },
        ],
      },
      '/x',
    ) as ReplayPlan;
    assert.deepEqual(
      p.cells.map((c) => [c.code, c.format, c.recorded?.text.trim()]),
      [
        ['print(1)', 'codedance-tools', 'A'],
        ['print(2)', 'codedance-tools', 'B'],
      ],
    );
  });

  const invalid = (row: Record<string, unknown>, err?: string) =>
    (replayPlan(9, row, '/data/x.parquet', err) as { invalid?: string }).invalid;

  it('reports unreadable rows with the reason, never throws', () => {
    assert.match(invalid({}) ?? '', /'messages' is missing/);
    assert.match(invalid({ messages: 'hi' }) ?? '', /a string, not a list/);
    assert.match(invalid({ messages: [{ content: 'x' }] }) ?? '', /message 0 has no role/);
    assert.match(
      invalid({ messages: [{ role: 'user', content: Uint8Array.from([0xff, 0xfe, 0x41]) }] }) ?? '',
      /message 0 is not valid UTF-8/,
    );
    assert.match(invalid({ messages: [{ role: 'user', content: 'bad \uFFFD text' }] }) ?? '', /not valid UTF-8/);
    assert.match(
      invalid({ messages: [{ role: 'user', content: '<image><image>q' }], images: [img(1)] }) ?? '',
      /2 <image> token\(s\) but the row has 1 image/,
    );
    assert.match(
      invalid({ messages: [{ role: 'user', content: '<image>q' }], images: ['pics/nope.png'] }) ?? '',
      /image file \/data\/pics\/nope.png cannot be read \(ENOENT\)/,
    );
    assert.equal(invalid({}, 'rows 0..9 could not be decoded'), 'rows 0..9 could not be decoded');
  });

  it('renders a replayed result as the format records it', () => {
    const r = {
      status: 'error' as const,
      stdout: 'x',
      stderr: '',
      images: [],
      durationMs: 1,
      error: { ename: 'NameError', evalue: "name 'y' is not defined", traceback: [] },
    };
    assert.equal(replayedText(r, 'codedance', 30_000), "Output:\nx--- Execution Error (Error) ---\nNameError: name 'y' is not defined");
    assert.equal(
      replayedText(r, 'codedance-tools', 15_000),
      "Output before error:\nx--- Execution Error (Error) ---\nNameError: name 'y' is not defined",
    );
  });

  it('summarizes per data_source: executable and reproducing shares of the rows that ran', () => {
    const s = summarizeRecords([
      { status: 'reproduces', data_source: 'a' },
      { status: 'differs', data_source: 'a' },
      { status: 'fails', data_source: 'b' },
      { status: 'invalid', data_source: 'b' },
    ]);
    assert.equal(s.total.executablePct, 66.7);
    assert.equal(s.bySource.a.executablePct, 100);
    assert.equal(s.bySource.a.reproducesPct, 50);
    assert.equal(s.bySource.b.executablePct, 0);
    assert.equal(s.bySource.b.invalid, 1);
  });

  it("a row's reward is the eval's own tool_step / tool_success_rate, with each call's score recovered", () => {
    const w = rowReward({
      messages: [
        { role: 'user', content: '<image>q' },
        { role: 'assistant', content: code('print(1)') },
        { role: 'user', content: '<tool_response>Output:\n1</tool_response>' },
        { role: 'assistant', content: code('print(x)') },
        { role: 'user', content: "<tool_response>--- Execution Error (Error) ---\nNameError: name 'x' is not defined</tool_response>" },
        { role: 'assistant', content: '<answer>1</answer>' },
      ],
    })!;
    assert.equal(w.source, 'response');
    assert.deepEqual(w.tool_step, [-0.1, -0.5, 0]);
    assert.equal(w.tool_success_rate, 0.5);
    assert.deepEqual(w.perCall, [0, -0.5]);
    assert.equal(w.acc, undefined, 'no judge, no ground truth: acc is not made up');
    const e = rowReward({
      acc: 1,
      judge_result: { score: 1, acc: 1 },
      output: 'assistant\n<code>c</code>\nuser\n<tool_response>Output:\n1</tool_response>\nassistant\n<answer>1</answer>',
    })!;
    assert.deepEqual([e.source, e.score, e.perCall], ['eval', 1, [0]]);
    assert.equal(rowReward({ messages: [{ role: 'user', content: 'q' }] }), undefined);
  });
});
