import { strict as assert } from 'node:assert';
import type { AgentEvent } from '../../../src/core/trajectory/events';
import { runAgent, runAgentToEnd } from '../../../src/core/agent/runAgent';
import { FakeKernel, ScriptedModel, tagFormat } from './fakes';

const img = new Uint8Array([1, 2, 3]);

async function collect(it: AsyncIterable<AgentEvent>): Promise<AgentEvent[]> {
  const out: AgentEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('runAgent (the loop)', () => {
  it('runs code, feeds the observation back, and stops at the answer', async () => {
    const model = new ScriptedModel([
      'let me look [[print 42]]',
      (req) => `the code said {{${String((req.messages.at(-1) as { content: string }).content).replace('OUT ', '')}}}`,
    ]);
    const kernel = new FakeKernel();
    const events = await collect(runAgent('q?', [img], { model, modelName: 'm', protocol: tagFormat, kernel }));
    const done = events.at(-1);
    assert.equal(done?.type, 'done');
    if (done?.type !== 'done') return;
    const t = done.trajectory;
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, '42', 'the answer comes from what the code printed');
    assert.deepEqual(kernel.executed, ['print 42']);
    assert.equal(t.turns.length, 2);
    assert.equal(t.turns[0].cells[0].stdout, '42\n');
    assert.deepEqual(
      t.messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant'],
    );
    assert.equal(t.usage.totalTokens, 30);
    const types = events.map((e) => e.type);
    for (const ty of [
      'start',
      'turn_start',
      'delta',
      'turn_end',
      'tool_call',
      'exec_start',
      'exec_output',
      'exec_end',
      'observation',
      'answer',
      'done',
    ])
      assert.ok(types.includes(ty as AgentEvent['type']), ty);
    assert.equal(
      events
        .filter((e) => e.type === 'delta')
        .map((e) => (e as { text: string }).text)
        .join(''),
      t.turns.map((x) => x.content).join(''),
    );
  });

  it('re-sends the identical request when a reply has neither code nor answer (not appended)', async () => {
    const model = new ScriptedModel(['hmm', 'ok {{yes}}']);
    const t = await runAgentToEnd('q', [img], { model, modelName: 'm', protocol: tagFormat, kernel: new FakeKernel() });
    assert.equal(t.status, 'answered');
    assert.deepEqual(model.requests[0].messages, model.requests[1].messages);
    assert.equal(t.turns[0].discarded, true);
    assert.equal(t.messages.filter((m) => m.role === 'assistant').length, 1);
  });

  it('stops after maxTurns model calls without an answer', async () => {
    const model = new ScriptedModel(['[[print 1]]', '[[print 2]]', '[[print 3]]']);
    const t = await runAgentToEnd('q', [img], { model, modelName: 'm', protocol: tagFormat, kernel: new FakeKernel(), maxTurns: 3 });
    assert.equal(t.status, 'max_turns');
    assert.equal(model.requests.length, 3);
    assert.equal(t.answer, undefined);
  });

  it('runs the code of a reply that also answers, then ends', async () => {
    const kernel = new FakeKernel();
    const t = await runAgentToEnd('q', [img], {
      model: new ScriptedModel(['[[print x]] {{done}}']),
      modelName: 'm',
      protocol: tagFormat,
      kernel,
    });
    assert.equal(t.status, 'answered');
    assert.deepEqual(kernel.executed, ['print x']);
  });

  it('turns an execution error into an observation and goes on', async () => {
    const model = new ScriptedModel(['[[fail boom]]', (req) => `{{${String((req.messages.at(-1) as { content: string }).content)}}}`]);
    const t = await runAgentToEnd('q', [img], { model, modelName: 'm', protocol: tagFormat, kernel: new FakeKernel() });
    assert.equal(t.answer, 'ERR ValueError: boom');
    assert.equal(t.turns[0].cells[0].status, 'error');
  });

  it('asks for approval: skip is reported to the model, edit runs the edited code', async () => {
    const kernel = new FakeKernel();
    const decisions = [{ action: 'skip' as const }, { action: 'edit' as const, code: 'print edited' }];
    const model = new ScriptedModel([
      '[[print a]]',
      '[[print b]]',
      (req) => `{{${String((req.messages.at(-1) as { content: string }).content)}}}`,
    ]);
    const t = await runAgentToEnd('q', [img], {
      model,
      modelName: 'm',
      protocol: tagFormat,
      kernel,
      approve: async () => decisions.shift()!,
    });
    assert.deepEqual(kernel.executed, ['print edited']);
    assert.equal(t.turns[0].cells[0].status, 'skipped');
    assert.equal(t.turns[1].cells[0].originalCode, 'print b');
    assert.equal(t.answer, 'OUT edited');
  });

  it('cancels a running cell and the run through the AbortSignal', async () => {
    const ctrl = new AbortController();
    const kernel = new FakeKernel();
    const events: AgentEvent[] = [];
    const t0 = Date.now();
    for await (const e of runAgent('q', [img], {
      model: new ScriptedModel(['[[sleep 5000]]', '{{never}}']),
      modelName: 'm',
      protocol: tagFormat,
      kernel,
      signal: ctrl.signal,
    })) {
      events.push(e);
      if (e.type === 'exec_start') setTimeout(() => ctrl.abort(), 20);
    }
    assert.ok(Date.now() - t0 < 2000, 'cancel is prompt');
    const done = events.at(-1);
    assert.ok(done?.type === 'done' && done.trajectory.status === 'cancelled');
  });

  it('leaving the for-await early aborts the model stream', async () => {
    const model = new ScriptedModel(['a long reply that streams slowly {{x}}'], 20);
    let n = 0;
    for await (const e of runAgent('q', [img], { model, modelName: 'm', protocol: tagFormat, kernel: new FakeKernel() })) {
      if (e.type === 'delta' && ++n === 2) break;
    }
    assert.equal(n, 2);
    await new Promise((r) => setTimeout(r, 60));
    assert.ok(model.sawAbort, 'the model request saw the abort');
  });

  it('a model failure ends the run with status error and a fatal error event', async () => {
    const events = await collect(
      runAgent('q', [img], {
        model: new ScriptedModel([new Error('endpoint down')]),
        modelName: 'm',
        protocol: tagFormat,
        kernel: new FakeKernel(),
      }),
    );
    const err = events.find((e) => e.type === 'error');
    assert.ok(err && err.type === 'error' && err.fatal && /endpoint down/.test(err.error.message));
    const done = events.at(-1);
    assert.ok(done?.type === 'done' && done.trajectory.status === 'error');
  });
});

