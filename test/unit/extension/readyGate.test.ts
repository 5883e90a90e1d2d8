import * as assert from 'node:assert/strict';
import { ReadyGate } from '../../../src/extension/chat/readyGate';

describe('ReadyGate (Ask about image waits for the chat webview before opening the image preview)', () => {
  it('resolves every waiter with true when the webview says ready', async () => {
    const g = new ReadyGate();
    const a = g.wait(10_000);
    const b = g.wait(10_000);
    g.open();
    assert.deepEqual(await Promise.all([a, b]), [true, true]);
  });

  it('resolves false after the timeout, and a later ready no longer reaches it', async () => {
    const g = new ReadyGate();
    assert.equal(await g.wait(5), false);
    const later = g.wait(10_000);
    g.open();
    assert.equal(await later, true);
  });
});
