/**
 * The chat's storage and export, in plain Node (no `vscode` in these modules): conversations
 * round-trip with their images as files (not inline JSON), and the exports carry every image.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTrajectory } from '../../../src/core/trajectory/create';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { conversationNotebook, writeMarkdownExport } from '../../../src/extension/chat/exportConversation';
import { HistoryStore, newConversation, type HistoryDamage } from '../../../src/extension/chat/historyStore';
import { chatRequest } from '../../../src/protocol/chat';
import { parseRequest } from '../../../src/protocol/messages';

/** the chat's boundary check: the message as the extension acts on it, or undefined when refused */
const validateFromWebview = (raw: unknown) => {
  const r = parseRequest('chat', chatRequest, raw);
  return r.ok ? r.request : undefined;
};

/** these tests damage nothing: a report is a bug */
const noDamage = (d: HistoryDamage) => assert.fail(`unexpected damage report: ${JSON.stringify(d)}`);

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function trajectory(question: string): Trajectory {
  return createTrajectory({
    id: `t-${question}`,
    createdAt: '2026-01-01T00:00:00.000Z',
    question,
    inputImages: [{ id: 'input-0', mime: 'image/png', data: PNG, width: 1, height: 1, source: 'input' }],
    model: 'm',
    endpoints: ['http://127.0.0.1:1/v1'],
    protocol: 'codedance',
    sampling: {},
    maxTurns: 7,
    messages: [
      { role: 'system', content: 'sys' },
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: `data:image/jpeg;base64,${PNG}` } },
          { type: 'text', text: question },
        ],
      },
      { role: 'assistant', content: '<code>\n```python\nplt.show()\n```\n</code>' },
    ],
    turns: [
      {
        index: 0,
        endpoint: 'e',
        startedAt: '',
        latencyMs: 5,
        content: '<think>look</think>',
        toolCalls: [],
        retries: 0,
        malformed: [],
        cells: [
          {
            id: 't0-c0',
            turn: 0,
            code: 'plt.show()',
            status: 'ok',
            stdout: 'hi\n',
            stderr: '',
            images: [{ id: 't0-c0-i0', mime: 'image/png', data: PNG, width: 1, height: 1, source: 'figure' }],
          },
        ],
      },
    ],
    answer: '3',
    status: 'answered',
    usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
    durationMs: 10,
  });
}

describe('chat history store and export', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-chat-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('saves images as files, not inline, and loads the conversation back identical', async () => {
    const store = new HistoryStore(dir, noDamage);
    const c = newConversation('circles');
    c.exchanges.push(trajectory('how many?'), trajectory('and now?'));
    await store.save(c);
    const json = readFileSync(path.join(store.dir, c.id, 'conversation.json'), 'utf8');
    assert.ok(!json.includes(PNG), 'no base64 image inside the JSON');
    assert.equal(readdirSync(path.join(store.dir, c.id, 'images')).length, 1, 'one identical image stored once');
    const back = await store.load(c.id);
    assert.deepEqual(back, c);
    assert.deepEqual(
      (await store.list()).map((x) => x.title),
      ['circles'],
    );
  });

  it('renames and deletes (with the images)', async () => {
    const store = new HistoryStore(dir, noDamage);
    const a = newConversation('a');
    a.exchanges.push(trajectory('q'));
    const b = newConversation('b');
    b.exchanges.push(trajectory('q'));
    await store.save(a);
    await store.save(b);
    await store.rename(a.id, 'renamed');
    assert.deepEqual((await store.list()).map((x) => x.title).sort(), ['b', 'renamed']);
    await store.delete(b.id);
    assert.deepEqual(
      (await store.list()).map((x) => x.id),
      [a.id],
    );
    assert.ok(!existsSync(path.join(store.dir, b.id)));
    await assert.rejects(store.load('../../etc'), /bad conversation id/);
  });

  it('exports one notebook for a conversation and Markdown with its images beside it', async () => {
    const c = newConversation('two questions');
    c.exchanges.push(trajectory('first'), trajectory('second'));
    const nb = conversationNotebook(c) as { cells: { id: string; outputs?: unknown[] }[] };
    const ids = nb.cells.map((x) => x.id);
    assert.equal(new Set(ids).size, ids.length, 'cell ids unique');
    assert.ok(JSON.stringify(nb).includes(PNG), 'the images are in the notebook');
    const file = path.join(dir, 'out.md');
    const n = await writeMarkdownExport(c, file);
    assert.equal(n, 4);
    const md = readFileSync(file, 'utf8');
    assert.match(md, /## Question 1[\s\S]*## Question 2/);
    assert.match(md, /!\[t0-c0-i0\]\(out_images\/q0-t0-c0-i0\.png\)/);
    assert.ok(statSync(path.join(dir, 'out_images', 'q1-t0-c0-i0.png')).size > 0);
    assert.match(md, /\*\*Answer:\*\* 3/);
  });

  it('validates webview messages at the boundary', () => {
    assert.deepEqual(validateFromWebview({ id: 'm1', type: 'ask', question: 'q' }), { id: 'm1', type: 'ask', question: 'q' });
    assert.equal(validateFromWebview({ type: 'ask', question: 'q' }), undefined, 'every message carries its id');
    assert.equal(validateFromWebview({ id: 'm1', type: 'ask', question: 3 }), undefined);
    assert.equal(validateFromWebview({ id: 'm1', type: 'exec', code: 'rm -rf /' }), undefined);
    assert.equal(validateFromWebview({ id: 'm1', type: 'history', action: 'open', conversationId: '../x' }), undefined);
    assert.equal(validateFromWebview({ id: 'm1', type: 'approval', run: 'r', cellId: 't0-c0', reply: { action: 'edit' } }), undefined);
    assert.ok(validateFromWebview({ id: 'm1', type: 'approval', run: 'r', cellId: 't0-c0', reply: { action: 'edit', code: 'x' } }));
    assert.equal(validateFromWebview({ id: 'm1', type: 'setup', action: 'runShell' }), undefined);
    assert.equal(validateFromWebview(null), undefined);
  });
});
