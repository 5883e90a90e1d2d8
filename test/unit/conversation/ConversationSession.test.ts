/**
 * Every conversation operation without VS Code: ask, follow-up, Retry, Edit & re-run (fork), Stop,
 * approvals (one cell, and a batch of earlier code re-run to rebuild a fresh kernel), kernel
 * restore, failed runs, and an eval sample opened in chat then retried and followed up.
 */
import { strict as assert } from 'node:assert';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import { ConversationSession } from '../../../src/core/conversation/ConversationSession';
import { newConversation, retryTurn } from '../../../src/core/conversation/exchanges';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { FakeKernel, ScriptedModel, tagFormat, type Reply } from '../agent/fakes';
import { FakeHost } from './fakeHost';

const img = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
const lastContent = (req: { messages: unknown[] }) => String((req.messages.at(-1) as { content: string }).content);
const echo: Reply = (req) => `{{${lastContent(req)}}}`;

function session(replies: Reply[]) {
  const model = new ScriptedModel(replies);
  const host = new FakeHost(model);
  return { model, host, s: new ConversationSession(host) };
}

/** A stored run as the eval runner makes it (the same loop), read back from its JSON file. */
async function evalSample(): Promise<Trajectory> {
  const t = await runAgentToEnd('How many?', [img], {
    model: new ScriptedModel(['count [[print 3]]', echo]),
    modelName: 'm',
    protocol: tagFormat,
    kernel: new FakeKernel(),
  });
  assert.equal(t.answer, 'OUT 3');
  return JSON.parse(JSON.stringify(t)) as Trajectory;
}

