/**
 * The `pyvision` format (agents-x-project/PyVision inference_engine/): its strings, its first
 * message in every variant, the reading of a reply and the `<interpreter>` messages, each checked
 * against test/fixtures/golden/pyvision.json, which scripts/golden/pyvision_requests.py writes by
 * running the repository's own functions (and its executor on the scripted code).
 */
import { strict as assert } from 'node:assert';
import type { ExecutionResult, OutputImage } from '../../../src/core/kernel/types';
import { getProtocol, templateHash } from '../../../src/core/protocol';
import {
  createPyvisionProtocol,
  pyTruncate,
  pyvisionCode,
  pyvisionIsCodeTurn,
  pyvisionNextClue,
  PYVISION_EMPTY_CODE,
  PYVISION_FORBIDDEN_ERROR,
} from '../../../src/core/protocol/pyvision';
import {
  pyFormat,
  pyvisionFirstMessage,
  PYVISION_TEMPLATE,
  PYVISION_TEMPLATE_MULTI_IMAGE,
} from '../../../src/core/protocol/pyvisionPrompt';
import type { ChatMessage, ContentPart } from '../../../src/core/protocol/types';
import { golden } from './golden';

interface Sample {
  question: string;
  image: string;
  replies: string[];
  requests: { messages: ChatMessage[] }[];
  final_response: string;
  messages: ChatMessage[];
}
const g = golden<{
  strings: Record<string, string>;
  sampling: Record<string, unknown>;
  sample: Sample;
  steps: Sample;
  firstMessages: { name: string; question: string; images: { base64: string; width: number; height: number }[]; messages: ChatMessage[] }[];
}>('pyvision');
const p = createPyvisionProtocol();
const turn = (content: string) => ({ content, toolCalls: [] });
const FENCE = '```';
const ok = (stdout: string, images: OutputImage[] = []): ExecutionResult => ({ status: 'ok', stdout, stderr: '', images, durationMs: 1 });
const figure = (data = 'iVBORw0KGgo='): OutputImage => ({ mime: 'image/png', data, source: 'figure', width: 960, height: 720 });

/** A message with each image's data replaced (ours are drawn by our kernel, at another dpi). */
function shape(m: ChatMessage): unknown {
  if (!Array.isArray(m.content)) return m;
  return {
    ...m,
    content: m.content.map((c: ContentPart) => (c.type === 'image_url' ? { type: 'image_url', url: c.image_url.url.slice(0, 23) } : c)),
  };
}

