/**
 * What crosses the chat webview boundary: each output image once, no model messages, the
 * kernel's state only on its own; a stored exchange renders from the same events as a live
 * run; every incoming message validated with its id; attachments refused with the reason.
 */
import { strict as assert } from 'node:assert';
import type { AgentEvent } from '../../../src/core/trajectory/events';
import { runAgent } from '../../../src/core/agent/runAgent';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { Attachments } from '../../../src/extension/chat/attachments';
import { chatRequest, type PanelEvent } from '../../../src/protocol/chat';
import { parseRequest } from '../../../src/protocol/messages';
import { exchangeEvents, exchangeView, sessionMessage, toPanelEvent } from '../../../src/protocol/panelEvents';
import { FakeKernel, ScriptedModel, tagFormat } from '../agent/fakes';

/** the chat's boundary check: the message as the extension acts on it, or undefined when refused */
const validateFromWebview = (raw: unknown) => {
  const r = parseRequest('chat', chatRequest, raw);
  return r.ok ? r.request : undefined;
};

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

/** A kernel whose cells each make one image. */
class ImageKernel extends FakeKernel {
  override async execute(code: string, opts = {}) {
    const r = await super.execute(code, opts);
    return { ...r, images: [{ mime: 'image/png' as const, data: PNG, width: 1, height: 1, source: 'figure' as const }] };
  }
}

async function liveRun(): Promise<{ events: AgentEvent[]; trajectory: Trajectory }> {
  const events: AgentEvent[] = [];
  const model = new ScriptedModel(['look [[print 1]]', 'again [[print 2]]', '{{two}}']);
  for await (const e of runAgent('q', [new Uint8Array([1])], { model, modelName: 'm', protocol: tagFormat, kernel: new ImageKernel() }))
    events.push(e);
  const done = events.at(-1);
  assert.ok(done?.type === 'done');
  return { events, trajectory: done.trajectory };
}

const imageCount = (x: unknown) => JSON.stringify(x).split(PNG).length - 1;

