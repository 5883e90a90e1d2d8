/**
 * A DeepEyes run (the `deepeyes` protocol: zoom calls in `<tool_call>`, crops back in
 * `<tool_response>`) exported and read back without loss:
 *  - the SFT text is DeepEyes' own: the replies as the model wrote them, each crop's turn
 *    `<tool_response><image>` + USER_PROMPT_V2 + `</tool_response>` — the repository's strings
 *    (golden deepeyes.json, from eval/eval_vstar.py) in the form its training tool writes its
 *    observation (verl/workers/agent/envs/mm_process_engine/visual_toolbox_v2.py line 103);
 *  - trajectory → CodeDance-SFT parquet → the dataset viewer's reading (DatasetView page,
 *    rowTrajectory) gives the same calls (text, name, arguments, box) and the same images, byte for byte;
 *  - the notebook export keeps each zoom's tool beside its call.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import type { ExecuteOptions, ExecutionResult, PreparedImage } from '../../../src/core/kernel/types';
import { createDeepeyesProtocol } from '../../../src/core/protocol/deepeyes';
import { exportTrainingData, toSftMessages, trajectoryItems } from '../../../src/core/training-data';
import { DatasetView } from '../../../src/core/training-data/datasetView';
import { replayPlan } from '../../../src/core/training-data/replayPlan';
import { rowTrajectory } from '../../../src/core/training-data/rowTrajectory';
import { toNotebook } from '../../../src/core/trajectory/notebook';
import { FakeKernel, ScriptedModel } from '../agent/fakes';
import { golden } from '../protocol/golden';
import { solidPng } from './exportFixtures';

const g = golden<{ strings: { instruction_prompt_system: string; USER_PROMPT_V2: string } }>('deepeyes');
const call = (bbox: string, label: string) =>
  `<think>I need a closer look.</think>\n<tool_call>\n{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": ${bbox}, "label": "${label}"}}\n</tool_call>`;
const REPLIES = [
  call('[10, 20, 110, 120]', 'the cup'),
  call('[50.5, 50, 90, 90]', 'its handle'),
  '<think>The handle is blue.</think> <answer>B. blue</answer>',
];

/** A kernel whose zoom answers a real PNG crop: the box's size, a colour per call. */
class CropKernel extends FakeKernel {
  private n = 0;
  readonly crops: Buffer[] = [];
  override async setInputImages(images: Uint8Array[]): Promise<PreparedImage[]> {
    await super.setInputImages(images);
    return images.map(() => ({ pngBase64: '', width: 200, height: 150, originalWidth: 200, originalHeight: 150 }));
  }
  override async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    if (opts.tool?.kind !== 'deepeyes-zoom') return super.execute(code, opts);
    const [l, t, r, b] = JSON.parse(opts.tool.bbox) as number[];
    const png = solidPng(Math.ceil(r - l), Math.ceil(b - t), this.n++ ? [30, 60, 220] : [220, 40, 40]);
    this.crops.push(png);
    const im = { mime: 'image/png' as const, data: png.toString('base64'), source: 'tool' as const, width: r - l, height: b - t };
    return { status: 'ok', stdout: '', stderr: '', images: [im], durationMs: 1 };
  }
}