describe('runAgent: conversations, Retry and Edit & re-run (fork)', () => {
  const lastContent = (req: { messages: unknown[] }) => String((req.messages.at(-1) as { content: string }).content);

  it('asks a follow-up after the history without repeating the system message', async () => {
    const kernel = new FakeKernel();
    const first = await runAgentToEnd('q1', [img], {
      model: new ScriptedModel(['[[print 1]]', '{{one}}']),
      modelName: 'm',
      protocol: tagFormat,
      kernel,
    });
    const model = new ScriptedModel(['{{two}}']);
    const second = await runAgentToEnd('q2', [], { model, modelName: 'm', protocol: tagFormat, kernel, history: first.messages });
    assert.equal(second.answer, 'two');
    const sent = model.requests[0].messages;
    assert.deepEqual(sent.slice(0, first.messages.length), first.messages);
    assert.deepEqual(sent.slice(first.messages.length), [{ role: 'user', content: 'q2' }]);
    assert.equal(sent.filter((m) => m.role === 'system').length, 1);
    assert.equal(second.question, 'q2');
  });

  it('replays code quietly in the kernel before the loop', async () => {
    const kernel = new FakeKernel();
    const events = await collect(
      runAgent('q', [img], {
        model: new ScriptedModel(['{{a}}']),
        modelName: 'm',
        protocol: tagFormat,
        kernel,
        replay: [{ code: ['print x', 'print y'] }],
      }),
    );
    assert.deepEqual(kernel.executed, ['print x', 'print y']);
    assert.equal(events.filter((e) => e.type === 'exec_start').length, 0, 'replay makes no cell events');
  });

  it('Retry: redoes the last model call, keeping earlier turns and their messages', async () => {
    const kernel = new FakeKernel();
    const first = await runAgentToEnd('q', [img], {
      model: new ScriptedModel(['[[print 7]]', new Error('endpoint down')]),
      modelName: 'm',
      protocol: tagFormat,
      kernel,
    });
    assert.equal(first.status, 'error');
    assert.equal(first.turns.length, 1);
    const model = new ScriptedModel([(req) => `{{${lastContent(req)}}}`]);
    const events = await collect(
      runAgent('ignored', [], {
        model,
        modelName: 'm',
        protocol: tagFormat,
        kernel,
        resume: { from: first, turn: first.turns.length, replayKernel: false },
      }),
    );
    const done = events.at(-1);
    assert.ok(done?.type === 'done');
    if (done?.type !== 'done') return;
    assert.equal(done.trajectory.status, 'answered');
    assert.equal(done.trajectory.answer, 'OUT 7');
    assert.equal(done.trajectory.question, 'q');
    assert.equal(done.trajectory.turns.length, 2);
    assert.deepEqual(model.requests[0].messages, first.messages, 'the retried call sees the same messages');
    assert.deepEqual(kernel.executed, ['print 7'], 'replayKernel: false keeps the kernel as it is');
    // the kept turn is in the stream, so a UI can rebuild the run from events alone
    assert.ok(events.some((e) => e.type === 'exec_end' && e.cellId === 't0-c0' && e.cell.stdout === '7\n'));
  });

  it('Retry of an answered last turn cuts the messages before its reply', async () => {
    const first = await runAgentToEnd('q', [img], {
      model: new ScriptedModel(['[[print 7]]', '{{seven}}']),
      modelName: 'm',
      protocol: tagFormat,
      kernel: new FakeKernel(),
    });
    const model = new ScriptedModel(['{{again}}']);
    const t = await runAgentToEnd('q', [], {
      model,
      modelName: 'm',
      protocol: tagFormat,
      kernel: new FakeKernel(),
      resume: { from: first, turn: 1 },
    });
    assert.equal(t.answer, 'again');
    assert.deepEqual(model.requests[0].messages, first.messages.slice(0, -1));
  });

  it('Edit & re-run: keeps the reply, runs the edited cell in a replayed kernel, the model continues', async () => {
    const k1 = new FakeKernel();
    const first = await runAgentToEnd('q', [img], {
      model: new ScriptedModel(['[[print a]]', '[[print b]]', (req) => `{{${lastContent(req)}}}`]),
      modelName: 'm',
      protocol: tagFormat,
      kernel: k1,
    });
    assert.equal(first.answer, 'OUT b');
    const k2 = new FakeKernel();
    const model = new ScriptedModel([(req) => `{{${lastContent(req)}}}`]);
    const events = await collect(
      runAgent('q', [], {
        model,
        modelName: 'm',
        protocol: tagFormat,
        kernel: k2,
        resume: { from: first, turn: 1, edits: { 't1-c0': 'print B!' } },
      }),
    );
    const done = events.at(-1);
    assert.ok(done?.type === 'done');
    if (done?.type !== 'done') return;
    const t = done.trajectory;
    assert.deepEqual(k2.executed, ['print a', 'print B!'], 'turn 0 replayed, then the edited cell');
    assert.equal(t.answer, 'OUT B!');
    assert.equal(t.turns[1].cells[0].code, 'print B!');
    assert.equal(t.turns[1].cells[0].originalCode, 'print b');
    assert.equal(t.turns.length, 3);
    assert.equal(model.requests.length, 1, 'no new call for the edited turn');
    assert.deepEqual(model.requests[0].messages.slice(0, 5), first.messages.slice(0, 5), 'history up to the edited reply is kept');
    assert.equal(lastContent(model.requests[0]), 'OUT B!');
    assert.notEqual(t.id, first.id);
    assert.equal(first.turns[1].cells[0].code, 'print b', 'the original run is not changed');
  });

  it('Edit & re-run of a turn that answered ends without a model call', async () => {
    const first = await runAgentToEnd('q', [img], {
      model: new ScriptedModel(['[[print x]] {{done}}']),
      modelName: 'm',
      protocol: tagFormat,
      kernel: new FakeKernel(),
    });
    const kernel = new FakeKernel();
    const model = new ScriptedModel([]);
    const t = await runAgentToEnd('q', [], {
      model,
      modelName: 'm',
      protocol: tagFormat,
      kernel,
      resume: { from: first, turn: 0, edits: { 't0-c0': 'print y' } },
    });
    assert.equal(t.status, 'answered');
    assert.deepEqual(kernel.executed, ['print y']);
    assert.equal(model.requests.length, 0);
  });
});