describe('chat webview protocol', () => {
  it('a live run crosses with each output image once, without model messages or kernel events', async () => {
    const { events, trajectory } = await liveRun();
    assert.equal(imageCount(events), 2 * 3, 'in process: exec_end result + cell, and the trajectory at done');
    const panel = events.flatMap((e) => toPanelEvent(e) ?? []);
    assert.equal(imageCount(panel), 2, 'two cells, one image each, each once');
    assert.ok(!panel.some((e) => (e.type as string) === 'observation' || (e.type as string) === 'kernel'));
    const done = panel.at(-1);
    assert.deepEqual(done, {
      type: 'done',
      summary: { status: 'answered', turns: 3, maxTurns: 4, usage: trajectory.usage, durationMs: trajectory.durationMs },
    });
    assert.ok(!JSON.stringify(panel).includes('"role"'), 'no model messages');
  });

  it('a stored exchange renders from the events of the live run that made it', async () => {
    const { events, trajectory } = await liveRun();
    const rendered = (evs: PanelEvent[]) =>
      evs
        .filter((e) => ['turn_end', 'tool_call', 'exec_end', 'malformed', 'answer', 'done'].includes(e.type))
        .map((e) => {
          if (e.type === 'turn_end') return { type: e.type, turn: e.turn, content: e.content };
          if (e.type === 'tool_call') return { type: e.type, id: e.cell.id, code: e.cell.code };
          return e;
        });
    const live = events.flatMap((e) => toPanelEvent(e) ?? []);
    const stored = exchangeEvents(exchangeView(JSON.parse(JSON.stringify(trajectory)) as Trajectory));
    assert.deepEqual(JSON.parse(JSON.stringify(rendered(stored))), JSON.parse(JSON.stringify(rendered(live))));
    assert.equal(imageCount(stored), 2);
  });

  it("a kernel that is not a local one of ours (a notebook's, a server's): the live run and the stored exchange say where the code ran", async () => {
    const kernel = Object.assign(new ImageKernel(), { where: 'the kernel of analysis.ipynb' });
    const events: AgentEvent[] = [];
    for await (const e of runAgent('q', [new Uint8Array([1])], {
      model: new ScriptedModel(['{{one}}']),
      modelName: 'm',
      protocol: tagFormat,
      kernel,
    }))
      events.push(e);
    const start = events.find((e) => e.type === 'start');
    assert.equal(start?.type === 'start' && start.where, 'the kernel of analysis.ipynb');
    const done = events.at(-1);
    assert.ok(done?.type === 'done');
    assert.equal(done.trajectory.where, 'the kernel of analysis.ipynb');
    const stored = exchangeEvents(exchangeView(JSON.parse(JSON.stringify(done.trajectory)) as Trajectory));
    assert.equal(stored[0].type === 'start' && stored[0].where, 'the kernel of analysis.ipynb');
    // a local kernel: nothing said, nothing stored
    const { events: local, trajectory } = await liveRun();
    assert.ok(!local.some((e) => e.type === 'start' && 'where' in e) && !('where' in trajectory));
    assert.ok(!exchangeEvents(exchangeView(trajectory)).some((e) => e.type === 'start'));
  });

  it('a conversation crosses without its model messages; kernel state only as its own message', async () => {
    const { events, trajectory } = await liveRun();
    const conv = { id: 'c1', title: 't', createdAt: '', updatedAt: '', exchanges: [trajectory] };
    const m = sessionMessage({ type: 'conversation', conversation: conv });
    assert.ok(m?.type === 'conversation' && m.exchanges.length === 1 && !('messages' in m.exchanges[0]));
    assert.equal(imageCount(m), 2);
    const kernelEvent = events.find((e) => e.type === 'kernel');
    assert.ok(kernelEvent, 'the loop reports kernel states (for the CLI)');
    assert.equal(
      sessionMessage({ type: 'event', runId: 'r', index: 0, event: kernelEvent }),
      undefined,
      'the panel gets them once, from the session',
    );
    assert.deepEqual(sessionMessage({ type: 'kernel', state: 'busy' }), { type: 'kernel', state: 'busy' });
  });

  it('messages from the webview are validated with their id; approvals name their run and cell', () => {
    assert.ok(validateFromWebview({ id: 'a-1', type: 'restore', run: 'a-0', accept: false }));
    assert.equal(validateFromWebview({ id: 'a-1', type: 'restore', run: 'a-0', accept: 'yes' }), undefined);
    assert.equal(validateFromWebview({ id: 'a 1', type: 'stop' }), undefined, 'ids are word characters');
    assert.equal(validateFromWebview({ id: 'x'.repeat(101), type: 'stop' }), undefined);
    assert.equal(
      validateFromWebview({ id: 'a-1', type: 'approval', run: 'a-0', reply: { action: 'run' } }),
      undefined,
      'the cell is named',
    );
    assert.equal(
      validateFromWebview({ id: 'a-1', type: 'approval', requestId: 'r', reply: { action: 'run' } }),
      undefined,
      'the old side channel is gone',
    );
    assert.equal(validateFromWebview({ id: 'a-1', type: 'approvalDone', requestId: '*' }), undefined);
  });

  it('attachments: images by their bytes; anything else refused with the reason', () => {
    const a = new Attachments();
    assert.equal(a.add('dot.png', Buffer.from(PNG, 'base64')), undefined);
    assert.match(a.add('notes.png', Buffer.from('hello')) ?? '', /notes\.png is not a readable image/);
    const [v] = a.view();
    assert.deepEqual([v.name, v.mime, v.width, v.height], ['dot.png', 'image/png', 1, 1]);
    assert.ok(!('data' in v), 'the bytes stay in the extension');
    assert.equal(a.data().length, 1);
    a.remove(v.id);
    assert.equal(a.data().length, 0);
  });
});
