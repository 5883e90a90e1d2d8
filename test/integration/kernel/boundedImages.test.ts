/**
 * What a cell may send back (issue #21, "bounded outputs"): at most so many images a cell (the
 * rest never encoded nor sent, and the cell's output says how many), and none over the model's
 * pixel budget (smart-resized in the kernel, as the seed prepares input images).
 */
import { strict as assert } from 'node:assert';
import { DEFAULT_MAX_IMAGES_PER_CELL } from '../../../src/core/kernel/sessionBase';
import { MAX_PIXELS, smartResize } from '../../../src/core/kernel/smartResize';
import { BACKENDS, backendTitle, disposeAll, imageSize, newSession, type TestKernel, testPng } from './helpers';

for (const backend of BACKENDS)
  describe(`kernel (${backendTitle(backend)}): bounded output images`, function () {
    this.timeout(120000);
    let k: TestKernel;
    before(async () => {
      k = await newSession({}, backend);
    });
    after(disposeAll);

    it('a cell that displays 1000 images returns the first 16 and says how many were not shown', async () => {
      const t0 = Date.now();
      const r = await k.execute(`
from PIL import Image
for i in range(1000):
    display(Image.new("RGB", (64, 64), (i % 256, 0, 0)))
print("done")
`);
      const ms = Date.now() - t0;
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.equal(r.images.length, 16);
      assert.equal(DEFAULT_MAX_IMAGES_PER_CELL, 16);
      // the first 16, in the order the code made them
      const reds = r.images.map((im) => im.data);
      assert.equal(new Set(reds).size, 16);
      assert.equal(r.omittedImages, 984);
      assert.equal(
        r.stdout,
        'done\n[984 more images were not shown: a cell returns at most 16 images; show fewer, or combine them into one image]\n',
      );
      assert.equal(r.stderr, '');
      // the 984 others were neither encoded nor sent: far below 1000 encodes and messages
      assert.ok(ms < 10000, `${ms} ms`);
    });

    it('counts images of every kind against the limit', async () => {
      const r = await k.execute(`
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
for i in range(10):
    plt.plot([1, i]); plt.show()
for i in range(10):
    Image.new("RGB", (60, 60)).show()
display(np.zeros((64, 64, 3), dtype=np.uint8))
fig, ax = plt.subplots(); ax.plot([1]); display(fig)
np.zeros((64, 64), dtype=np.uint8)
`);
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.equal(r.images.length, 16);
      assert.deepEqual(
        r.images.map((i) => i.source),
        [...Array(10).fill('figure'), ...Array(6).fill('show')],
      );
      assert.equal(r.omittedImages, 7);
      assert.match(r.stdout, /^\[7 more images were not shown: a cell returns at most 16 images/);
      // and the next cell has its own 16
      const next = await k.execute('from PIL import Image\nfor i in range(3): display(Image.new("RGB", (64, 64)))');
      assert.equal(next.images.length, 3);
      assert.equal(next.omittedImages, undefined);
      assert.equal(next.stdout, '');
    });

    it('takes a lower limit per cell (ExecuteOptions.maxImages)', async () => {
      const r = await k.execute('from PIL import Image\nfor i in range(10): display(Image.new("RGB", (64, 64), (i, 0, 0)))', {
        maxImages: 3,
      });
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.equal(r.images.length, 3);
      assert.equal(r.omittedImages, 7);
      assert.match(r.stdout, /^\[7 more images were not shown: a cell returns at most 3 images/);
    });

    it('a 20000×20000 image comes back within the pixel budget (smart resize, as input images)', async () => {
      const r = await k.execute(`
from PIL import Image
big = Image.new("L", (20000, 20000), 200)
big.paste(0, (0, 0, 10000, 10000))
display(big)
big
`);
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.equal(r.images.length, 2);
      const [h, w] = smartResize(20000, 20000);
      for (const img of r.images) {
        assert.deepEqual(imageSize(img), { width: w, height: h });
        assert.deepEqual([img.width, img.height], [w, h]);
        assert.ok(img.width! * img.height! <= MAX_PIXELS);
        assert.deepEqual(img.resizedFrom, { width: 20000, height: 20000 });
      }
      assert.deepEqual(
        r.images.map((i) => i.mime),
        ['image/jpeg', 'image/png'],
      );
      // the model is not told (the seed does not tell it about its input images either)
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, '');
    });

    it('renders a huge figure within the budget, and leaves images within it untouched', async () => {
      const r = await k.execute(`
import matplotlib.pyplot as plt
import numpy as np
plt.figure(figsize=(200, 100)); plt.plot([1, 2]); plt.show()
display(np.zeros((3000, 4000, 3), dtype=np.uint8))
pass
`);
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      const [fig, arr] = r.images;
      assert.ok(fig.width! * fig.height! <= MAX_PIXELS, `${fig.width}x${fig.height}`);
      assert.ok(fig.width! > 3000, `${fig.width}x${fig.height}`);
      assert.deepEqual(fig.resizedFrom, { width: 30000, height: 15000 });
      assert.deepEqual([arr.width, arr.height, arr.resizedFrom], [4000, 3000, undefined]);
    });

    it('uses the pixel budget of the input images', async () => {
      const s = await newSession({}, backend);
      await s.setInputImages([testPng(100, 100)], { resize: 'qwen-smart', maxPixels: 256 * 28 * 28 });
      const r = await s.execute(
        'import matplotlib.pyplot as plt\nfrom PIL import Image\ndisplay(Image.new("RGB", (2000, 1000)))\ndisplay(Image.new("RGB", (400, 200)))\nplt.figure(figsize=(200, 100)); plt.plot([1, 2]); plt.show()',
      );
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      // the seed's order: figures before display() calls
      const [fig, wide, small] = r.images;
      const [h, w] = smartResize(1000, 2000, 28, 4 * 28 * 28, 256 * 28 * 28);
      assert.deepEqual([wide.width, wide.height, wide.resizedFrom], [w, h, { width: 2000, height: 1000 }]);
      assert.ok(w * h <= 256 * 28 * 28);
      assert.deepEqual([small.width, small.height, small.resizedFrom], [400, 200, undefined]);
      // a figure too: rendered at the lowest dpi, then resized to the budget
      assert.equal(fig.source, 'figure');
      assert.ok(fig.width! * fig.height! <= 256 * 28 * 28, `${fig.width}x${fig.height}`);
      assert.deepEqual(fig.resizedFrom, { width: 30000, height: 15000 });
      await s.dispose();
    });
  });
