/**
 * Chat history stores trajectories of the current schema and reads older ones: a follow-up's
 * messages share objects with the earlier exchange, and each image must still be stored once,
 * as itself (schema 1 stored the shared ones twice, the second time as garbage); a schema-1
 * conversation loads as schema 2.
 */
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChatMessage } from '../../../src/core/protocol/types';
import { createTrajectory } from '../../../src/core/trajectory/create';
import { storeImages } from '../../../src/core/trajectory/imageFiles';
import { TRAJECTORY_VERSION } from '../../../src/core/trajectory/types';
import { HistoryStore, newConversation, type HistoryDamage } from '../../../src/extension/chat/historyStore';

/** these tests damage nothing: a report is a bug */
const noDamage = (d: HistoryDamage) => assert.fail(`unexpected damage report: ${JSON.stringify(d)}`);

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('chat history: trajectories of every schema', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-hist-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a follow-up sharing message objects with the first exchange saves and loads with its images intact', async () => {
    const first = createTrajectory({
      question: 'q1',
      model: 'm',
      protocol: 'codedance',
      inputImages: [{ id: 'input-0', mime: 'image/png', data: PNG, source: 'input' }],
      messages: [
        { role: 'system', content: 'sys' },
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: 'text', text: 'q1' },
          ],
        },
        { role: 'assistant', content: '<answer>1</answer>' },
      ],
      status: 'answered',
    });
    // runAgent builds a follow-up's messages as [...history, ...new]: the same objects
    const second = createTrajectory({
      question: 'q2',
      model: 'm',
      protocol: 'codedance',
      messages: [...first.messages, { role: 'user', content: 'q2' }],
      status: 'answered',
    });
    const store = new HistoryStore(dir, noDamage);
    const c = newConversation('t');
    c.exchanges.push(first, second);
    await store.save(c);
    const files = readdirSync(path.join(store.dir, c.id, 'images'));
    assert.equal(files.length, 1, `one image file: ${files.join(', ')}`);
    const back = await store.load(c.id);
    assert.deepEqual(
      back.exchanges.map((x) => x.messages[1].content),
      [first.messages[1].content, first.messages[1].content],
    );
    assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(c)), 'the conversation as it was saved');
  });

  it('a schema-1 conversation loads as schema 2', async () => {
    cpSync(path.resolve(__dirname, '../../fixtures/v1/history'), dir, { recursive: true });
    const store = new HistoryStore(dir, noDamage);
    const [item] = await store.list();
    const c = await store.load(item.id);
    assert.equal(c.exchanges.length, 2);
    for (const t of c.exchanges) {
      assert.equal(t.version, TRAJECTORY_VERSION);
      assert.equal(t.migrated?.source, 'history');
    }
    const url = (c.exchanges[1].messages[1].content as { type: string; image_url?: { url: string } }[])[0].image_url!.url;
    assert.equal(url.replace(/^data:[^,]*,/, ''), c.exchanges[0].inputImages[0].data, 'the image schema 1 stored twice is read as itself');
  });

  /** a chat of `n` follow-ups as the session makes it: each exchange's messages are the earlier ones (the same objects) and its own */
  function longChat(n: number) {
    const c = newConversation('long');
    let history: ChatMessage[] = [{ role: 'system', content: 'sys' }];
    for (let q = 0; q < n; q++) {
      const own: ChatMessage[] = [
        {
          role: 'user',
          content: [
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } },
            { type: 'text', text: `question ${q}` },
          ],
        },
        { role: 'assistant', content: `<answer>${q}</answer>` },
      ];
      history = [...history, ...own];
      c.exchanges.push(
        createTrajectory({
          question: `question ${q}`,
          model: 'm',
          protocol: 'codedance',
          inputImages: [{ id: 'input-0', mime: 'image/png', data: PNG, source: 'input' }],
          messages: history,
          status: 'answered',
        }),
      );
    }
    return c;
  }

  it('a long chat is stored in linear size: each follow-up with its own messages, read back whole, the earlier ones shared', async () => {
    const store = new HistoryStore(dir, noDamage);
    const c = longChat(60);
    await store.save(c);
    const file = path.join(store.dir, c.id, 'conversation.json');
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { exchanges: Record<string, unknown>[] };
    assert.equal((raw.exchanges[0].messages as unknown[]).length, 3, 'the first exchange whole');
    for (const [k, x] of raw.exchanges.slice(1).entries()) {
      assert.equal(x.messages, undefined, `exchange ${k + 1} is stored without the earlier messages`);
      assert.equal(x.previousMessages, 1 + 2 * (k + 1));
      assert.equal((x.newMessages as unknown[]).length, 2);
    }
    // every exchange whole would be ~60²: here about 60 exchanges of 2 messages
    assert.ok(readFileSync(file).length < 60 * 2000, `conversation.json is ${readFileSync(file).length} bytes`);
    const back = await store.load(c.id);
    assert.deepEqual(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(c)), 'the conversation as it was saved');
    assert.equal(back.exchanges[59].messages[1], back.exchanges[0].messages[1], 'the earlier messages are shared, not copied');
    // saved again after it was read back (the same objects): stored the same way
    await store.save(back);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).exchanges, raw.exchanges);
  });

  it('an exchange whose history differs from the one before (an edit) is stored whole', async () => {
    const store = new HistoryStore(dir, noDamage);
    const c = longChat(3);
    c.exchanges[2] = { ...c.exchanges[2], messages: [{ role: 'system', content: 'edited' }, ...c.exchanges[2].messages.slice(1)] };
    await store.save(c);
    const raw = JSON.parse(readFileSync(path.join(store.dir, c.id, 'conversation.json'), 'utf8')) as {
      exchanges: Record<string, unknown>[];
    };
    assert.deepEqual(
      raw.exchanges.map((x) => (x.messages ? 'whole' : 'continued')),
      ['whole', 'continued', 'whole'],
    );
    assert.deepEqual(JSON.parse(JSON.stringify(await store.load(c.id))), JSON.parse(JSON.stringify(c)));
  });

  it('a conversation written with every exchange whole (earlier releases) opens as it was', async () => {
    const store = new HistoryStore(dir, noDamage);
    const c = longChat(4);
    const images = path.join(store.dir, c.id, 'images');
    const exchanges = [];
    for (const t of c.exchanges) exchanges.push(await storeImages(t, images));
    writeFileSync(path.join(store.dir, c.id, 'conversation.json'), JSON.stringify({ ...c, exchanges }));
    assert.deepEqual(JSON.parse(JSON.stringify(await store.load(c.id))), JSON.parse(JSON.stringify(c)));
  });
});
