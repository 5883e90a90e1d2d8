import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KernelSessionError } from '../../../src/core/kernel/errors';
import { smartResize } from '../../../src/core/kernel/smartResize';
import { decodePng } from '../../fixtures/images';
import { BACKENDS, backendTitle, disposeAll, imageSize, newSession, PYTHON, type TestKernel, testPng } from './helpers';

/** PNG colour type (2 = RGB, 6 = RGBA, 0 = grey) */
const pngColorType = (b64: string) => Buffer.from(b64, 'base64')[25];

for (const backend of BACKENDS)
  describe(`kernel (${backendTitle(backend)}): captured images`, function () {
    this.timeout(60000);
    let k: TestKernel;
    before(async () => {
      k = await newSession({}, backend);
    });
    after(disposeAll);

    it('orders images as the seed: last expression, then plt figures, then .show(), then display()', async () => {
      const r = await k.execute(`
from PIL import Image
import matplotlib.pyplot as plt
Image.new("RGB", (100, 80), "red").show()
display(Image.new("RGB", (90, 90), "blue"))
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([1, 2, 3])
plt.show()
plt.figure(figsize=(2, 2)); plt.bar([1, 2], [3, 4]); plt.show()
Image.new("RGB", (120, 60), "green")
`);
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.deepEqual(
        r.images.map((i) => i.source),
        ['expression', 'figure', 'figure', 'show', 'display'],
      );
      assert.deepEqual(
        r.images.map((i) => i.mime),
        ['image/jpeg', 'image/png', 'image/png', 'image/png', 'image/png'],
      );
      for (const img of r.images) assert.deepEqual(imageSize(img), { width: img.width, height: img.height });
      assert.deepEqual([r.images[0].width, r.images[0].height], [120, 60]);
      assert.deepEqual([r.images[3].width, r.images[3].height], [100, 80]);
      assert.deepEqual([r.images[4].width, r.images[4].height], [90, 90]);
      // 4x3 in at 150 dpi, tight bbox: close to 600x450
      assert.ok(
        Math.abs(r.images[1].width! - 600) < 80 && Math.abs(r.images[1].height! - 450) < 80,
        `${r.images[1].width}x${r.images[1].height}`,
      );
      assert.equal(r.stdout, '');
    });

    it('plt.show() closes the figure, skips figures without axes, and applies the size guards', async () => {
      const r = await k.execute(`
import matplotlib.pyplot as plt
plt.plot([1, 2]); plt.show()
n_open_after = len(plt.get_fignums())
plt.figure(); plt.show()                                   # no axes: nothing
plt.close("all")
plt.figure(figsize=(30, 0.1)); plt.plot([1]); plt.show()   # 3000x10 px: aspect 300 > 200
plt.figure(figsize=(0.2, 2)); plt.plot([1]); plt.show()    # 20 px wide < 28
print(n_open_after, len(plt.get_fignums()))
`);
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.equal(r.images.length, 1);
      assert.equal(r.stdout, '0 0\n');
    });

    it('Image.show(): small images upscaled (LANCZOS) to a short side of 112, extreme aspect dropped, modes converted', async () => {
      const r = await k.execute(`
from PIL import Image
Image.new("RGB", (30, 40)).show()        # -> 112 x 149
Image.new("RGB", (1000, 4)).show()       # aspect 250: dropped
Image.new("L", (64, 64), 128).show()     # grey -> RGB
Image.new("RGBA", (64, 64)).show()       # RGBA kept
Image.new("P", (60, 70)).show()          # palette -> RGB
`);
      assert.equal(r.status, 'ok', JSON.stringify(r.error));
      assert.deepEqual(
        r.images.map((i) => [i.width, i.height]),
        [
          [112, 149],
          [64, 64],
          [64, 64],
          [60, 70],
        ],
      );
      assert.deepEqual(
        r.images.map((i) => pngColorType(i.data)),
        [2, 2, 6, 2],
      );
    });

    it('last expression: PIL image as JPEG (eval.py), kept only when aspect < 200; small ones upscaled', async () => {
      const small = await k.execute('from PIL import Image\nImage.new("L", (20, 50))');
      assert.equal(small.images.length, 1);
      assert.equal(small.images[0].mime, 'image/jpeg');
      assert.deepEqual(imageSize(small.images[0]), { width: 112, height: 280 });
      const rgba = await k.execute('Image.new("RGBA", (100, 100))');
      assert.equal(rgba.images.length, 1, 'RGBA is flattened to RGB for JPEG instead of failing');
      const at200 = await k.execute('Image.new("RGB", (400, 2))');
      assert.equal(at200.images.length, 0, 'aspect exactly 200 is dropped for the last expression (eval.py: < 200)');
      const shown = await k.execute('Image.new("RGB", (400, 2)).show()');
      assert.equal(shown.images.length, 1, 'but kept by show() (eval.py: > 200 drops)');
    });

    it('last expression: 2-D/3-D ndarrays become images (floats clipped to [0,1]*255, 3 channels BGR->RGB)', async () => {
      const png = await newSession({ expressionImageFormat: 'png' }, backend);
      const r = await png.execute('import numpy as np\na = np.zeros((60, 80, 3), dtype=np.uint8)\na[..., 0] = 255\na');
      assert.equal(r.images.length, 1);
      assert.equal(r.images[0].mime, 'image/png');
      const d = decodePng(Buffer.from(r.images[0].data, 'base64'));
      assert.deepEqual([d.width, d.height], [80, 60]);
      assert.deepEqual([...d.data.slice(0, 3)], [0, 0, 255], 'channel 0 is blue (BGR)');
      const f = await png.execute('np.full((60, 60), 2.0)');
      assert.deepEqual(
        [...decodePng(Buffer.from(f.images[0].data, 'base64')).data.slice(0, 3)],
        [255, 255, 255],
        'floats clipped to 1.0 -> 255',
      );
      const half = await png.execute('np.full((60, 60), 0.5)');
      assert.equal(decodePng(Buffer.from(half.images[0].data, 'base64')).data[0], 127);
      const one = await png.execute('np.zeros((1, 1))');
      assert.equal(one.images.length, 0, 'size 1 arrays are printed');
      assert.equal(one.stdout, '[[0.]]\n');
    });

    it('display(x) as the last statement counts as the last expression (training tool); elsewhere as display', async () => {
      const r = await k.execute('from PIL import Image\ndisplay(Image.new("RGB", (70, 70)))');
      assert.deepEqual(
        r.images.map((i) => i.source),
        ['expression'],
      );
      const t = await k.execute('display("some text")\ndisplay(12)\nx = 1');
      assert.equal(t.stdout, 'some text\n12\n');
      const fig = await k.execute('import matplotlib.pyplot as plt\nf = plt.figure(); plt.plot([1]); display(f); plt.close(f); x = 2');
      assert.deepEqual(
        fig.images.map((i) => i.source),
        ['display'],
      );
    });

    it('images of a failed or exited cell are dropped as in the seed (kept in droppedImages for UIs)', async () => {
      const err = await k.execute('import matplotlib.pyplot as plt\nplt.plot([1]); plt.show()\nraise RuntimeError("after the plot")');
      assert.equal(err.status, 'error');
      assert.deepEqual(err.images, []);
      assert.equal(err.droppedImages?.length, 1);
      const ex = await k.execute('plt.plot([1]); plt.show()\nexit()');
      assert.equal(ex.status, 'ok');
      assert.equal(ex.exited, true);
      assert.deepEqual(ex.images, []);
      assert.equal(ex.droppedImages?.length, 1);
      const keep = await newSession({ keepImagesOnFailure: true }, backend);
      const kept = await keep.execute('import matplotlib.pyplot as plt\nplt.plot([1]); plt.show()\n1/0');
      assert.equal(kept.images.length, 1);
    });

    it('files the code saves are not captured; many figures are all captured in order', async () => {
      const saved = await k.execute('from PIL import Image\nImage.new("RGB", (80, 80)).save("out.png")');
      assert.deepEqual(saved.images, []);
      assert.ok(existsSync(path.join(k.workdir, 'out.png')));
      const many = await k.execute(
        'import matplotlib.pyplot as plt\nfor i in range(6):\n    plt.figure(figsize=(1 + i, 2)); plt.plot([i]); plt.show()',
      );
      assert.equal(many.images.length, 6);
      const widths = many.images.map((i) => i.width!);
      assert.deepEqual(
        [...widths].sort((a, b) => a - b),
        widths,
        'in capture order',
      );
    });

    it('a show() reference kept from an earlier cell captures into the current cell', async () => {
      await k.execute('from matplotlib.pyplot import show as my_show\nimport matplotlib.pyplot as plt');
      const r = await k.execute('plt.plot([1, 2]); my_show()');
      assert.equal(r.images.length, 1);
    });
  });