describe('ConversationSession', () => {
  it('ask: runs the question in a new kernel, stores and saves the exchange, reports each step', async () => {
    const { host, s } = session(['[[print 5]]', echo]);
    const t = await s.ask('q1', [img], 'run-1');
    assert.equal(t?.answer, 'OUT 5');
    assert.equal(s.conversation.exchanges.length, 1);
    assert.equal(s.conversation.title, 'q1');
    assert.equal(host.saved.length, 1);
    assert.equal(host.kernels.length, 1);
    const types = host.events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 2), ['running', 'kernel']);
    assert.ok(types.indexOf('exchangeStart') < types.indexOf('event'));
    assert.deepEqual(host.events.at(-1), { type: 'running', running: false });
    assert.ok(host.events.every((e) => e.type !== 'event' || (e.runId === 'run-1' && e.index === 0)));
    assert.equal(s.running, false);
  });

  it('follow-up: the model gets the earlier exchange, the same kernel keeps its state (nothing re-run)', async () => {
    const { model, host, s } = session(['[[print 1]]', echo, '{{two}}']);
    const first = await s.ask('q1', [img]);
    const second = await s.ask('q2', []);
    assert.equal(second?.answer, 'two');
    const sent = model.requests[2].messages;
    assert.deepEqual(sent.slice(0, first!.messages.length), first!.messages);
    assert.deepEqual(sent.slice(first!.messages.length), [{ role: 'user', content: 'q2' }]);
    assert.equal(host.kernels.length, 1);
    assert.deepEqual(host.kernels[0].executed, ['print 1']);
    assert.equal(s.conversation.exchanges.length, 2);
  });

  it('Retry of an answered question redoes its last model call only, replacing the exchange', async () => {
    const { model, host, s } = session(['[[print 7]]', '{{seven}}', '{{again}}']);
    const first = await s.ask('q', [img]);
    host.clear();
    const t = await s.retry('r2');
    assert.equal(t?.answer, 'again');
    assert.deepEqual(model.requests[2].messages, first!.messages.slice(0, -1));
    assert.equal(s.conversation.exchanges.length, 1);
    const start = host.events.find((e) => e.type === 'exchangeStart');
    assert.ok(start?.type === 'exchangeStart' && start.replace && start.index === 0);
    assert.deepEqual(host.kernels[0].executed, ['print 7'], 'the kernel is in sync: nothing re-run');
  });

  it('Retry after a failed model call makes a new call after the kept turn', async () => {
    const { model, s } = session(['[[print 7]]', new Error('endpoint down'), echo]);
    const first = await s.ask('q', [img]);
    assert.equal(first?.status, 'error');
    assert.equal(retryTurn(first!), 1);
    const t = await s.retry();
    assert.equal(t?.answer, 'OUT 7');
    assert.deepEqual(model.requests[2].messages, first!.messages);
  });

  it('retryTurn: the arithmetic of which turn Retry redoes', () => {
    const base = { turns: [{}, {}], messages: [{ role: 'user' }] } as unknown as Trajectory;
    assert.equal(retryTurn({ ...base, turns: [] }), 0);
    assert.equal(retryTurn({ ...base, status: 'answered' }), 1);
    assert.equal(
      retryTurn({ ...base, status: 'error', messages: [{ role: 'assistant', content: 'x' }] }),
      1,
      'the last reply failed to parse or run: redo it',
    );
    assert.equal(retryTurn({ ...base, status: 'cancelled' }), 2, 'code ran, its observation is the last message: a new call');
  });

  it('Edit & re-run (fork): a new conversation from the edited cell, the original saved, the kernel rebuilt', async () => {
    const { model, host, s } = session(['[[print a]]', '{{one}}', '[[print b]]', echo, echo]);
    await s.ask('q1', [img]);
    const original = s.conversation;
    await s.ask('q2', []);
    const savedBefore = host.saved.length;
    const t = await s.fork(1, 't0-c0', 'print B!');
    assert.equal(t?.answer, 'OUT B!');
    assert.notEqual(s.conversation.id, original.id);
    assert.match(s.conversation.title, /\(edited\)$/);
    assert.equal(s.conversation.exchanges.length, 2);
    assert.equal(host.saved[savedBefore].id, original.id, 'the original is saved first, as it was');
    assert.equal(host.saved[savedBefore].exchanges[1].turns[0].cells[0].code, 'print b');
    assert.equal(host.kernels.length, 2, 'a fresh kernel for the fork');
    assert.deepEqual(host.kernels[1].executed, ['print a', 'print B!'], 'the first exchange re-run, then the edited cell');
    assert.equal(model.requests.length, 5);
    assert.equal(lastContent(model.requests[4]), 'OUT B!');
    await assert.rejects(s.fork(0, 'nope', 'x'), /cell nope of question 1 is not part of this conversation/);
  });

  it('Stop cancels the running cell, skips a waiting approval, and keeps the exchange as stopped', async () => {
    const { host, s } = session(['[[sleep 5000]]', '{{never}}']);
    host.onEvent = (e) => {
      if (e.type === 'event' && e.event.type === 'exec_start') setTimeout(() => s.stop(), 10);
    };
    const t0 = Date.now();
    const t = await s.ask('q', [img]);
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(t?.status, 'cancelled');
    assert.equal(s.conversation.exchanges[0].status, 'cancelled');

    const b = session(['[[print 1]]']);
    b.host.approval = 'always';
    b.host.onEvent = (e) => {
      if (e.type === 'event' && e.event.type === 'approval_request') setTimeout(() => b.s.stop(), 5);
    };
    const u = await b.s.ask('q', [img]);
    assert.equal(u?.status, 'cancelled');
    assert.deepEqual(b.host.kernels[0].executed, [], 'a stopped approval runs nothing');
  });

  it('approval mode always: the request follows its tool_call on the same stream; answers are keyed by run and cell', async () => {
    const { host, s } = session(['[[print a]]', echo]);
    host.approval = 'always';
    host.onEvent = (e) => {
      if (e.type === 'event' && e.event.type === 'approval_request') {
        const { cellId } = e.event;
        setTimeout(() => {
          assert.equal(s.answerApproval('another-run', cellId, { action: 'run' }), false, 'a stale run id is ignored');
          assert.equal(s.answerApproval(e.runId, cellId, { action: 'edit', code: 'print edited' }), true);
        }, 1);
      }
    };
    const t = await s.ask('q', [img], 'run-a');
    assert.equal(t?.answer, 'OUT edited');
    const types = host.agentEvents().map((e) => e.type);
    assert.deepEqual(types.slice(types.indexOf('tool_call'), types.indexOf('tool_call') + 4), [
      'tool_call',
      'approval_request',
      'approval',
      'exec_start',
    ]);
  });

  it('kernel restore: a reopened conversation re-runs its earlier code in a fresh kernel before a follow-up', async () => {
    const { host, s } = session(['[[print a]]', echo, '{{b}}']);
    await s.ask('q1', [img]);
    const stored = structuredClone(s.conversation);
    s.load(stored);
    assert.equal(host.kernels[0].state, 'disposed', 'the old kernel is disposed by its holder');
    host.clear();
    await s.ask('q2', []);
    assert.equal(host.kernels.length, 2);
    assert.deepEqual(host.kernels[1].executed, ['print a']);
    const restore = host.agentEvents().find((e) => e.type === 'restore');
    assert.deepEqual(restore, { type: 'restore', restored: true, cells: 1 });
    assert.ok(!host.agentEvents().some((e) => e.type === 'restore_request'), 'approval mode auto: no question asked');
  });

  it('approval mode always: re-run earlier code is shown and approved as one batch; declined = not restored', async () => {
    const make = async () => {
      const x = session(['[[print a]]', '[[print b]]', echo, '{{c}}']);
      await x.s.ask('q1', [img]);
      x.s.load(structuredClone(x.s.conversation));
      x.host.approval = 'always';
      x.host.clear();
      return x;
    };
    for (const accept of [true, false]) {
      const { host, s } = await make();
      let asked = 0;
      host.onEvent = (e) => {
        if (e.type === 'event' && e.event.type === 'restore_request') {
          asked++;
          assert.deepEqual(e.event.code, ['print a', 'print b']);
          setTimeout(() => s.answerRestore(e.runId, accept), 1);
        }
      };
      const t = await s.ask('q2', []);
      assert.equal(t?.answer, 'c');
      assert.equal(asked, 1, 'one approval for the whole batch');
      assert.deepEqual(host.kernels[1].executed, accept ? ['print a', 'print b'] : []);
      assert.deepEqual(
        host.agentEvents().find((e) => e.type === 'restore'),
        { type: 'restore', restored: accept, cells: 2 },
      );
      assert.equal(s.kernelRestored, accept);
    }
  });

  it('Retry of a reopened exchange in approval mode always asks once for its kept cells', async () => {
    const { host, s } = session(['[[print a]]', '[[fail x]]', echo, echo]);
    await s.ask('q1', [img]);
    s.load(structuredClone(s.conversation));
    host.approval = 'always';
    host.clear();
    host.onEvent = (e) => {
      if (e.type !== 'event') return;
      if (e.event.type === 'restore_request') setTimeout(() => s.answerRestore(e.runId, true), 1);
    };
    const t = await s.retry();
    assert.equal(t?.status, 'answered');
    assert.deepEqual(host.kernels[1].executed, ['print a'], 'only code that ran to the end is re-run');
  });

  it('a run that fails before the loop (endpoint, model name) still makes a stored trajectory', async () => {
    const { host, s } = session([]);
    host.configError = new Error('connect ECONNREFUSED 127.0.0.1:9 (key sk-abcdefghijklmnopqrstuvwx)');
    const t = await s.ask('q', [img]);
    assert.equal(t?.status, 'error');
    assert.match(t!.error!.message, /ECONNREFUSED/);
    assert.equal(t!.inputImages.length, 1);
    assert.equal(s.conversation.exchanges.length, 1);
    const ev = host.agentEvents();
    assert.deepEqual(
      ev.map((e) => e.type),
      ['error', 'done'],
    );
    assert.equal(s.running, false);
  });

  it('Retry of a run that failed before the loop asks the question (not an empty request)', async () => {
    const { model, host, s } = session(['{{ok}}']);
    host.configError = new Error('endpoint down');
    await s.ask('q', [img]);
    host.configError = undefined;
    const t = await s.retry();
    assert.equal(t?.answer, 'ok');
    assert.deepEqual(host.kernels[0].bound, [1], "the question's image is bound in the kernel");
    assert.deepEqual(model.requests[0].messages, [
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'q' },
    ]);
    assert.equal(s.conversation.exchanges.length, 1);
  });

  it('a kernel that cannot start ends the run before it begins; the question is not stored', async () => {
    const { host, s } = session(['{{x}}']);
    host.kernelError = new Error('no ipykernel');
    await assert.rejects(s.ask('q', [img]), /no ipykernel/);
    assert.equal(s.running, false);
    assert.equal(s.conversation.exchanges.length, 0);
    assert.deepEqual(host.events.at(-1), { type: 'running', running: false });
    host.kernelError = undefined;
    assert.equal((await s.ask('q', [img]))?.answer, 'x', 'the next try works');
  });

  it('a new conversation opened during a run: the stopped run is stored in its own conversation, not the new one', async () => {
    const { host, s } = session(['[[sleep 5000]]']);
    const run = s.ask('q', [img]);
    await new Promise((r) => setTimeout(r, 30));
    const first = s.conversation;
    s.load(newConversation());
    const t = await run;
    assert.equal(t?.status, 'cancelled');
    assert.equal(s.conversation.exchanges.length, 0, 'the new conversation stays empty');
    assert.equal(first.exchanges[0].status, 'cancelled');
    assert.equal(host.saved.at(-1)?.id, first.id);
    const lastConversation = host.events.map((e) => e.type).lastIndexOf('conversation');
    assert.ok(
      !host.events.slice(lastConversation).some((e) => e.type === 'event'),
      "the old run's events do not render into the new conversation",
    );
  });

  it('one run at a time', async () => {
    const { s } = session(['[[sleep 200]]', '{{a}}']);
    const first = s.ask('q', [img]);
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(s.ask('again', []), /a question is running/);
    await first;
  });

  it('an interpreter change retires the kernel after the running run; the next question gets a new one', async () => {
    const { host, s } = session(['[[sleep 50]]', '{{a}}', '{{b}}']);
    const run = s.ask('q', [img]);
    await new Promise((r) => setTimeout(r, 10));
    s.retireKernel();
    assert.equal(host.kernels[0].state === 'disposed', false, 'not under the running cell');
    await run;
    assert.equal(host.kernels[0].state, 'disposed');
    await s.ask('q2', []);
    assert.equal(host.kernels.length, 2);
  });
});

