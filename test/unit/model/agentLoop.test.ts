/**
 * The whole loop on real wire traffic: runAgent + each protocol + ModelClient + the fixture
 * server, with code executed by python3 (a fresh process per cell standing in for the kernel).
 */
import { strict as assert } from 'node:assert';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import { ModelClient } from '../../../src/core/model';
import { getProtocol, protocolIds, templateHash } from '../../../src/core/protocol';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';
import { pythonAvailable, SubprocessKernel } from './pythonRunner';

describe('agent loop end to end (fixture model, python3)', function () {
  this.timeout(30_000);
  let fm: FixtureModel;
  const img = circlesImage({ red: 4, blue: 2, seed: 21 });
  before(function () {
    if (!pythonAvailable()) this.skip();
  });
  beforeEach(async () => (fm = await startFixtureModel()));
  afterEach(async () => fm.close());

  const run = async (protocolId: string, question = circlesQuestion('red'), maxTurns?: number) => {
    const protocol = getProtocol(protocolId);
    const model = new ModelClient({ endpoints: fm.baseUrl, retry: { baseDelayMs: 1, maxDelayMs: 2 } });
    const kernel = new SubprocessKernel();
    const t = await runAgentToEnd(question, [img.png], {
      model,
      modelName: await model.resolveModel(),
      protocol,
      kernel,
      maxTurns,
      protocolTemplateHash: templateHash(protocol),
    });
    return { t, kernel };
  };

  // the formats whose tool is Python (deepeyes' is a crop: test/unit/protocol/deepeyes.test.ts, test/integration/cli/deepeyes.test.ts);
  // pyvision's code needs its own names (image_clue_0) and its answer is the whole last reply: test/unit/protocol/pyvisionLoop.test.ts;
  // thyme's code runs in its sandbox (a kernel tool) and its requests are planned: test/unit/protocol/thyme*.test.ts
  for (const id of protocolIds.filter((x) => !['deepeyes', 'pyvision', 'thyme'].includes(x))) {
    it(`${id}: measures, reads its observation, answers right`, async () => {
      const { t, kernel } = await run(id);
      assert.equal(t.status, 'answered');
      assert.equal(t.answer, String(img.truth.counts.red));
      assert.equal(kernel.cells.length, 1);
      assert.match(t.turns[0].cells[0].stdout, /red_count = 4/);
      assert.equal(fm.chatRequests.length, 2);
      assert.ok(t.usage.totalTokens > 0);
      // the second request carried the observation in the format's shape
      const roles = (fm.chatRequests[1].body!.messages as { role: string }[]).map((m) => m.role);
      assert.deepEqual(roles, id === 'codedance' ? ['system', 'user', 'assistant', 'user'] : ['system', 'user', 'assistant', 'tool']);
    });
  }

  it('codedance: a reply with neither code nor answer is dropped and the same request sent again', async () => {
    fm.setFaults(['empty']);
    const { t } = await run('codedance');
    assert.equal(t.answer, '4');
    assert.equal(t.turns[0].discarded, true);
    assert.deepEqual(fm.chatRequests[0].body!.messages, fm.chatRequests[1].body!.messages);
  });

  it('retries (500, a cut stream) are invisible to the result', async () => {
    fm.setFaults(['http', { kind: 'cut', afterChunks: 4 }]);
    const { t } = await run('codedance');
    assert.equal(t.answer, '4');
    assert.equal(t.turns[0].retries, 2);
  });

  it('codedance-tools: a malformed tool call becomes an error observation, and the honest model then does not know', async () => {
    fm.setFaults(['malformed-tool-json']);
    const { t, kernel } = await run('codedance-tools');
    assert.equal(kernel.cells.length, 0);
    assert.equal(t.turns[0].malformed.length, 1);
    assert.match(t.turns[0].malformed[0].message, /not valid JSON/);
    assert.equal(t.answer, 'unknown');
  });

  it('openai-tools: failing code gives an error observation; the model reports the error type it read', async () => {
    const { t } = await run('openai-tools', 'Run this code:\n```python\nprint(1/0)\n```');
    assert.equal(t.turns[0].cells[0].status, 'error');
    assert.equal(t.answer, 'error: ZeroDivisionError');
  });
});
