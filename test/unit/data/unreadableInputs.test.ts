// Training-data reads that used to swallow a failure (issue #22): a dataset row whose image cannot
// be read kept fewer images than it names, and a source path that could not be examined was
// "not found" whatever the cause.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { rowTrajectory } from '../../../src/core/training-data/rowTrajectory';
import { itemsFromPath } from '../../../src/core/training-data/sources';

const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

async function firstError(it: AsyncGenerator<unknown>): Promise<Error | undefined> {
  try {
    for await (const _ of it) return undefined;
  } catch (e) {
    return e as Error;
  }
  return undefined;
}

describe('training data: unreadable inputs are shown, not dropped', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'cd-unreadable-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a row image that cannot be read keeps its place, empty, so the viewer shows it missing', () => {
    const t = rowTrajectory(
      { messages: [{ role: 'user', content: '<image><image>Which is larger?' }], images: [png, 'gone.png'] },
      0,
      path.join(dir, 'rows.jsonl'),
    );
    assert.deepEqual(
      t.inputImages.map((im) => [im.id, im.data === '' ? 'empty' : 'bytes']),
      [
        ['input-0', 'bytes'],
        ['input-1', 'empty'],
      ],
    );
  });

  it('a source path that exists but cannot be examined says why instead of "not found"', async () => {
    const loop = path.join(dir, 'loop.jsonl');
    symlinkSync(path.join(dir, 'loop2.jsonl'), loop);
    symlinkSync(loop, path.join(dir, 'loop2.jsonl'));
    const e = await firstError(itemsFromPath(loop));
    assert.ok(e, 'expected an error');
    assert.match(e.message, /loop\.jsonl cannot be read \(ELOOP\)/);
    const conv = await firstError(itemsFromPath(path.join(dir, 'conversation.json')));
    assert.match(conv?.message ?? '', /^not found: /, 'a path with nothing there is still "not found"');
  });
});
