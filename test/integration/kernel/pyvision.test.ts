/**
 * PyVision's namespace in a real kernel (kernel/types.ts FormatNamespace, prelude/inputs.py
 * _bind_format_names), on each backend: `image_clue_i` (plain RGB copies of the input images, as
 * its base64_to_image makes them) and its executor's imports, bound with the images, unbound when
 * the images change, bound again after a restart; and the loop the chat panel drives (runAgent with
 * a kernel session, approvals, events) in PyVision's format against the fixture model.
 */
import { strict as assert } from 'node:assert';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import { ModelClient } from '../../../src/core/model';
import { createPyvisionProtocol } from '../../../src/core/protocol/pyvision';
import type { AgentEvent } from '../../../src/core/trajectory/events';
import { startFixtureModel } from '../../fixtures/fixtureModel';
import { encodePng, smallObjectImage } from '../../fixtures/images';
import { BACKENDS, backendTitle, disposeAll, newSession } from './helpers';

const pyvision = createPyvisionProtocol();
const png = (w: number, h: number) => encodePng(w, h, new Uint8Array(w * h * 3).fill(90));
const NAMES = "print(sorted(k for k in globals() if k.startswith('image_clue_') or k in ('np', 'Image', 'io', 'base64', 'matplotlib')))";

for (const backend of BACKENDS) {
  describe(`pyvision namespace (${backendTitle(backend)})`, function () {
    this.timeout(120_000);
    afterEach(disposeAll);

    it('binds image_clue_i (RGB copies) and the executor’s imports with the images, drops them when the images change', async () => {
      const k = await newSession({}, backend);
      await k.setInputImages([png(5, 4), png(3, 7)], pyvision.imagePreparation);
      const r = await k.execute(
        [
          NAMES,
          'print(type(image_clue_0).__name__, image_clue_0.mode, image_clue_0.size, image_clue_1.size)',
          'print(image_clue_0 is input_image, list(image_clue_0.getdata()) == list(input_image.convert("RGB").getdata()))',
          'print(np.__name__, Image.__name__, plt.__name__)',
        ].join('\n'),
      );
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.equal(
        r.stdout,
        "['Image', 'base64', 'image_clue_0', 'image_clue_1', 'io', 'matplotlib', 'np']\nImage RGB (5, 4) (3, 7)\nFalse True\nnumpy PIL.Image matplotlib.pyplot\n",
      );
      // one image now: image_clue_1 is gone
      await k.setInputImages([png(6, 6)], pyvision.imagePreparation);
      assert.equal((await k.execute(NAMES)).stdout, "['Image', 'base64', 'image_clue_0', 'io', 'matplotlib', 'np']\n");
      // another format's images: none of PyVision's names stay
      await k.setInputImages([png(6, 6)], { resize: 'original' });
      assert.equal((await k.execute(NAMES)).stdout, '[]\n');
    });

    it('binds them again after the kernel died', async () => {
      const k = await newSession({}, backend);
      await k.setInputImages([png(8, 2)], pyvision.imagePreparation);
      await k.execute('x = 1');
      const died = await k.execute('import os; os._exit(1)');
      assert.equal(died.status, 'died');
      const r = await k.execute("print(image_clue_0.size, np.__name__, 'x' in globals())");
      assert.equal(r.stdout, '(8, 2) numpy False\n');
    });
  });
}

describe('pyvision in the loop the chat drives (runAgent, real kernel, fixture model)', function () {
  this.timeout(120_000);
  afterEach(disposeAll);

  it('asks approval for each cell, streams its events, keeps variables across turns, answers from the interpreter', async () => {
    const fm = await startFixtureModel();
    try {
      const kernel = await newSession();
      const model = new ModelClient({ endpoints: fm.baseUrl });
      const sq = smallObjectImage({ color: 'purple', seed: 9, width: 400, height: 300 });
      const events: AgentEvent[] = [];
      const approved: string[] = [];
      const t = await runAgentToEnd(
        sq.question,
        [sq.png],
        {
          model,
          modelName: await model.resolveModel(),
          protocol: pyvision,
          kernel,
          approve: async ({ cell }) => (approved.push(cell.id), { action: 'run' }),
        },
        (e) => events.push(e),
      );
      assert.equal(t.status, 'answered');
      assert.match(t.answer ?? '', /\\boxed\{'purple'\}/);
      assert.deepEqual(approved, ['t0-c0', 't1-c0']);
      assert.deepEqual(
        t.turns.map((x) => x.cells.map((c) => c.status)),
        [['ok'], ['ok'], []],
      );
      const kinds = new Set(events.map((e) => e.type));
      for (const k of ['start', 'delta', 'approval_request', 'exec_start', 'exec_end', 'observation', 'answer', 'done'])
        assert.ok(kinds.has(k as AgentEvent['type']), k);
      // the request after the figure: it came back as <image_clue_1>
      const third = fm.chatRequests[2].body!.messages as { role: string; content: { type: string; text?: string }[] }[];
      assert.deepEqual(
        third.at(-1)!.content.map((c) => (c.type === 'text' ? c.text!.split('\n')[0] : c.type)),
        ['<interpreter>', '<image_clue_1>', 'image_url', '</image_clue_1>', '</interpreter>'],
      );
    } finally {
      await fm.close();
    }
  });
});
