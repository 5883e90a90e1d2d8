/** A question asked with its known correct answer (a dataset row's): the answer's trajectory keeps it, and so do Retry and Edit & re-run. */
import { strict as assert } from 'node:assert';
import { ConversationSession } from '../../../src/core/conversation/ConversationSession';
import { FakeHost } from './fakeHost';
import { ScriptedModel, type Reply } from '../agent/fakes';

const img = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
const echo: Reply = (req) => `{{${String((req.messages.at(-1) as { content: string }).content)}}}`;

describe('ConversationSession: a question with a known answer', () => {
  it('keeps the reference on the exchange, through Retry and a fork; a plain follow-up has none', async () => {
    const host = new FakeHost(new ScriptedModel(['[[print 3]]', echo, '[[print 3]]', echo, echo, '[[print 4]]', echo]));
    const s = new ConversationSession(host);
    const reference = { groundTruth: '3', dataSource: 'vstar', origin: 'rl.parquet row 7' };
    const t = await s.ask('How many?', [img], 'r1', reference);
    assert.deepEqual(t?.reference, reference);
    assert.deepEqual((await s.retry('r2'))?.reference, reference, 'Retry asks the same question');
    const cell = s.conversation.exchanges[0].turns[0].cells[0];
    assert.deepEqual((await s.fork(0, cell.id, 'print(4)', 'r3'))?.reference, reference, 'a fork too');
    assert.equal((await s.ask('And now?', [], 'r4'))?.reference, undefined);
  });
});
