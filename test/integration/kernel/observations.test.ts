/**
 * What the model is told about kernel-side trouble, end to end: a real kernel's result through
 * each protocol's observation (issue 15 §2: an image that could not be encoded is named with its
 * size and the reason; after a forced restart the model learns its variables are gone).
 */
import { strict as assert } from 'node:assert';
import { evalObservationParts } from '../../../src/core/protocol/codedance';
import { trainingToolResultParts } from '../../../src/core/protocol/codedanceTools';
import { openaiToolResultText } from '../../../src/core/protocol/openaiTools';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { disposeAll, newSession, testPng } from './helpers';

/** the text every protocol would send the model for this result */
function observations(r: ExecutionResult, timeoutMs: number): Record<string, string> {
  const text = (parts: Array<{ type: string; text?: string }>) =>
    parts
      .filter((p) => p.type === 'text')
      .map((p) => p.text)
      .join('\n');
  return {
    codedance: text(evalObservationParts(r, timeoutMs)),
    'codedance-tools': text(trainingToolResultParts(r, timeoutMs)),
    'openai-tools': openaiToolResultText(r, timeoutMs),
  };
}

describe('kernel (real ipykernel): what the observation says about images lost and kernels restarted', function () {
  this.timeout(120000);
  afterEach(disposeAll);

  it('an image too large to encode is named in every observation with its size and the reason', async () => {
    const s = await newSession({ maxImageBytes: 50_000 });
    // a pixel budget no image reaches (the input images' maxPixels): these images are sent at full size, so that they fail
    await s.setInputImages([testPng(8, 8)], { resize: 'none', maxPixels: 1e12 });
    const cases: Array<[string, RegExp]> = [
      // JPEG holds at most 65500 px a side
      [
        'from PIL import Image\nImage.new("RGB", (70000, 400))',
        /image of 70000×400 could not be encoded: encoder error -2 when writing image file/,
      ],
      // matplotlib refuses 2^16 px a side
      [
        'plt.figure(figsize=(700, 700)); plt.plot([1, 2]); plt.show()',
        /image of 105000×105000 could not be encoded: Image size of 105000x105000 pixels is too large/,
      ],
      // over the per-image byte limit (noise does not compress)
      [
        'import numpy as np\nfrom PIL import Image\nImage.fromarray(np.random.default_rng(1).integers(0, 255, (200, 300, 3), dtype=np.uint8)).show()',
        /image of 300×200 could not be encoded: its PNG is [\d,]+ bytes, over the limit of 50,000 bytes per image/,
      ],
    ];
    for (const [code, note] of cases) {
      const r = await s.execute(code);
      assert.equal(r.status, 'ok', code);
      assert.deepEqual(r.images, [], code);
      assert.equal(r.imageFailures?.length, 1, code);
      for (const [protocol, text] of Object.entries(observations(r, 30000))) assert.match(text, note, `${protocol} for ${code}:\n${text}`);
    }
    // the kernel is fine afterwards, and a normal image still comes through
    const ok = await s.execute('from PIL import Image\nImage.new("RGB", (64, 64))');
    assert.equal(ok.images.length, 1);
    assert.equal(ok.imageFailures, undefined);
  });

  it('after a forced restart on timeout, every observation says the variables are gone (and they are)', async () => {
    const s = await newSession({ interruptGraceMs: 500 });
    await s.execute('x = 41');
    const stubborn = 'import time\nwhile True:\n    try:\n        time.sleep(5)\n    except KeyboardInterrupt:\n        pass';
    const r = await s.execute(stubborn, { timeoutMs: 1000 });
    assert.equal(r.status, 'timeout');
    assert.equal(r.restarted, true);
    for (const [protocol, text] of Object.entries(observations(r, 1000))) {
      assert.match(text, /kernel (was|had to be) restarted/, `${protocol}:\n${text}`);
      assert.match(text, /variable.*(gone|lost)/i, `${protocol}:\n${text}`);
      assert.doesNotMatch(text, /Variables defined before the interruption are kept/, protocol);
    }
    const next = await s.execute('print(x)');
    assert.equal(next.error?.ename, 'NameError', 'the restart really lost x');
    // a timeout the kernel survives keeps the variables, and says nothing of a restart
    await s.execute('y = 1');
    const soft = await s.execute('import time\ntime.sleep(5)', { timeoutMs: 500 });
    assert.equal(soft.status, 'timeout');
    assert.equal(soft.restarted, undefined);
    for (const text of Object.values(observations(soft, 500))) assert.doesNotMatch(text, /restarted/);
    assert.equal((await s.execute('print(y)')).stdout, '1\n');
  });
});
