/**
 * The report's fast reader of results files: lines and their byte offsets from a file read in
 * blocks (lines across blocks, longer than a block, a last line without its newline), and a
 * line's text without the seed's inline images, whatever the JSON writer's spacing, left whole
 * when the field is not where JSON would have it.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forEachLine, withoutSeedImages } from '../../../src/core/eval/lineScan';

describe('eval results line scan', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-linescan-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const lines = async (text: string, block: number) => {
    const f = path.join(tmp, `f${block}.jsonl`);
    writeFileSync(f, text);
    const out: [string, number][] = [];
    await forEachLine(f, (b, at) => out.push([b.toString('utf8'), at]), block);
    return out;
  };

  it('hands over each line with its byte offset, whatever the block size', async () => {
    const text = 'ab\n\nlonger line than a block\né€x\nno newline at the end';
    const want: [string, number][] = [];
    let at = 0;
    for (const l of text.split('\n')) {
      want.push([l, at]);
      at += Buffer.byteLength(l) + 1;
    }
    for (const block of [1, 3, 7, 64, 8 << 20]) assert.deepEqual(await lines(text, block), want, `block ${block}`);
    assert.deepEqual(await lines('a\n', 4), [['a', 0]], 'a final newline makes no empty last line');
    assert.deepEqual(await lines('', 4), []);
  });

  const record = (images: string[]) => ({
    question: 'What does "multi_modal_data" say? A \\ backslash',
    output: 'user\n<tool_response>',
    multi_modal_data: { image: images },
    index: 3,
    codedance: { trajectory: { inputImages: [{ data: 'codedance-file:x.png' }] } },
  });
  const B64 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC';

  it('skips the images of the seed field: the rest of the line parses as it was', () => {
    const r = record([B64, `data:image/png;base64,${B64}`]);
    for (const text of [
      JSON.stringify(r),
      // Python's json.dumps spacing (the seed's own files)
      JSON.stringify(r).replace(/","/g, '", "').replace(/":/g, '": '),
    ]) {
      const out = withoutSeedImages(Buffer.from(text));
      assert.ok(!out.includes(B64), 'no image left');
      assert.deepEqual(JSON.parse(out), { ...r, multi_modal_data: { image: ['', ''] } });
    }
    assert.deepEqual(JSON.parse(withoutSeedImages(Buffer.from(JSON.stringify(record([]))))), record([]));
  });

  it('leaves a line whole when the field is absent, only text in a string, cut, or not an object', () => {
    const whole = (text: string) => assert.equal(withoutSeedImages(Buffer.from(text)), text);
    whole(JSON.stringify({ index: 1, question: 'no images' }));
    whole(JSON.stringify({ index: 1, question: 'the key "multi_modal_data": {"image": []} in a question' }));
    whole(JSON.stringify(record([B64])).slice(0, 200)); // cut inside the images (a kill mid-write)
    whole('{"index":1,"multi_modal_data":null}');
  });
});
