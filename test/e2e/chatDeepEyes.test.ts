/**
 * e2e: a DeepEyes zoom in the chat panel of a real VS Code (code-server 4.100.3 + Debian
 * chromium), with `codedance.model.protocol: deepeyes`, the fixture model playing DeepEyes
 * (test/fixtures/deepeyesBrain.ts: it zooms on the box the question names and answers from the
 * crop it gets back, never from the image itself) and a real ipykernel of /usr/bin/python3 that
 * crops as eval_vstar.py does:
 *   an image with one small square → the question → the zoom call's cell shows its box drawn on
 *   the question's image (scaled to the image as shown), labelled with the bbox, then the crop →
 *   the answer, the square's colour, read from the crop.
 * Screenshot at the default window size: test/e2e/.artifacts/chat-deepeyes-zoom-dark.png.
 */
import * as assert from 'node:assert/strict';
import { smallObjectImage } from '../fixtures/images';
import { ask, ChatE2E, exchange, log, showCodeDance } from './chatHarness';
import { screenshot } from './workbench';

describe('e2e: a DeepEyes zoom in the chat', function () {
  this.timeout(300_000);
  const h = new ChatE2E();
  h.hooks({ settings: { 'codedance.model.protocol': 'deepeyes' } });

  it('the zoom call shows its box on the question’s image and the crop it produced; the answer comes from the crop', async () => {
    const sq = smallObjectImage({ color: 'red', seed: 11, width: 640, height: 480, side: 12 });
    const { x, y, side } = sq.truth;
    const bbox = [x - 60, y - 45, x + side + 60, y + side + 45];
    await showCodeDance(h.page);
    const frame = await h.chatFrame();
    // the image, pasted into the question box (as a user pastes a screenshot)
    await frame.evaluate((png) => {
      const bin = atob(png);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      const paste = new DataTransfer();
      paste.items.add(new File([bytes], 'small_square.png', { type: 'image/png' }));
      document
        .querySelector('#question')!
        .dispatchEvent(new ClipboardEvent('paste', { clipboardData: paste, bubbles: true, cancelable: true }));
    }, sq.png.toString('base64'));
    await frame.locator('.attachment', { hasText: 'small_square.png' }).waitFor({ timeout: 15_000 });

    await ask(frame, `What color is the small square? It is inside [${bbox.join(', ')}].`);
    const x0 = exchange(frame, 0);
    const cell = x0.locator('.cell[data-tool="image_zoom_in_tool"]');
    await cell.waitFor({ timeout: 60_000 });
    assert.match(await cell.locator('.cell-title').innerText(), /^image_zoom_in_tool · t0-c0$/);
    assert.equal(await cell.locator('[data-action="fork"], [data-action="open-code"]').count(), 0, 'a zoom is not code to edit');

    // the box on the question's image, labelled with its numbers, placed once the image loaded
    const region = cell.locator('.zoom-region[data-placed="true"]');
    await region.waitFor({ timeout: 30_000 });
    assert.equal(await region.getAttribute('data-bbox'), bbox.join(','));
    assert.equal(await region.locator('.zoom-label').innerText(), `[${bbox.join(', ')}]`);
    assert.match(await region.locator('.zoom-caption').innerText(), new RegExp(`on input image 1 · “the small square” \\(640×480\\)`));
    // where it is drawn: the box's pixels over the image as shown = the bbox scaled to the shown size
    const geo = await region.evaluate((fig) => {
      const img = fig.querySelector('img.zoom-source')!.getBoundingClientRect();
      const box = fig.querySelector('.zoom-box')!.getBoundingClientRect();
      return { img: [img.left, img.top, img.width, img.height], box: [box.left, box.top, box.right, box.bottom] };
    });
    const [il, it, iw, ih] = geo.img;
    log(`image shown at ${iw.toFixed(0)}×${ih.toFixed(0)} px; box at ${geo.box.map((v) => v.toFixed(1)).join(', ')}`);
    assert.ok(iw < 640, `the image is scaled down to the panel (${iw} px wide)`);
    const want = [il + (bbox[0] * iw) / 640, it + (bbox[1] * ih) / 480, il + (bbox[2] * iw) / 640, it + (bbox[3] * ih) / 480];
    geo.box.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1.5, `box edge ${i}: ${v} px, expected ${want[i]} px`));

    // then the crop the kernel made (eval_vstar.py: the box of the original, smart-resized, PNG)
    const crop = cell.locator('.cell-images .zoom-crop img');
    await crop.waitFor({ timeout: 60_000 });
    const natural = await crop.evaluate((im) => [(im as HTMLImageElement).naturalWidth, (im as HTMLImageElement).naturalHeight]);
    assert.ok(natural[0] > 0 && natural[0] % 28 === 0 && natural[1] % 28 === 0, `a smart-resized crop, got ${natural.join('×')}`);
    assert.match(await cell.locator('.zoom-crop figcaption').innerText(), /crop/);
    // the region figure comes before the crop
    assert.equal(
      await cell.evaluate((c) => {
        const r = c.querySelector('.zoom-region')!;
        const i = c.querySelector('.cell-images')!;
        return !!(r.compareDocumentPosition(i) & Node.DOCUMENT_POSITION_FOLLOWING);
      }),
      true,
    );

    // the answer: the colour the model read from the crop it was sent back
    const answer = x0.locator('.answer');
    await answer.waitFor({ timeout: 60_000 });
    assert.match(await answer.innerText(), /^answer\s+red$/i);
    const second = h.model.chatRequests.at(-1)!.body as { messages: { role: string; content: unknown }[] };
    assert.ok(JSON.stringify(second.messages.at(-1)).includes('<tool_response>'), 'the crop went back in <tool_response>');

    // the box and the crop in view together, clear of the sticky header and compose box (the side bar as it opens: its default width)
    await region.evaluate((el) => el.scrollIntoView({ block: 'start' }));
    const inView = await cell.evaluate((c) => {
      const header = document.querySelector('.panel-header')!.getBoundingClientRect().bottom;
      const compose = document.querySelector('.compose')!.getBoundingClientRect().top;
      const label = c.querySelector('.zoom-label')!.getBoundingClientRect();
      const cropBox = c.querySelector('.zoom-crop img')!.getBoundingClientRect();
      return { header, compose, label: label.top, crop: cropBox.bottom };
    });
    assert.ok(inView.label >= inView.header && inView.crop <= inView.compose, `box label and crop in view: ${JSON.stringify(inView)}`);
    await screenshot(h.page, 'chat-deepeyes-zoom-dark.png');
  });
});
