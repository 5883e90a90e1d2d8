/**
 * The `pyvision` format in the loop (runAgent with a scripted model and an in-memory kernel): what
 * the kernel is asked to bind, code approved like any code, refused code never run, the turn limit;
 * and the fixture model's PyVision play (test/fixtures/pyvisionBrain.ts): its answers come only
 * from the `<interpreter>` text it is sent.
 */
import { strict as assert } from 'node:assert';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import type { ExecuteOptions, ExecutionResult, PrepareImageOptions, PreparedImage } from '../../../src/core/kernel/types';
import { createPyvisionProtocol, PYVISION_MAX_TURNS } from '../../../src/core/protocol/pyvision';
import type { ChatMessage, ContentPart } from '../../../src/core/protocol/types';
import { decideReply, type WireMessage } from '../../fixtures/fixtureBrain';
import { FakeKernel, ScriptedModel } from '../agent/fakes';

const p = createPyvisionProtocol();
const FENCE = '```';
const code = (c: string) => `Let me compute.\n<code>\n${FENCE}python\n${c}\n${FENCE}\n`; // as the server returns it: cut before </code>
const FINAL = "It is 7.\n<answer>\n\\boxed{'7'}\n</answer>";
const ok = (stdout: string): ExecutionResult => ({ status: 'ok', stdout, stderr: '', images: [], durationMs: 1 });

/** Records what it is asked to bind; runs nothing, answers each cell with the next scripted result. */
class PyKernel extends FakeKernel {
  readonly preparations: PrepareImageOptions[] = [];
  constructor(private readonly results: ExecutionResult[] = []) {
    super();
  }
  override async setInputImages(images: Uint8Array[], opts?: PrepareImageOptions): Promise<PreparedImage[]> {
    this.preparations.push(opts!);
    await super.setInputImages(images);
    return images.map(() => ({ pngBase64: '', width: 640, height: 427, originalWidth: 640, originalHeight: 427 }));
  }
  override async execute(c: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    await super.execute('noop', opts);
    this.executed[this.executed.length - 1] = c;
    return this.results.shift() ?? ok('');
  }
}

const text = (m: ChatMessage | WireMessage) => (m.content as ContentPart[]).map((c) => (c.type === 'text' ? c.text : '[image]')).join('');

describe('pyvision protocol in the loop', () => {
  it('binds PyVision’s names with the image, asks approval for the code, and sends the repository’s message shapes', async () => {
    const kernel = new PyKernel([ok('7\n')]);
    const model = new ScriptedModel([code('print(3 + 4)'), FINAL]);
    const approvals: string[] = [];
    const t = await runAgentToEnd('What is 3 + 4?', [new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], {
      model,
      modelName: 'm',
      protocol: p,
      kernel,
      approve: async ({ cell }) => (approvals.push(cell.code), { action: 'run' }),
    });
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, FINAL, 'the whole last reply, as the repository returns it');
    assert.deepEqual(approvals, ['print(3 + 4)'], 'the model’s code is approved like any code');
    assert.deepEqual(kernel.executed, ['print(3 + 4)']);
    assert.deepEqual(kernel.preparations[0].namespace, p.imagePreparation.namespace);
    assert.equal(kernel.preparations[0].resize, 'original');
    const [first, second] = model.requests;
    assert.deepEqual(first.stop, ['</code>']);
    assert.equal(first.temperature, 0.6);
    assert.equal(first.top_p, 1);
    assert.equal(first.max_tokens, 10000);
    assert.deepEqual(
      first.messages.map((m) => m.role),
      ['user'],
      'no system message',
    );
    assert.match(text(first.messages[0]), /^<image_clue_0>\[image\]<\/image_clue_0>\n\nYou are an agent/);
    assert.match(
      text(first.messages[0]),
      /\nImage Width: 640; Image Height: 427\n[\s\S]*\n\nWhat is 3 \+ 4\?\n\n/,
      'the size the kernel read',
    );
    assert.deepEqual(second.messages.slice(1), [
      { role: 'assistant', content: [{ type: 'text', text: code('print(3 + 4)') + '</code>\n' }] },
      {
        role: 'user',
        content: [
          { type: 'text', text: '<interpreter>\nText Result:\n7\nImage Result:\n' },
          { type: 'text', text: 'None' },
          { type: 'text', text: '</interpreter>\n' },
        ],
      },
    ]);
    assert.deepEqual(t.messages.at(-1), { role: 'assistant', content: [{ type: 'text', text: FINAL }] });
  });

  it('refused code is never run: the repository’s error goes back and the run goes on', async () => {
    const kernel = new PyKernel();
    const model = new ScriptedModel([code("x = input('?')"), FINAL]);
    const t = await runAgentToEnd('q', [new Uint8Array([1])], { model, modelName: 'm', protocol: p, kernel });
    assert.deepEqual(kernel.executed, []);
    assert.equal(t.turns[0].malformed.length, 1);
    assert.equal(text(model.requests[1].messages.at(-1)!), '<interpreter>Error: Forbidden function calls detected</interpreter>\n');
    assert.equal(t.answer, FINAL);
  });

  it('stops at its turn limit (the repository has none) with no answer', async () => {
    const model = new ScriptedModel(Array.from({ length: PYVISION_MAX_TURNS }, () => code('print(1)')));
    const t = await runAgentToEnd('q', [new Uint8Array([1])], { model, modelName: 'm', protocol: p, kernel: new PyKernel() });
    assert.equal(model.requests.length, 30);
    assert.equal(t.status, 'max_turns');
    assert.equal(t.answer, undefined);
  });
});

