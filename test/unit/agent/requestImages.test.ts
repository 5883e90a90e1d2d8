/** The loop sends each model request within the image budget, whatever the format; the trajectory keeps every image. */
import { strict as assert } from 'node:assert';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import type { ExecuteOptions, ExecutionResult } from '../../../src/core/kernel/types';
import { getProtocol } from '../../../src/core/protocol';
import type { ChatRequest } from '../../../src/core/agent/model';
import { FakeKernel, ScriptedModel } from './fakes';

/** every cell returns 20 images */
class ImageKernel extends FakeKernel {
  readonly options: ExecuteOptions[] = [];
  override async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    this.options.push(opts);
    const r = await super.execute('print', opts);
    return {
      ...r,
      images: Array.from({ length: 20 }, (_, k) => ({
        mime: 'image/png',
        data: Buffer.from(`${code}-${k}`).toString('base64'),
        source: 'display',
      })),
    };
  }
}

const imagesIn = (req: ChatRequest) =>
  req.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((p) => p.type === 'image_url').length;

describe('runAgent: images per request', () => {
  for (const id of ['codedance', 'codedance-tools']) {
    it(`${id}: at most 32 images a request (the default); the trajectory keeps all`, async () => {
      const code = (n: number) => `<code>\n\`\`\`python\ncell${n}\n\`\`\`\n</code>`;
      const model = new ScriptedModel([code(1), code(2), code(3), '<answer>3</answer>']);
      const kernel = new ImageKernel();
      const t = await runAgentToEnd('q?', [new Uint8Array([1])], { model, modelName: 'm', protocol: getProtocol(id), kernel });
      assert.equal(t.status, 'answered');
      assert.deepEqual(model.requests.map(imagesIn), [1, 21, 32, 32]);
      assert.deepEqual(
        t.turns.map((x) => x.imagesOmitted),
        [undefined, undefined, 9, 29],
      );
      const kept = t.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((p) => p.type === 'image_url').length;
      assert.equal(kept, 61);
    });
  }

  it('takes other limits: maxRequestImages (0: none) and maxImagesPerCell for the kernel', async () => {
    const code = (n: number) => `<code>\n\`\`\`python\ncell${n}\n\`\`\`\n</code>`;
    const model = new ScriptedModel([code(1), code(2), '<answer>2</answer>']);
    const kernel = new ImageKernel();
    await runAgentToEnd('q?', [new Uint8Array([1])], {
      model,
      modelName: 'm',
      protocol: getProtocol('codedance'),
      kernel,
      maxRequestImages: 5,
      maxImagesPerCell: 4,
    });
    assert.deepEqual(model.requests.map(imagesIn), [1, 5, 5]);
    assert.deepEqual(
      kernel.options.map((o) => o.maxImages),
      [4, 4],
    );
    const all = new ScriptedModel([code(1), code(2), '<answer>2</answer>']);
    await runAgentToEnd('q?', [new Uint8Array([1])], {
      model: all,
      modelName: 'm',
      protocol: getProtocol('codedance'),
      kernel: new ImageKernel(),
      maxRequestImages: 0,
    });
    assert.deepEqual(all.requests.map(imagesIn), [1, 21, 41]);
  });
});