describe('ConversationSession: an eval sample opened in chat', () => {
  for (const variant of ['with its messages', 'stored without messages (an older record)'] as const) {
    it(`${variant}: Retry and a follow-up send the earlier messages to the model`, async () => {
      const sample = await evalSample();
      const original = structuredClone(sample.messages);
      if (variant !== 'with its messages') sample.messages = [];
      const model = new ScriptedModel(['{{retried}}', '{{follow-up}}']);
      const host = new FakeHost(model);
      const s = new ConversationSession(host);
      const conv = newConversation('How many?');
      conv.exchanges = [sample];
      s.load(conv);

      const retried = await s.retry();
      assert.equal(retried?.answer, 'retried');
      // the answered last turn is redone: the model sees the question, the code and its output
      assert.deepEqual(model.requests[0].messages, original.slice(0, -1));
      assert.deepEqual(host.kernels[0].executed, ['print 3'], "the sample's code rebuilt the fresh kernel");

      const follow = await s.ask('And twice that?', []);
      assert.equal(follow?.answer, 'follow-up');
      const sent = model.requests[1].messages;
      assert.deepEqual(sent.slice(0, retried!.messages.length), retried!.messages, 'the follow-up carries the retried exchange');
      assert.ok(sent.some((m) => m.role === 'user' && m.content === 'How many?'));
      assert.deepEqual(sent.at(-1), { role: 'user', content: 'And twice that?' });
      assert.equal(sent.filter((m) => m.role === 'system').length, 1);
    });
  }
});