describe('fixture model: PyVision’s format, honestly (pyvisionBrain.ts)', () => {
  /** One exchange: the brain's replies, each observation the adapter makes of `results` in turn. */
  function play(question: string, results: ExecutionResult[]): { replies: string[]; answer?: string } {
    const messages: ChatMessage[] = p.initialMessages(question, ['QUJD'], { imageSizes: [{ width: 64, height: 48 }] });
    const replies: string[] = [];
    for (let i = 0; i <= results.length; i++) {
      const content = decideReply(messages as WireMessage[], undefined).content;
      const sent = content.includes('</code>') ? content.slice(0, content.indexOf('</code>')) : content; // the server's stop
      replies.push(sent);
      const parsed = p.parse({ content: sent, toolCalls: [] });
      messages.push(p.assistantMessage({ content: sent, toolCalls: [] }));
      if (parsed.answer !== undefined) return { replies, answer: /\\boxed\{'(.*)'\}/.exec(parsed.answer)?.[1] };
      const result = results[i];
      if (!result) break;
      const obs = p.observation([{ request: parsed.code[0], result }], parsed.malformed, { turnIndex: i, maxTurns: 30, history: messages });
      messages.push(...obs);
    }
    return { replies };
  }
  const err = (evalue: string): ExecutionResult => ({
    status: 'error',
    stdout: '',
    stderr: '',
    images: [],
    durationMs: 1,
    error: { ename: 'NameError', evalue, traceback: [] },
  });

  it('finds the square with image_clue_0, keeps its box for the next turn, answers the colour it was told', () => {
    const r = play('What color is the small square?', [ok('square_bbox = (3, 4, 9, 10)\n'), ok('square_rgb = (45, 85, 210)\n')]);
    assert.match(r.replies[0], /np\.asarray\(image_clue_0\)/);
    assert.match(r.replies[1], /^x0, y0, x1, y1 = box$/m, 'turn 2 relies on turn 1’s variables');
    assert.match(r.replies[1], /plt\.show\(\)/);
    assert.equal(r.answer, 'blue');
    assert.equal(
      play('What color is the small square?', [ok('square_bbox = (3, 4, 9, 10)\n'), ok('square_rgb = (210, 40, 40)\n')]).answer,
      'red',
    );
  });

  it('does not know when the interpreter did not tell it: an error (a namespace that forgot), no box, nothing printed', () => {
    assert.equal(
      play('What color is the small square?', [ok('square_bbox = (3, 4, 9, 10)\n'), err("name 'box' is not defined")]).answer,
      'unknown',
    );
    assert.equal(play('What color is the small square?', [ok('no saturated pixels\n')]).answer, 'unknown');
    assert.equal(play('What is the size of the image?', [ok('')]).answer, 'unknown');
    assert.equal(play('What is the size of the image?', [ok('image_size = (64, 48)\n')]).answer, '64x48');
  });

  it('runs code the question gives and reports its last line or its error', () => {
    const q = `Run this:\n${FENCE}python\nprint(6 * 7)\n${FENCE}`;
    assert.equal(play(q, [ok('42\n')]).answer, '42');
    assert.equal(play(q, [err("name 'x' is not defined")]).answer, "error: name 'x' is not defined");
  });
});
