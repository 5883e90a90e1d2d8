/**
 * Chat history stores trajectories of the current schema and reads older ones: a follow-up's
 * messages share objects with the earlier exchange, and each image must still be stored once,
 * as itself (schema 1 stored the shared ones twice, the second time as garbage); a schema-1
 * conversation loads as schema 2.
 */
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTrajectory } from '../../../src/core/trajectory/create';
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
});
