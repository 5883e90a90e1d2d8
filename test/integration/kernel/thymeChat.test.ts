/**
 * Thyme in the loop the chat panel drives (runAgent with a kernel session, approvals, events)
 * against the fixture model: each block asks approval like any cell, runs through Thyme's sandbox
 * rules in the real kernel (the wrong image path and the too-small box the fixture writes are
 * repaired there), its result continues the same assistant message, and the answer depends on what
 * the code saved or printed.
 */
import { strict as assert } from 'node:assert';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import { ModelClient } from '../../../src/core/model';
import { createThymeProtocol } from '../../../src/core/protocol/thyme';
import type { AgentEvent } from '../../../src/core/trajectory/events';
import { startFixtureModel } from '../../fixtures/fixtureModel';
import { smallObjectImage } from '../../fixtures/images';
import { disposeAll, newSession } from './helpers';

const thyme = createThymeProtocol();

describe('thyme in the loop the chat drives (runAgent, real kernel, fixture model)', function () {
  this.timeout(120_000);
  afterEach(disposeAll);

  async function ask(question: (x: number, y: number, side: number) => string, color: 'green' | 'blue') {
    const fm = await startFixtureModel();
    try {
      const kernel = await newSession();
      const model = new ModelClient({ endpoints: fm.baseUrl });
      const sq = smallObjectImage({ color, seed: 5, width: 560, height: 420 });
      const { x, y, side } = sq.truth;
      const events: AgentEvent[] = [];
      const approved: string[] = [];
      const t = await runAgentToEnd(
        question(x, y, side),
        [sq.png],
        {
          model,
          modelName: await model.resolveModel(),
          protocol: thyme,
          kernel,
          approve: async ({ cell }) => (approved.push(cell.id), { action: 'run' }),
        },
        (e) => events.push(e),
      );
      return { t, events, approved, requests: fm.chatRequests.map((r) => r.body!) };
    } finally {
      await fm.close();
    }
  }

  it('asks approval for the block, streams its events, continues the message with the sandbox output, answers from the crop', async () => {
    const { t, events, approved, requests } = await ask(
      (x, y, side) => `What color is the small square? It is inside [${x - 2}, ${y - 2}, ${x + side + 2}, ${y + side + 2}].`,
      'green',
    );
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, 'green');
    assert.deepEqual(approved, ['t0-c0']);
    assert.equal(t.turns[0].cells[0].status, 'ok');
    const kinds = new Set(events.map((e) => e.type));
    for (const k of ['start', 'delta', 'approval_request', 'exec_start', 'exec_end', 'observation', 'answer', 'done'])
      assert.ok(kinds.has(k as AgentEvent['type']), k);
    // the second call continues the assistant message that holds the block and its <sandbox_output>
    assert.equal(requests.length, 2);
    assert.equal(requests[1].continue_final_message, true);
    const last = (requests[1].messages as { role: string; content: unknown }[]).at(-1)!;
    assert.equal(last.role, 'assistant');
    assert.match(JSON.stringify(last.content), /<sandbox_output>/);
  });

  it('the answer follows what the code printed: a box beside the square finds none', async () => {
    const { t } = await ask(
      (x) => `What color is the small square? It is inside [${x > 400 ? 20 : 700}, 20, ${x > 400 ? 40 : 720}, 40]. Measure it.`,
      'blue',
    );
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, 'no square');
    assert.match(t.turns[0].cells[0].stdout, /saturated pixels: 0\b/);
  });
});
