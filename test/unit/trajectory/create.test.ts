/** `createTrajectory`: the one constructor fills the version, a fresh id and the empty parts. */
import { strict as assert } from 'node:assert';
import { createTrajectory } from '../../../src/core/trajectory/create';
import { TRAJECTORY_VERSION } from '../../../src/core/trajectory/types';

describe('createTrajectory', () => {
  it('fills the schema version, id, time and empty run; leaves unset optional fields out', () => {
    const a = createTrajectory({ question: 'q', model: 'm', protocol: 'codedance', python: undefined });
    const b = createTrajectory({ question: 'q', model: 'm', protocol: 'codedance' });
    assert.equal(a.version, TRAJECTORY_VERSION);
    assert.match(a.id, /^[0-9a-f-]{36}$/);
    assert.notEqual(a.id, b.id);
    assert.ok(!Number.isNaN(Date.parse(a.createdAt)));
    assert.deepEqual(
      { ...a, id: '', createdAt: '' },
      {
        version: TRAJECTORY_VERSION,
        id: '',
        createdAt: '',
        question: 'q',
        inputImages: [],
        model: 'm',
        endpoints: [],
        protocol: 'codedance',
        sampling: {},
        maxTurns: 0,
        messages: [],
        turns: [],
        status: 'running',
        usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
        durationMs: 0,
      },
    );
    assert.deepEqual(JSON.parse(JSON.stringify(a)), a, 'equal to its JSON round trip');
  });

  it('keeps what the caller gives', () => {
    const t = createTrajectory({
      id: 'x',
      question: 'q',
      model: 'm',
      protocol: 'p',
      status: 'error',
      error: { name: 'E', message: 'boom' },
      durationMs: 5,
    });
    assert.equal(t.id, 'x');
    assert.equal(t.status, 'error');
    assert.deepEqual(t.error, { name: 'E', message: 'boom' });
    assert.equal(t.durationMs, 5);
  });
});