describe('DeepEyes trajectories: SFT text as DeepEyes writes it, export → read back without loss', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-deepeyes-export-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const input = solidPng(200, 150, [210, 210, 200]);
  const run = async () => {
    const kernel = new CropKernel();
    const t = await runAgentToEnd('What colour is the handle?', [input], {
      model: new ScriptedModel([...REPLIES]),
      modelName: 'deepeyes-7b',
      protocol: createDeepeyesProtocol(),
      kernel,
      choices: ['red', 'blue'],
    });
    assert.equal(t.status, 'answered');
    return { t, crops: kernel.crops };
  };

  it('the SFT messages: the repository’s system prompt, the replies as written, each crop in DeepEyes’ <tool_response>', async () => {
    const { t } = await run();
    const { messages, images } = toSftMessages(t.messages);
    assert.deepEqual(
      messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant', 'user', 'assistant'],
    );
    assert.equal(messages[0].content, g.strings.instruction_prompt_system);
    assert.ok(messages[1].content.startsWith('<image>Question: What colour is the handle?\nOptions: \nA. red\nB. blue\n\n'));
    assert.deepEqual(
      [messages[2].content, messages[4].content, messages[6].content],
      REPLIES,
      'the <tool_call> text as the model wrote it',
    );
    // visual_toolbox_v2.py line 103: "<tool_response>" + "<image>" + self.user_prompt + "</tool_response>"
    const response = '<tool_response>' + '<image>' + g.strings.USER_PROMPT_V2 + '</tool_response>';
    assert.equal(messages[3].content, response);
    assert.equal(messages[5].content, response);
    assert.equal(images.length, 3, 'the question’s image and the two crops');
  });

  it('trajectory → SFT parquet → the viewer’s reading: the same calls, boxes and images', async () => {
    const { t, crops } = await run();
    const out = path.join(tmp, 'deepeyes-sft.parquet');
    const summary = await exportTrainingData({ format: 'sft', out, items: trajectoryItems([{ trajectory: t, origin: 'test' }]) });
    assert.equal(summary.rows, 1);
    const view = await DatasetView.open(out);
    const [row] = await view.raw(0, 1);
    const back = rowTrajectory(row, 0, out);
    assert.equal(back.protocol, 'deepeyes');
    assert.equal(back.answer, 'B. blue');
    assert.deepEqual(Buffer.from(back.inputImages[0].data, 'base64'), input, 'the question’s image');
    const calls = (x: typeof t) =>
      x.turns.flatMap((turn) =>
        turn.cells.map((c) => ({ turn: turn.index, code: c.code, tool: c.tool, images: c.images.map((i) => i.data) })),
      );
    const original = calls(t);
    assert.equal(original.length, 2);
    assert.deepEqual(
      original.map((c) => c.tool?.region),
      [
        { imageIndex: 0, bbox: [10, 20, 110, 120] },
        { imageIndex: 0, bbox: [50.5, 50, 90, 90] },
      ],
    );
    assert.deepEqual(calls(back), original, 'each call: its text, name, arguments, box and crop');
    assert.deepEqual(
      back.turns.flatMap((x) => x.cells.flatMap((c) => c.images.map((i) => Buffer.from(i.data, 'base64')))),
      crops,
      'the crops, byte for byte',
    );
    for (const c of back.turns.flatMap((x) => x.cells)) {
      assert.equal(c.stdout, '', 'DeepEyes’ instruction in the response is not shown as output');
      assert.equal(c.images[0].source, 'tool');
    }
    // nothing of it is Python: verify has nothing to replay, the zooms are kept apart
    const plan = replayPlan(0, row, out);
    assert.ok(!('invalid' in plan));
    assert.deepEqual(plan.cells, []);
    assert.equal(plan.toolCalls?.length, 2);
  });

  it('the notebook export keeps each zoom’s tool (name, arguments, box) beside its call and its crop', async () => {
    const { t } = await run();
    const nb = toNotebook(t) as { cells: { cell_type: string; metadata: { codedance?: { tool?: unknown } }; outputs?: unknown[] }[] };
    const zooms = nb.cells.filter((c) => c.cell_type === 'code' && c.metadata.codedance?.tool);
    assert.deepEqual(
      zooms.map((c) => c.metadata.codedance?.tool),
      t.turns.flatMap((x) => x.cells.map((c) => c.tool)),
    );
    assert.ok(
      zooms.every((c) => c.outputs?.length === 1),
      'each with its crop',
    );
  });

  it('a row whose call the crop could not use shows no zoom, and its later images keep their places', () => {
    const png = (c: number) => solidPng(4, 4, [c, c, c]);
    const row = {
      messages: [
        { role: 'user', content: '<image>Question: q' },
        { role: 'assistant', content: '<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox": [1, 2, 3, 4]}}</tool_call>' },
        { role: 'user', content: '<tool_response><image>x</tool_response>' },
        { role: 'assistant', content: call('[0, 0, 2, 2]', 'ok') },
        { role: 'user', content: '<tool_response><image>note</tool_response>' },
      ],
      images: [png(1), png(2), png(3)],
    };
    const t = rowTrajectory(row, 0, 'rows.parquet');
    assert.deepEqual(
      t.turns.map((x) => x.cells.length),
      [0, 1],
    );
    const cell = t.turns[1].cells[0];
    assert.deepEqual(Buffer.from(cell.images[0].data, 'base64'), png(3), 'the third image is the second call’s crop');
    assert.equal(cell.stdout, 'note', 'a response text other than the instruction is kept');
  });
});