for (const backend of BACKENDS)
  describe(`kernel (${backendTitle(backend)}): input images`, function () {
    this.timeout(60000);
    let k: TestKernel;
    before(async () => {
      k = await newSession({}, backend);
    });
    after(disposeAll);

    it('qwen-smart: 1000x500 becomes 1008x504, saved as input_image.jpg and bound as input_image', async () => {
      const [p] = await k.setInputImages([testPng(1000, 500)], { resize: 'qwen-smart' });
      assert.deepEqual([p.width, p.height, p.originalWidth, p.originalHeight], [1008, 504, 1000, 500]);
      const d = decodePng(Buffer.from(p.pngBase64, 'base64'));
      assert.deepEqual([d.width, d.height], [1008, 504]);
      assert.ok(existsSync(path.join(k.workdir, 'input_image.jpg')));
      const r = await k.execute(
        'from PIL import Image\nprint(input_image.size, input_image.mode, Image.open("input_image.jpg").size, input_image_path.endswith("input_image.jpg"), len(input_images))',
      );
      assert.equal(r.stdout, '(1008, 504) RGB (1008, 504) True 1\n');
      assert.equal(k.state, 'idle');
    });

    it('modelImage false (the model has its PNG already): bound for the code, no PNG made', async () => {
      const [p] = await k.setInputImages([testPng(1000, 500)], { resize: 'qwen-smart', modelImage: false });
      assert.deepEqual([p.pngBase64, p.width, p.height], ['', 1008, 504]);
      const r = await k.execute('from PIL import Image\nprint(input_image.size, Image.open("input_image.jpg").size)');
      assert.equal(r.stdout, '(1008, 504) (1008, 504)\n');
    });

    it('matches the TypeScript smart resize for many sizes (both paths, min and max)', async () => {
      const sizes: Array<[number, number]> = [
        [37, 19],
        [28, 28],
        [333, 777],
        [1920, 1080],
        [10, 300],
        [3700, 3500],
      ];
      const prepared = await k.setInputImages(
        sizes.map(([w, h]) => testPng(w, h)),
        { resize: 'qwen-smart' },
      );
      sizes.forEach(([w, h], i) => {
        const [H, W] = smartResize(h, w);
        assert.deepEqual([prepared[i].width, prepared[i].height], [W, H], `${w}x${h}`);
      });
      const max = await k.setInputImages([testPng(1000, 1000)], { resize: 'qwen-smart', maxPixels: 256 * 28 * 28 });
      assert.deepEqual([max[0].width, max[0].height], [448, 448]);
    });

    it("is byte-identical to eval.py's preparation in plain Python (convert, BICUBIC smart resize, PNG)", async () => {
      // a palette image with transparency: eval.py converts P -> RGBA -> RGB
      const script = `
import io, base64, math, sys
from PIL import Image
img = Image.new("P", (301, 157))
img.putpalette([i % 256 for i in range(768)])
for x in range(301):
    for y in range(157):
        img.putpixel((x, y), (x * 7 + y * 3) % 256)
img.info["transparency"] = 5
buf = io.BytesIO(); img.save(buf, format="PNG", transparency=5); src = buf.getvalue()
def round_by_factor(n, f): return round(n / f) * f
def ceil_by_factor(n, f): return math.ceil(n / f) * f
def floor_by_factor(n, f): return math.floor(n / f) * f
def smart_resize(height, width, factor=28, min_pixels=4*28*28, max_pixels=16384*28*28):
    h_bar = max(factor, round_by_factor(height, factor)); w_bar = max(factor, round_by_factor(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels); h_bar = floor_by_factor(height / beta, factor); w_bar = floor_by_factor(width / beta, factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width)); h_bar = ceil_by_factor(height * beta, factor); w_bar = ceil_by_factor(width * beta, factor)
    return h_bar, w_bar
img = Image.open(io.BytesIO(src))
if img.mode == 'P':
    if 'transparency' in img.info:
        img = img.convert('RGBA')
    img = img.convert('RGB')
elif img.mode == 'RGBA':
    img = img.convert('RGB')
ori_width, ori_height = img.size
resize_w, resize_h = smart_resize(ori_width, ori_height, factor=28)
img = img.resize((resize_w, resize_h), resample=Image.BICUBIC)
out = io.BytesIO(); img.save(out, format="PNG")
print(base64.b64encode(src).decode()); print(base64.b64encode(out.getvalue()).decode())
`;
      const [src, expected] = execFileSync(PYTHON, ['-c', script], { encoding: 'utf8', maxBuffer: 64 << 20 })
        .trim()
        .split('\n');
      const [p] = await k.setInputImages([Buffer.from(src, 'base64')], { resize: 'qwen-smart' });
      assert.deepEqual([p.width, p.height], [308, 168]);
      assert.equal(p.pngBase64, expected);
    });

    it("resize 'none' keeps the size and converts to RGB; several images bind input_images and input_image_2.jpg", async () => {
      const ps = await k.setInputImages([testPng(123, 45), testPng(50, 60)], { resize: 'none' });
      assert.deepEqual(
        ps.map((p) => [p.width, p.height]),
        [
          [123, 45],
          [50, 60],
        ],
      );
      const r = await k.execute(
        'import os\nprint(len(input_images), input_images[1].size, sorted(f for f in os.listdir(".") if f.startswith("input_image")))',
      );
      assert.equal(r.stdout, "2 (50, 60) ['input_image.jpg', 'input_image_2.jpg']\n");
      await k.setInputImages([testPng(40, 40)], { resize: 'none' });
      const r2 = await k.execute('import os\nprint(sorted(f for f in os.listdir(".") if f.startswith("input_image")), len(input_images))');
      assert.equal(r2.stdout, "['input_image.jpg'] 1\n", 'files of a longer earlier list are removed');
    });

    it('rejects bytes that are not an image with a KernelSessionError saying what to do; the session goes on', async () => {
      await assert.rejects(k.setInputImages([Buffer.from('not an image at all')], { resize: 'qwen-smart' }), (e: unknown) => {
        assert.ok(e instanceof KernelSessionError);
        assert.match((e as Error).message, /could not be prepared: ValueError: input image #1 could not be read: UnidentifiedImageError/);
        assert.match((e as Error).message, /Fix: pass a PNG, JPEG/);
        return true;
      });
      assert.equal((await k.execute('print(input_image.size)')).stdout, '(40, 40)\n', 'the previous input stays bound');
    });

    it('the prepared PNG is what the model sees: a real PNG of the stated size', async () => {
      const [p] = await k.setInputImages([readFileSync(path.join(k.workdir, 'input_image.jpg'))], { resize: 'qwen-smart' });
      assert.deepEqual([p.originalWidth, p.originalHeight, p.width, p.height], [40, 40, 56, 56]);
      assert.equal(pngColorType(p.pngBase64), 2);
    });
  });
