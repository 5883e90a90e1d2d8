/**
 * The `thyme` format (yfzhang114/Thyme's VLMEvalKit evaluation): its strings against the golden
 * written from the repository's own files (scripts/golden/thyme_requests.py), the `<code>`
 * pattern, the answer rule, and the loop replayed over a run's calls (thymeLoop.ts).
 */
import { strict as assert } from 'node:assert';
import { getProtocol, templateHash } from '../../../src/core/protocol';
import { createThymeProtocol } from '../../../src/core/protocol/thyme';
import { thymeAnswer, thymeRequest, thymeState, THYME_MAX_CALLS } from '../../../src/core/protocol/thymeLoop';
import {
  THYME_SIMPLE_SYSTEM_PROMPT,
  THYME_STOP,
  THYME_SYSTEM_PROMPT,
  thymeCode,
  thymePrompt,
  thymeQuestion,
  thymeSimplePrompt,
} from '../../../src/core/protocol/thymePrompt';
import type { ChatMessage, RunView, TurnView } from '../../../src/core/protocol/types';
import { golden } from './golden';

const g = golden<{ strings: Record<string, string | string[]>; sample: { question: string; options: string[]; prompt: string } }>('thyme');
const p = createThymeProtocol();
const BLOCK = '<think>crop\n<code>\n```python\nprint(1)\n```\n</code>';
const ok = (stdout: string): TurnView['cells'][number] => ({ status: 'ok', stdout, images: [] });
const failed: TurnView['cells'][number] = { status: 'error', stdout: '', images: [] };

function view(turns: TurnView[], messages?: ChatMessage[]): RunView {
  const initial = p.initialMessages('Q?', ['iVBORw0KGgo='], { workdir: '/w', imageSizes: [{ width: 448, height: 336 }] });
  return { id: 'run', question: 'Q?', workdir: '/w', messages: messages ?? initial, turns };
}

describe('thyme protocol (Thyme eval/VLMEvalKit)', () => {
  it('has the repository’s strings, byte for byte (golden from its own files)', () => {
    assert.equal(THYME_SYSTEM_PROMPT, g.strings.REASONING_SYS_PROMPT);
    assert.equal(THYME_SIMPLE_SYSTEM_PROMPT, g.strings.SIMPLE_SYS_PROMPT);
    // generate_prompt_final_qa("{question}", "{image_path}") could not open the path: its size text
    assert.equal(thymePrompt('{question}', '{image_path}', 'Unable to determine (error reading image)'), g.strings.final_qa);
    assert.equal(thymeSimplePrompt('{question}'), g.strings.simple_qa);
    assert.deepEqual(THYME_STOP, g.strings.SPECIAL_STRING_LIST);
    assert.equal(thymeQuestion(g.sample.question, g.sample.options), g.sample.prompt, 'prompt.py _build_mcq_prompt');
    assert.equal(getProtocol('thyme').id, 'thyme');
    assert.match(templateHash(p), /^[0-9a-f]{64}$/);
    assert.equal(p.defaultMaxTurns, THYME_MAX_CALLS);
    assert.equal(THYME_MAX_CALLS, 26);
    assert.deepEqual(p.defaultSampling, { temperature: 0.01, top_p: 0.001, max_tokens: 2048, stop: ['</code>', '</answer>'] });
  });

  it('reads the first <code> block as model.py 324 does (fences and `python` optional, any case)', () => {
    assert.equal(thymeCode('a <code>\n```python\nx = 1\n```\n</code> b <code>y</code>'), 'x = 1');
    assert.equal(thymeCode('<CODE>print(2)</Code>'), 'print(2)');
    assert.equal(thymeCode('<code>python\nprint(3)\n</code>'), 'print(3)');
    assert.equal(thymeCode('<code>\n```python\nunclosed'), undefined);
  });

  it('answers as model.py 464-483: the first <answer>, stripped, \\boxed{} unwrapped; none: its fixed text', () => {
    assert.equal(thymeAnswer('<answer> C. S QT 911 </answer> <answer>x</answer>'), 'C. S QT 911');
    assert.equal(thymeAnswer('<answer>\\boxed{\\frac{1}{2}}</answer>'), '\\frac{1}{2}');
    assert.equal(thymeAnswer('no tags'), 'No answer tag found in the final output.');
  });

  it('replays the loop: kept blocks continue the message, failed ones are dropped, 5 x 5 calls, then the plain prompt', () => {
    const kept: TurnView = { content: BLOCK, cells: [ok('1')] };
    let plan = thymeRequest(view([]))!;
    assert.equal(plan.extra?.continue_final_message, undefined, 'the first call asks for a reply');
    plan = thymeRequest(view([{ content: BLOCK, cells: [failed] }]))!;
    assert.equal(plan.messages.length, 2, 'the failed block is not in the request');
    assert.equal(plan.extra?.continue_final_message, true);
    assert.equal(plan.extra?.add_generation_prompt, false);
    const msgs = view([]).messages as ChatMessage[];
    plan = thymeRequest(view([kept], [...msgs, { role: 'assistant', content: BLOCK }]))!;
    assert.deepEqual(plan.messages.at(-1), {
      role: 'assistant',
      content: [
        { type: 'text', text: BLOCK },
        { type: 'text', text: '<sandbox_output>' },
        { type: 'text', text: '1' },
        { type: 'text', text: '</sandbox_output>' },
      ],
    });
    const neither: TurnView = { content: 'hmm', cells: [], discarded: true };
    assert.deepEqual(thymeState([neither]).generation, 1);
    assert.equal(thymeRequest(view([neither]))!.sampling?.temperature, 1.0);
    const fails = Array.from({ length: 25 }, () => ({ content: BLOCK, cells: [failed] }));
    assert.equal(thymeState(fails).phase, 'fallback');
    plan = thymeRequest(view(fails))!;
    assert.equal(plan.messages[0].content, 'You are a helpful assistant.');
    assert.ok('stop' in plan.sampling! && plan.sampling.stop === undefined, 'no stop strings for the plain prompt');
    const parsed = p.parse({ content: 'It is red.', toolCalls: [] }, view(fails));
    assert.equal(parsed.answer, 'It is red.', 'the plain reply, wrapped in <answer> and read back');
    assert.equal(p.isFinal(parsed, [], view(fails)), true);
  });

  it('parses a block into the model’s code run through Thyme’s sandbox (approved like any code), for the run’s generation', () => {
    const r = p.parse({ content: BLOCK, toolCalls: [] }, view([{ content: 'hmm', cells: [], discarded: true }]));
    assert.deepEqual(r.code, [
      { code: 'print(1)', via: { kind: 'thyme', run: 'run', generation: 1, imagePath: '/w/thyme/input_image.png' } },
    ]);
    assert.equal(r.code[0].tool, undefined, 'not a tool call: the user approves and may edit it');
    assert.equal(p.parse({ content: '<think>hmm</think>', toolCalls: [] }, view([])).empty, true);
    const user = p.initialMessages('Q?', ['iVBORw0KGgo='], {
      workdir: '/w',
      imageSizes: [{ width: 448, height: 336 }],
      options: ['a', 'b'],
    })[1];
    assert.match(
      JSON.stringify(user),
      /Question: Q\?\\nOptions:\\nA\. a\\nB\. b\\nPlease select the correct answer from the options above\.\\n\\n### User Image Path:\*\* \\"\/w\/thyme\/input_image\.png\\"\\n### User Image Size:\*\* \\"448x336\\"/,
    );
  });
});
