/**
 * The conversation path labels each attached image by what its bytes are: WebP, GIF and BMP were
 * labelled PNG (a JPEG-or-PNG check), in the panel's exchange and in the stored trajectory.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConversationSession } from '../../../src/core/conversation/ConversationSession';
import { IMAGE_MIMES } from '../../../src/core/images/sniffImageMime';
import { storeImages } from '../../../src/core/trajectory/imageFiles';
import { rowTrajectory } from '../../../src/core/training-data/rowTrajectory';
import { Attachments } from '../../../src/extension/chat/attachments';
import { IMAGE_FORMAT_BASE64, imageFormatBytes } from '../../fixtures/imageFormats';
import { ScriptedModel } from '../agent/fakes';
import { FakeHost } from './fakeHost';

const ALL = [...IMAGE_MIMES];
const images = () => ALL.map(imageFormatBytes);

describe('conversation: input images keep their type', () => {
  it('attachments: each format is accepted and labelled by its bytes, with its size', () => {
    const a = new Attachments();
    for (const mime of ALL) assert.equal(a.add(`picture.${mime === 'image/png' ? 'jpg' : 'png'}`, imageFormatBytes(mime)), undefined, mime);
    assert.deepEqual(
      a.view().map((v) => v.mime),
      ALL,
    );
    assert.deepEqual(
      a.view().map((v) => v.thumb.slice(0, v.thumb.indexOf(';'))),
      ALL.map((m) => `data:${m}`),
    );
    assert.match(
      a.add('notes.png', new Uint8Array(Buffer.from('BMW 320i, one owner, 140000 km'))) ?? '',
      /notes\.png is not a readable image/,
    );
    const sized = a.view().filter((v) => v.width !== undefined);
    assert.deepEqual(
      sized.map((v) => [v.mime, v.width, v.height]),
      [
        ['image/png', 2, 2],
        ['image/jpeg', 2, 2],
        ['image/gif', 2, 2],
      ],
    );
  });

  it('ask: the exchange shown in the panel carries each image with its own type', async () => {
    const host = new FakeHost(new ScriptedModel(['{{ok}}']));
    const s = new ConversationSession(host);
    await s.ask('q', images());
    const start = host.events.find((e) => e.type === 'exchangeStart');
    assert.ok(start?.type === 'exchangeStart');
    assert.deepEqual(
      start.images.map((im) => im.mime),
      ALL,
    );
    assert.deepEqual(
      start.images.map((im) => im.data),
      ALL.map((m) => IMAGE_FORMAT_BASE64[m]),
    );
  });

  it('a run that fails before the loop stores its input images with their types, and as files named by type', async () => {
    const host = new FakeHost(new ScriptedModel([]));
    host.configError = new Error('endpoint down');
    const s = new ConversationSession(host);
    const t = await s.ask('q', images());
    assert.equal(t?.status, 'error');
    assert.deepEqual(
      t!.inputImages.map((im) => im.mime),
      ALL,
    );
    // Retry shows the stored images again, still labelled by their bytes
    host.clear();
    host.configError = new Error('still down');
    await s.retry();
    const start = host.events.find((e) => e.type === 'exchangeStart');
    assert.ok(start?.type === 'exchangeStart');
    assert.deepEqual(
      start.images.map((im) => im.mime),
      ALL,
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'conv-images-'));
    try {
      await storeImages(t!, dir);
      assert.deepEqual(
        readdirSync(dir)
          .map((f) => path.extname(f))
          .sort(),
        ['.bmp', '.gif', '.jpg', '.png', '.webp'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a dataset row opened in chat labels its images by their bytes', () => {
    const t = rowTrajectory(
      {
        messages: [{ role: 'user', content: '<image><image><image>What colour?' }],
        images: [imageFormatBytes('image/webp'), imageFormatBytes('image/gif'), imageFormatBytes('image/bmp')],
      },
      0,
      'rows.parquet',
    );
    assert.deepEqual(
      t.inputImages.map((im) => im.mime),
      ['image/webp', 'image/gif', 'image/bmp'],
    );
  });
});
