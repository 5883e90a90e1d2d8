/**
 * The `deepeyes` format (Visual-Agent/DeepEyes eval/eval_vstar.py): its strings, the
 * `<tool_call>` reading, the answer rule, and the loop's handling of the zoom tool (run by the
 * kernel, never approved as code, the run ended by a failed call). The strings are checked against
 * test/fixtures/golden/deepeyes.json, written by scripts/golden/deepeyes_requests.py from the
 * repository's own file.
 */
import { strict as assert } from 'node:assert';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import type { ExecuteOptions, ExecutionResult, PreparedImage } from '../../../src/core/kernel/types';
import { getProtocol, templateHash } from '../../../src/core/protocol';
import {
  createDeepeyesProtocol,
  deepeyesAnswer,
  deepeyesPrompt,
  deepeyesToolCallText,
  DEEPEYES_SYSTEM_PROMPT,
  DEEPEYES_USER_PROMPT,
} from '../../../src/core/protocol/deepeyes';
import { FakeKernel, ScriptedModel } from '../agent/fakes';
import { decideReply, type WireMessage } from '../../fixtures/fixtureBrain';
import { PALETTE, Raster } from '../../fixtures/images';
import { golden } from './golden';

const g = golden<{ source: { commit: string }; strings: Record<string, string>; sampling: Record<string, unknown>; maxCalls: number }>(
  'deepeyes',
);
const p = createDeepeyesProtocol();
const turn = (content: string) => ({ content, toolCalls: [] });
const CALL =
  '<think>look closer</think>\n<tool_call>\n{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [10, 20, 110, 220], "label": "the cup"}}\n</tool_call>';

/** A kernel whose zoom tool returns a 1-pixel "crop" named after the box, or fails for right < left. */
class ZoomKernel extends FakeKernel {
  readonly tools: unknown[] = [];
  override async setInputImages(images: Uint8Array[]): Promise<PreparedImage[]> {
    await super.setInputImages(images);
    return images.map(() => ({ pngBase64: '', width: 640, height: 480, originalWidth: 640, originalHeight: 480 }));
  }
  override async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    if (opts.tool?.kind !== 'deepeyes-zoom') return super.execute(code, opts);
    this.tools.push(opts.tool);
    const box = JSON.parse(opts.tool.bbox) as number[];
    if (box[2] < box[0])
      return {
        status: 'error',
        stdout: '',
        stderr: '',
        images: [],
        durationMs: 1,
        error: { ename: 'ValueError', evalue: "Coordinate 'right' is less than 'left'", traceback: [] },
      };
    return {
      status: 'ok',
      stdout: '',
      stderr: '',
      images: [
        { mime: 'image/png', data: Buffer.from(`crop ${box.join(',')}`).toString('base64'), source: 'tool', width: 112, height: 224 },
      ],
      durationMs: 1,
    };
  }
}

