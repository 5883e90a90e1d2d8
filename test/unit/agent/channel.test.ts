/** The agent's event queue (src/core/agent/channel.ts): order, close, and folding while the consumer is behind. */
import { strict as assert } from 'node:assert';
import { Channel } from '../../../src/core/agent/channel';

type Ev = { type: 'delta'; text: string } | { type: 'other'; n: number };
const fold = (a: Ev, b: Ev): Ev | undefined =>
  a.type === 'delta' && b.type === 'delta' ? { type: 'delta', text: a.text + b.text } : undefined;

async function drain<T>(ch: Channel<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of ch) out.push(x);
  return out;
}

describe('agent: event channel', () => {
  it('keeps the order; a close after the pushes still delivers them, then ends', async () => {
    const ch = new Channel<number>();
    for (let i = 0; i < 1000; i++) ch.push(i);
    ch.close();
    assert.deepEqual(
      await drain(ch),
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('folds deltas queued while the consumer is behind, never across another event', async () => {
    const ch = new Channel<Ev>(fold);
    for (const t of ['a', 'b', 'c']) ch.push({ type: 'delta', text: t });
    ch.push({ type: 'other', n: 1 });
    for (const t of ['d', 'e']) ch.push({ type: 'delta', text: t });
    ch.close();
    assert.deepEqual(await drain(ch), [
      { type: 'delta', text: 'abc' },
      { type: 'other', n: 1 },
      { type: 'delta', text: 'de' },
    ]);
  });

  it('a consumer that keeps up gets every delta on its own', async () => {
    const ch = new Channel<Ev>(fold);
    const got = drain(ch);
    for (const t of ['a', 'b', 'c']) {
      await new Promise((r) => setImmediate(r));
      ch.push({ type: 'delta', text: t });
    }
    ch.close();
    assert.deepEqual(
      await got,
      ['a', 'b', 'c'].map((text) => ({ type: 'delta', text })),
    );
  });

  it('a close with an error throws it to the consumer after the queued items', async () => {
    const ch = new Channel<number>();
    ch.push(1);
    ch.close(new Error('boom'));
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const x of ch) seen.push(x);
    }, /boom/);
    assert.deepEqual(seen, [1]);
  });
});
