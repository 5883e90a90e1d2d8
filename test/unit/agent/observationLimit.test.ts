/**
 * AgentOptions.maxObservationTokens reaches the format: a long cell output is sent to the model
 * cut (with the marker) to the limit given, to the default 4096 when none is, and whole when
 * the limit is 0. The trajectory's cell keeps the whole output either way.
 */
import { strict as assert } from 'node:assert';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import { getProtocol } from '../../../src/core/protocol';
import { estimateTokens } from '../../../src/core/protocol/results';
import type { ChatMessage } from '../../../src/core/protocol/types';
import { ConversationSession } from '../../../src/core/conversation/ConversationSession';
import { FakeHost } from '../conversation/fakeHost';
import { FakeKernel, ScriptedModel } from './fakes';

const LONG = `HEAD${'0123456789'.repeat(20_000)}TAIL`; // 200 004 characters, ~67k estimated tokens
const LONG_REPLY = `<code>\n\`\`\`python\nprint ${LONG}\n\`\`\`\n</code>`;
const MARKER = /\[… \d+ characters \(about \d+ tokens\) cut here: an observation is limited to about (\d+) tokens\. Print less/;

function textOf(m: ChatMessage): string {
  return typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');
}

/** The text of the observation the model was sent on its second call. */
async function observationSent(maxObservationTokens: number | undefined): Promise<{ text: string; cellStdout: string }> {
  const model = new ScriptedModel([LONG_REPLY, '<answer>done</answer>']);
  const t = await runAgentToEnd('q', [], {
    model,
    modelName: 'm',
    protocol: getProtocol('codedance'),
    kernel: new FakeKernel(),
    maxObservationTokens,
  });
  assert.equal(t.status, 'answered');
  assert.equal(model.requests.length, 2);
  const obs = model.requests[1].messages.at(-1)!;
  assert.equal(obs.role, 'user');
  return { text: textOf(obs), cellStdout: t.turns[0].cells[0].stdout };
}

describe('runAgent: the limit on an observation (maxObservationTokens)', () => {
  it('a set limit: the long output reaches the model cut to it, head and tail kept, with the marker', async () => {
    const { text, cellStdout } = await observationSent(500);
    assert.equal(MARKER.exec(text)?.[1], '500');
    assert.ok(estimateTokens(text) <= 500 + 100, `${estimateTokens(text)} tokens`);
    assert.match(text, /HEAD/);
    assert.match(text, /TAIL/);
    assert.equal(cellStdout, `${LONG}\n`, 'the trajectory keeps the whole output');
  });

  it('no limit given: the default 4096', async () => {
    const { text } = await observationSent(undefined);
    assert.equal(MARKER.exec(text)?.[1], '4096');
  });

  it('the chat passes its run config on: a conversation run is capped to the configured limit', async () => {
    const model = new ScriptedModel([LONG_REPLY, '<answer>done</answer>']);
    const host = new FakeHost(model);
    host.config = { protocol: getProtocol('codedance'), maxObservationTokens: 300 };
    const t = await new ConversationSession(host).ask('q', [], 'run-1');
    assert.equal(t?.status, 'answered');
    assert.equal(MARKER.exec(textOf(model.requests[1].messages.at(-1)!))?.[1], '300');
  });

  it('0: no limit, the whole output reaches the model', async () => {
    const { text } = await observationSent(0);
    assert.doesNotMatch(text, /cut here/);
    assert.ok(text.includes(LONG), 'the whole output is in the observation');
  });
});
