/**
 * Chat history loses no conversation: the folders are the truth and index.json a cache of them.
 * A missing index is rebuilt; a damaged index or conversation file is kept aside under a name
 * that is reported; saves and deletes running at once, from one store or two on the same
 * folder (the chat and an export, or two windows), leave every conversation that was not deleted.
 */
import { strict as assert } from 'node:assert';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTrajectory } from '../../../src/core/trajectory/create';
import { HistoryStore, newConversation, type Conversation, type HistoryDamage } from '../../../src/extension/chat/historyStore';

function conversation(title: string, updatedAt: string): Conversation {
  const c = newConversation(title);
  c.updatedAt = updatedAt;
  c.exchanges.push(
    createTrajectory({
      question: `${title}?`,
      model: 'm',
      protocol: 'codedance',
      messages: [{ role: 'user', content: `${title}?` }],
      status: 'answered',
      answer: title,
    }),
  );
  return c;
}

describe('chat history store: the index is a cache of the conversation folders', () => {
  let dir: string;
  let damage: HistoryDamage[];
  const store = () => new HistoryStore(dir, (d) => damage.push(d));
  /** three saved conversations, newest first: c, b, a */
  let saved: Conversation[];
  const index = () => path.join(dir, 'conversations', 'index.json');
  const titles = async (s = store()) => (await s.list()).map((x) => x.title);

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-history-'));
    damage = [];
    saved = [
      conversation('a', '2026-01-01T00:00:00.000Z'),
      conversation('b', '2026-01-02T00:00:00.000Z'),
      conversation('c', '2026-01-03T00:00:00.000Z'),
    ];
    const s = store();
    for (const c of saved) await s.save(c);
    assert.deepEqual(await titles(s), ['c', 'b', 'a']);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a fresh folder lists nothing and writes nothing', async () => {
    const empty = new HistoryStore(path.join(dir, 'elsewhere'), (d) => damage.push(d));
    assert.deepEqual(await empty.list(), []);
    assert.ok(!existsSync(path.join(dir, 'elsewhere')));
  });

  for (const [what, text] of [
    ['cut short', '[\n {\n  "id": "'],
    ['not a list', '{"items": []}'],
    ['an entry without an id', '[{"title": "x", "updatedAt": "2026-01-01", "exchanges": 1}]'],
  ] as const) {
    it(`a damaged index (${what}): the next save keeps every conversation, and the damaged file is kept aside and named`, async () => {
      writeFileSync(index(), text);
      const s = store();
      const d = conversation('d', '2026-01-04T00:00:00.000Z');
      await s.save(d);
      assert.deepEqual(await titles(s), ['d', 'c', 'b', 'a']);
      assert.equal(damage.length, 1, JSON.stringify(damage));
      assert.equal(damage[0].what, 'index');
      assert.match(path.basename(damage[0].keptAs), /^index\.json\.damaged-[\dT-]+Z$/);
      assert.equal(path.dirname(damage[0].keptAs), path.join(dir, 'conversations'));
      assert.equal(readFileSync(damage[0].keptAs, 'utf8'), text, 'the damaged file as it was');
      assert.ok(damage[0].reason.length > 0);
      // the rebuilt index is on disk
      assert.deepEqual(
        (JSON.parse(readFileSync(index(), 'utf8')) as { title: string }[]).map((x) => x.title),
        ['d', 'c', 'b', 'a'],
      );
    });
  }

  it('a damaged index: list() rebuilds it from the folders, and delete() then removes one only', async () => {
    writeFileSync(index(), '\u0000\u0000garbage');
    const s = store();
    assert.deepEqual(await titles(s), ['c', 'b', 'a']);
    assert.equal(damage.length, 1);
    await s.delete(saved[1].id);
    assert.deepEqual(await titles(), ['c', 'a']);
    assert.equal(damage.length, 1, 'reported once: the rebuilt index is not damaged');
  });

  it('a missing index is rebuilt from the folders (no damage to report)', async () => {
    rmSync(index());
    assert.deepEqual(await titles(), ['c', 'b', 'a']);
    assert.ok(existsSync(index()), 'written again');
    assert.deepEqual(damage, []);
  });

  it('the index follows the folders: one another window saved is added, one it deleted is dropped', async () => {
    const other = path.join(dir, 'other');
    const d = conversation('d', '2026-01-04T00:00:00.000Z');
    await new HistoryStore(other, (x) => damage.push(x)).save(d);
    // "another window": d's folder appears and a's goes, neither through this index
    const before = readFileSync(index(), 'utf8');
    rmSync(path.join(dir, 'conversations', saved[0].id), { recursive: true });
    cpSync(path.join(other, 'conversations', d.id), path.join(dir, 'conversations', d.id), { recursive: true });
    assert.equal(readFileSync(index(), 'utf8'), before);
    assert.deepEqual(await titles(), ['d', 'c', 'b']);
    assert.deepEqual(damage, []);
  });

  it('a damaged conversation file is kept aside and named when opened, and leaves the list', async () => {
    const b = saved[1];
    const file = path.join(dir, 'conversations', b.id, 'conversation.json');
    writeFileSync(file, '{"id": "cut');
    const s = store();
    await assert.rejects(s.load(b.id), (e: Error) => {
      assert.match(e.message, new RegExp(`conversation\\.json\\.damaged-`));
      assert.ok(e.message.includes(damage[0]?.keptAs ?? '(no report)'), e.message);
      return true;
    });
    assert.equal(damage.length, 1);
    assert.deepEqual({ what: damage[0].what, id: damage[0].id, title: damage[0].title }, { what: 'conversation', id: b.id, title: 'b' });
    assert.equal(path.dirname(damage[0].keptAs), path.dirname(file), 'beside its images');
    assert.equal(readFileSync(damage[0].keptAs, 'utf8'), '{"id": "cut');
    assert.ok(!existsSync(file));
    assert.deepEqual(await titles(s), ['c', 'a']);
    assert.deepEqual(await titles(), ['c', 'a'], 'and stays out of it');
    assert.equal(damage.length, 1);
  });

  it('a damaged conversation file found while rebuilding the index is kept aside and named; the others are listed', async () => {
    rmSync(index());
    const file = path.join(dir, 'conversations', saved[0].id, 'conversation.json');
    writeFileSync(file, '[]');
    assert.deepEqual(await titles(), ['c', 'b']);
    assert.equal(damage.length, 1);
    assert.equal(damage[0].id, saved[0].id);
    assert.match(damage[0].keptAs, /conversation\.json\.damaged-/);
    assert.equal(readFileSync(damage[0].keptAs, 'utf8'), '[]');
    assert.match(damage[0].reason, /not a conversation|no id/);
  });

  it('one store (the chat view and its editor tab share it): saves and deletes at once write index.json in turn, each after the last', async () => {
    const s = store();
    const more = Array.from({ length: 8 }, (_, i) => conversation(`n${i}`, `2026-02-0${i + 1}T00:00:00.000Z`));
    await Promise.all([...more.map((c) => s.save(c)), s.delete(saved[0].id)]);
    // read from disk, no list() to put anything back: the queue alone kept every write
    const onDisk = (JSON.parse(readFileSync(index(), 'utf8')) as { title: string }[]).map((x) => x.title);
    assert.deepEqual(
      onDisk,
      [...more]
        .reverse()
        .map((c) => c.title)
        .concat(['c', 'b']),
    );
    assert.deepEqual(damage, []);
  });

  it('two stores on one folder saving at once (the chat and another window): every conversation is kept', async () => {
    const one = store();
    const two = store();
    const more = Array.from({ length: 12 }, (_, i) => conversation(`n${i}`, `2026-02-${String(i + 1).padStart(2, '0')}T00:00:00.000Z`));
    await Promise.all(more.map((c, i) => (i % 2 ? one : two).save(c)));
    const expected = [...more]
      .reverse()
      .map((c) => c.title)
      .concat(['c', 'b', 'a']);
    assert.deepEqual(await titles(), expected);
    for (const c of more) assert.equal((await one.load(c.id)).title, c.title);
    assert.deepEqual(damage, []);
    assert.deepEqual(
      readdirSync(path.join(dir, 'conversations')).filter((n) => n.includes('tmp')),
      [],
      'no temporary file left',
    );
  });

  it('saves and deletes at once, from one store and from two: what was deleted is gone, everything else is kept', async () => {
    const one = store();
    const two = store();
    const [a, b, c] = saved;
    const d = conversation('d', '2026-01-04T00:00:00.000Z');
    const e = conversation('e', '2026-01-05T00:00:00.000Z');
    const f = conversation('f', '2026-01-06T00:00:00.000Z');
    await Promise.all([one.save(d), two.delete(b.id), one.delete(c.id), two.save(e), one.save(f), two.rename(a.id, 'a renamed')]);
    const names = ['f', 'e', 'd', 'a renamed'];
    assert.deepEqual((await titles()).sort(), [...names].sort());
    for (const gone of [b, c]) {
      assert.ok(!existsSync(path.join(dir, 'conversations', gone.id)));
      await assert.rejects(one.load(gone.id), /ENOENT/);
    }
    assert.deepEqual(
      readdirSync(path.join(dir, 'conversations')).filter((n) => n.includes('.deleting-')),
      [],
      'no half-deleted folder left',
    );
    assert.deepEqual((JSON.parse(readFileSync(index(), 'utf8')) as { title: string }[]).map((x) => x.title).sort(), [...names].sort());
    assert.deepEqual(damage, []);
  });
});