describe('deepeyes protocol (eval_vstar.py)', () => {
  it('has the repository’s strings, byte for byte (golden from its own file)', () => {
    assert.equal(DEEPEYES_SYSTEM_PROMPT, g.strings.instruction_prompt_system);
    assert.equal(DEEPEYES_USER_PROMPT, g.strings.USER_PROMPT_V2);
    assert.ok(DEEPEYES_SYSTEM_PROMPT.includes('"required":["bbox"]'), 'the schema quirk is kept');
    assert.ok(DEEPEYES_SYSTEM_PROMPT.includes('**Example**:  \n<tool_call>  \n'), 'trailing double spaces kept');
    assert.deepEqual(p.defaultSampling, g.sampling);
    assert.equal(p.defaultMaxTurns, g.maxCalls);
    assert.equal(p.tools(), undefined);
    assert.equal(p.imagePreparation.resize, 'original');
    assert.equal(getProtocol('deepeyes').id, 'deepeyes');
    assert.match(templateHash(p), /^[0-9a-f]{64}$/);
  });

  it('asks the question with its options lettered, the system prompt as a plain string, the image first as data:image/jpeg', () => {
    const m = p.initialMessages('What is the color of the cup?', ['QUJD'], { options: ['red', 'blue'] });
    assert.deepEqual(m[0], { role: 'system', content: DEEPEYES_SYSTEM_PROMPT });
    assert.deepEqual(m[1], {
      role: 'user',
      content: [
        { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,QUJD' } },
        { type: 'text', text: 'Question: What is the color of the cup?\nOptions: \nA. red\nB. blue\n\n' + DEEPEYES_USER_PROMPT },
      ],
    });
    // no options (a chat question): the repository's template over an empty list
    assert.equal(deepeyesPrompt('Q {options}?'), 'Question: Q {options}?\nOptions: \n\n' + DEEPEYES_USER_PROMPT);
  });

  it('reads the first <tool_call> as the repository splits it, and the answer as its pred_ans', () => {
    assert.equal(deepeyesToolCallText('a <tool_call> X </tool_call> b <tool_call>Y</tool_call>'), 'X');
    assert.equal(deepeyesToolCallText('<tool_call>\n{"a": 1}'), '{"a": 1}', 'no end tag: the rest');
    assert.equal(deepeyesToolCallText('no call'), undefined);
    assert.equal(deepeyesAnswer('<think>t</think><answer> B. blue </answer>'), 'B. blue');
    assert.equal(deepeyesAnswer('it is blue</answer>'), 'it is blue</answer>', 'only </answer>: the whole reply');
  });

  it('parses a call into a zoom of the box the model wrote (its exact text), whatever the name', () => {
    const r = p.parse(turn(CALL));
    assert.equal(r.empty, false);
    assert.equal(r.answer, undefined);
    assert.deepEqual(r.malformed, []);
    assert.equal(r.code.length, 1);
    assert.deepEqual(r.code[0].tool, {
      name: 'image_zoom_in_tool',
      arguments: { bbox_2d: [10, 20, 110, 220], label: 'the cup' },
      kernel: { kind: 'deepeyes-zoom', bbox: '[10, 20, 110, 220]' },
      region: { imageIndex: 0, bbox: [10, 20, 110, 220] },
    });
    const py = p.parse(turn("<tool_call>{'name': 'other', 'arguments': {'bbox_2d': (1.5, 2, 30, 40)}}</tool_call>"));
    assert.equal(py.code[0].tool?.kernel.bbox, '(1.5, 2, 30, 40)', 'a Python literal, the name never checked (as eval_vstar.py)');
    assert.deepEqual(py.code[0].tool?.region, { imageIndex: 0, bbox: [1.5, 2, 30, 40] }, 'the box in the first image');
    // a box the crop cannot use has no region to draw (the crop fails in the kernel)
    const short = p.parse(turn('<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [1, 2, 3]}}</tool_call>'));
    assert.equal(short.code[0].tool?.region, undefined);
  });

  it('a call the repository could not use ends the run: recorded as malformed, the reply its answer', () => {
    for (const [text, message] of [
      ['<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox": [1, 2, 3, 4]}}</tool_call>', "KeyError: 'bbox_2d'"],
      ['<tool_call>{"name": "image_zoom_in_tool"}</tool_call>', "KeyError: 'arguments'"],
      ['<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [1, 2, 3, 4]}', 'SyntaxError'],
      ['<tool_call>{"arguments": {"bbox_2d": [1, 2, 3, 4], "ok": true}}</tool_call>', 'ValueError'],
      ['<tool_call>__import__("os").system("id")</tool_call>', 'ValueError'],
    ]) {
      const r = p.parse(turn(text));
      assert.equal(r.code.length, 0, text);
      assert.equal(r.malformed.length, 1, text);
      assert.ok(r.malformed[0].message.startsWith(message), `${text}: ${r.malformed[0].message}`);
      assert.equal(r.fallbackAnswer, text);
      assert.equal(p.isFinal(r, []), true);
      assert.deepEqual(p.observation([], r.malformed, { turnIndex: 0, maxTurns: 11 }), [], 'nothing is sent back');
    }
  });

  it('a reply with neither a call nor </answer> is dropped and the request sent again', () => {
    const r = p.parse(turn('<think>hmm</think><answer>partial'));
    assert.equal(r.empty, true);
    assert.equal(r.fallbackAnswer, '<think>hmm</think><answer>partial');
  });

  it('through the loop: the kernel crops (no approval), the crop returns in <tool_response>, the answer ends the run', async () => {
    const kernel = new ZoomKernel();
    const model = new ScriptedModel([CALL, '<think>it is red</think> <answer>A. red</answer>']);
    let approvals = 0;
    const t = await runAgentToEnd('What color?', [new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], {
      model,
      modelName: 'm',
      protocol: p,
      kernel,
      choices: ['red', 'blue'],
      approve: async () => (approvals++, { action: 'run' }),
    });
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, 'A. red');
    assert.equal(approvals, 0, 'a zoom is not code: no approval asked');
    assert.deepEqual(kernel.tools, [{ kind: 'deepeyes-zoom', bbox: '[10, 20, 110, 220]' }]);
    assert.deepEqual(kernel.executed, [], 'no model text reached the kernel');
    assert.equal(t.inputImages[0].mime, 'image/jpeg', 'the file as it is');
    assert.equal(t.inputImages[0].data, Buffer.from([0xff, 0xd8, 0xff, 0xe0]).toString('base64'));
    const cell = t.turns[0].cells[0];
    assert.deepEqual(cell.tool, {
      name: 'image_zoom_in_tool',
      arguments: { bbox_2d: [10, 20, 110, 220], label: 'the cup' },
      region: { imageIndex: 0, bbox: [10, 20, 110, 220] },
    });
    assert.equal(cell.images[0].source, 'tool');
    // the second request: system, question, the reply, the tool response
    const req = model.requests[1];
    assert.deepEqual(req.stop, ['<|im_end|>']);
    assert.equal(req.temperature, 0);
    assert.equal(req.max_tokens, 10240);
    assert.deepEqual(req.messages.slice(2), [
      { role: 'assistant', content: CALL },
      {
        role: 'user',
        content: [
          { type: 'text', text: '<tool_response>' },
          { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${Buffer.from('crop 10,20,110,220').toString('base64')}` } },
          { type: 'text', text: DEEPEYES_USER_PROMPT },
          { type: 'text', text: '</tool_response>' },
        ],
      },
    ]);
  });

  it('a crop that fails in the kernel ends the run, the reply its answer, nothing sent back', async () => {
    const bad = '<tool_call>{"name": "image_zoom_in_tool", "arguments": {"bbox_2d": [100, 0, 10, 50]}}</tool_call>';
    const model = new ScriptedModel([bad]);
    const t = await runAgentToEnd('q', [new Uint8Array([1])], { model, modelName: 'm', protocol: p, kernel: new ZoomKernel() });
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, bad);
    assert.equal(t.turns[0].cells[0].status, 'error');
    assert.equal(t.messages.at(-1)?.role, 'assistant');
  });

  it('at the turn limit the last reply is the answer (pred_ans), the status max_turns', async () => {
    const model = new ScriptedModel(Array.from({ length: 11 }, (_, i) => `thinking ${i}`));
    const t = await runAgentToEnd('q', [new Uint8Array([1])], { model, modelName: 'm', protocol: p, kernel: new ZoomKernel() });
    assert.equal(model.requests.length, 11);
    assert.equal(t.status, 'max_turns');
    assert.equal(t.answer, 'thinking 10');
    for (const r of model.requests) assert.deepEqual(r.messages, model.requests[0].messages, 'the same request each time');
  });

  it('the fixture model (deepeyesBrain.ts) zooms on the question’s box and answers only from the crop it gets back', () => {
    const q = 'What color is the small square? It is inside [12, 34, 56.5, 78].';
    const messages = p.initialMessages(q, ['QUJD'], { options: ['green', 'red'] }) as WireMessage[];
    const first = decideReply(messages, undefined);
    const call = p.parse({ content: first.content, toolCalls: [] });
    assert.equal(call.code[0].tool?.kernel.bbox, '[12, 34, 56.5, 78]', 'the box comes from the question');
    const answerTo = (crop: Raster) => {
      const obs = p.observation(
        [
          {
            request: call.code[0],
            result: {
              status: 'ok',
              stdout: '',
              stderr: '',
              durationMs: 1,
              images: [{ mime: 'image/png', data: crop.toPng().toString('base64'), source: 'tool' }],
            },
          },
        ],
        [],
        { turnIndex: 0, maxTurns: 11 },
      );
      const second = decideReply(
        [...messages, p.assistantMessage({ content: first.content, toolCalls: [] }), ...obs] as WireMessage[],
        undefined,
      );
      return p.parse({ content: second.content, toolCalls: [] }).answer;
    };
    const withSquare = new Raster(56, 56, [210, 212, 218]);
    withSquare.fillRect(20, 20, 12, 12, PALETTE.green);
    assert.equal(answerTo(withSquare), 'A. green');
    assert.equal(answerTo(new Raster(56, 56, [210, 212, 218])), 'no square', 'a crop without the square: no colour');
  });
});