describe('pyvision protocol (PyVision inference_engine)', () => {
  it('has the repository’s templates byte for byte, its sampling and stop string, and no system message', () => {
    assert.equal(PYVISION_TEMPLATE, g.strings.vistool_with_img_info_v2);
    assert.equal(PYVISION_TEMPLATE_MULTI_IMAGE, g.strings.vistool_with_img_info_multi_image);
    assert.deepEqual(p.defaultSampling, g.sampling);
    assert.equal(p.tools(), undefined);
    assert.equal(p.imagePreparation.resize, 'original');
    assert.deepEqual(p.imagePreparation.namespace?.imageName, 'image_clue_{i}');
    assert.equal(getProtocol('pyvision').id, 'pyvision');
    assert.match(templateHash(p), /^[0-9a-f]{64}$/);
  });

  it('formats a template as Python’s str.format does: {{ }} are braces, one pass, a missing field raises', () => {
    assert.equal(pyFormat("\\boxed{{'x'}} {query}", { query: 'a {width} {{b}}' }), "\\boxed{'x'} a {width} {{b}}");
    assert.throws(() => pyFormat('{query} {nope}', { query: 'q' }), /KeyError: 'nope'/);
    assert.throws(() => pyFormat('{constructor}', {}), /KeyError/);
  });

  it('builds the first message as process_prompt_init / _multi_images do, in each variant (golden from the repository’s functions)', () => {
    assert.equal(g.firstMessages.length, 6);
    for (const c of g.firstMessages) {
      const ours = pyvisionFirstMessage(
        c.question,
        c.images.map((i) => i.base64),
        c.images.map(({ width, height }) => ({ width, height })),
      );
      assert.deepEqual([ours], c.messages, c.name);
    }
    // the same through the adapter, with the sizes the loop passes
    const c = g.firstMessages[0];
    const [m] = p.initialMessages(c.question, [c.images[0].base64], { imageSizes: [{ width: 5, height: 4 }] });
    assert.deepEqual(m, c.messages[0]);
  });

  it('asks nothing without an image: PyVision has no prompt for that', () => {
    assert.throws(() => p.initialMessages('q', []), /asks only questions that come with an image/);
  });

  it('reads a reply as call_chatgpt_api and the loop do: <code> (or </code>) means code, the LAST ```python block runs', () => {
    assert.equal(pyvisionIsCodeTurn('x <code>'), true);
    assert.equal(pyvisionIsCodeTurn('x </code> y'), true, 'the stop string itself in the text (a server that returns it)');
    assert.equal(pyvisionIsCodeTurn('```python\nprint(1)\n```'), false, 'a block without <code> is no code: the reply is the last');
    assert.equal(pyvisionCode(`<code>\n${FENCE}python\na = 1\n${FENCE}\n${FENCE}python\n  b = 2\n${FENCE}\n`), 'b = 2');
    assert.equal(pyvisionCode(`<code>\n${FENCE}python\nprint(1)`), 'print(1)', 'an unclosed block runs to the end');
    assert.equal(pyvisionCode('I think <code> x = 1 ``` y'), 'I think <code> x = 1', 'no ```python: the reply up to the first ```');
    const r = p.parse(turn(`look\n<code>\n${FENCE}python\nprint(1)\n${FENCE}\n`));
    assert.deepEqual(r, { code: [{ code: 'print(1)' }], malformed: [], empty: false });
    assert.equal(p.isFinal(r), false);
  });

  it('a reply without <code> is the last, and the whole of it is the answer (the repository’s final_response)', () => {
    const last = g.sample.replies.at(-1)!;
    const r = p.parse(turn(last));
    assert.equal(r.answer, g.sample.final_response);
    assert.equal(r.empty, false, 'never sent again');
    assert.equal(p.isFinal(r), true);
    assert.equal(p.parse(turn('')).answer, '', 'an empty reply ends the run too');
  });

  it('the replies go back as lists of one text part, a code reply with `</code>\\n` appended (golden)', () => {
    const msgs = g.sample.requests[1].messages;
    const sent = g.sample.replies[0].slice(0, g.sample.replies[0].indexOf('</code>'));
    assert.deepEqual(p.assistantMessage(turn(sent)), msgs[1]);
    assert.deepEqual(p.assistantMessage(turn(g.sample.final_response)), g.sample.messages.at(-1));
  });

  it('an empty block ends the question (the repository’s loop raises IndexError), nothing sent back', () => {
    const r = p.parse(turn(`<code>\n${FENCE}python\n${FENCE}\n`));
    assert.equal(r.code.length, 0);
    assert.ok(r.malformed[0].message.startsWith(PYVISION_EMPTY_CODE));
    assert.equal(p.isFinal(r), true);
    assert.equal(r.fallbackAnswer, undefined, 'the repository has no response for it');
    assert.deepEqual(p.observation([], r.malformed, { turnIndex: 0, maxTurns: 30 }), []);
  });

  it('refuses code calling input(, os.system( or subprocess( without running it, as its executor does (golden)', () => {
    for (const code of ["x = input('?')", 'os.system("ls")', 'raw_input(1)', 'import subprocess; subprocess(1)']) {
      const r = p.parse(turn(`<code>\n${FENCE}python\n${code}\n${FENCE}\n`));
      assert.equal(r.code.length, 0, code);
      assert.ok(r.malformed[0].message.startsWith(PYVISION_FORBIDDEN_ERROR), code);
      assert.equal(p.isFinal(r), false);
    }
    assert.equal(p.parse(turn(`<code>\n${FENCE}python\nimport subprocess\nsubprocess.run(['ls'])\n${FENCE}`)).code.length, 1);
    const refused = p.parse(turn(`<code>\n${FENCE}python\nanswer = input('length? ')\n${FENCE}\n`));
    const obs = p.observation([], refused.malformed, { turnIndex: 2, maxTurns: 30, history: g.steps.requests[3].messages.slice(0, -1) });
    assert.deepEqual(obs, [g.steps.requests[3].messages.at(-1)]);
  });

  it('cuts text as PythonExecutor.truncate does: over 400 code points, the first 200 + "..." + the last 200', () => {
    assert.equal(pyTruncate('a'.repeat(400)), 'a'.repeat(400));
    assert.equal(pyTruncate('a'.repeat(200) + 'b' + 'c'.repeat(200)), 'a'.repeat(200) + '...' + 'c'.repeat(200));
    const emoji = '😀'.repeat(401);
    assert.equal(pyTruncate(emoji), '😀'.repeat(200) + '...' + '😀'.repeat(200), 'an emoji counts one');
  });

  it('sends back what the repository’s executor sent for the same cells: text, errors, image_clue numbering (golden)', () => {
    const steps = g.steps.requests;
    const s = 'pyvision '.repeat(60);
    const results: ExecutionResult[] = [
      ok(`${s}\n540\n`, [figure()]),
      {
        status: 'error',
        stdout: '540\n',
        stderr: '',
        images: [],
        durationMs: 1,
        error: { ename: 'NameError', evalue: "name 'undefined_name' is not defined", traceback: [] },
      },
      ok("540 Image None RGB\n['Image', 'base64', 'image_clue_0', 'io', 'matplotlib', 'np', 'plt']\n", [figure(), figure()]),
    ];
    // requests 2, 3 and 5 end with the interpreter messages of cells 1, 2 and 4 (4 was refused: above)
    for (const [k, req] of [1, 2, 4].entries()) {
      const msgs = steps[req].messages;
      const obs = p.observation([{ request: { code: '' }, result: results[k] }], [], {
        turnIndex: req - 1,
        maxTurns: 30,
        history: msgs.slice(0, -1),
      });
      assert.deepEqual(obs.map(shape), [shape(msgs.at(-1)!)], `request ${req + 1}`);
    }
    // the two-turn sample: its one figure is image_clue_1
    const sample = g.sample.requests[1].messages;
    const obs = p.observation(
      [
        {
          request: { code: '' },
          result: ok('image: (448, 336) RGB\nsquare_bbox = (300, 200, 311, 211)\nsquare_rgb = (220, 41, 44)\n', [figure()]),
        },
      ],
      [],
      { turnIndex: 0, maxTurns: 30, history: sample.slice(0, -1) },
    );
    assert.deepEqual(obs.map(shape), [shape(sample.at(-1)!)]);
  });

  it('says None for no output and no image, and Timeout Error where its worker never answers (a timeout, a dead kernel, exit())', () => {
    const text = (r: ExecutionResult) =>
      (p.observation([{ request: { code: '' }, result: r }], [], { turnIndex: 0, maxTurns: 30 })[0].content as ContentPart[]).map((c) =>
        c.type === 'text' ? c.text : 'IMAGE',
      );
    assert.deepEqual(text(ok('')), ['<interpreter>\nText Result:\nNone\nImage Result:\n', 'None', '</interpreter>\n']);
    assert.deepEqual(
      text(ok('  \n')),
      ['<interpreter>\nText Result:\n\nImage Result:\n', 'None', '</interpreter>\n'],
      'printed blanks: ""',
    );
    for (const status of ['timeout', 'died'] as const)
      assert.deepEqual(text({ ...ok('partial'), status, error: { ename: 'TimeoutError', evalue: 'x', traceback: [] } }), [
        '<interpreter>Timeout Error',
        '</interpreter>\n',
      ]);
    assert.deepEqual(text({ ...ok('bye'), exited: true }), ['<interpreter>Timeout Error', '</interpreter>\n']);
    const long = { ...ok(''), status: 'error' as const, error: { ename: 'ValueError', evalue: 'v'.repeat(500), traceback: [] } };
    assert.equal(text(long)[0], `<interpreter>Error: ${'v'.repeat(193)}...${'v'.repeat(200)}`, 'the report is cut too');
  });

  it('numbers the images of this question only: a follow-up’s own image is image_clue_0 again', () => {
    const first = g.sample.requests[1].messages;
    assert.equal(pyvisionNextClue(first), 2);
    const followUp: ChatMessage[] = [
      ...first,
      { role: 'assistant', content: [{ type: 'text', text: 'done' }] },
      ...g.firstMessages[0].messages,
    ];
    assert.equal(pyvisionNextClue(followUp), 1);
  });
});