describe('runAgent: approvals and the kernel rebuild as events', () => {
  it('an approval request follows its tool_call on the same stream (no side channel to race it)', async () => {
    const events: AgentEvent[] = [];
    const approve = async () => ({ action: 'run' as const });
    for await (const e of runAgent('q', [img], {
      model: new ScriptedModel(['[[print 1]] {{one}}']),
      modelName: 'm',
      protocol: tagFormat,
      kernel: new FakeKernel(),
      approve,
    }))
      events.push(e);
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(types.indexOf('tool_call'), types.indexOf('tool_call') + 4), [
      'tool_call',
      'approval_request',
      'approval',
      'exec_start',
    ]);
  });

  it('a declined rebuild runs none of the earlier code but still binds the images', async () => {
    const kernel = new FakeKernel();
    const events = await collect(
      runAgent('q', [], {
        model: new ScriptedModel(['{{a}}']),
        modelName: 'm',
        protocol: tagFormat,
        kernel,
        replay: [{ inputImages: [img], code: ['print x'] }, { code: ['print y'] }],
        approveRestore: async ({ code }) => (assert.deepEqual(code, ['print x', 'print y']), false),
      }),
    );
    assert.deepEqual(kernel.executed, []);
    assert.deepEqual(kernel.bound, [1]);
    assert.deepEqual(
      events.filter((e) => e.type === 'restore_request' || e.type === 'restore').map((e) => e.type),
      ['restore_request', 'restore'],
    );
    assert.ok(events.some((e) => e.type === 'restore' && !e.restored && e.cells === 2));
  });
});
