/**
 * ServeSession's poll loop sleeps on its one long-lived `stopping` signal: each poll must take its
 * abort listener back (issue #26: one left per poll passed Node's 10 after 11 polls, and grew).
 */
import { strict as assert } from 'node:assert';
import { getEventListeners } from 'node:events';
import type { JobBackend, JobInfo } from '../../../src/core/jobs/types';
import { ServeSession } from '../../../src/core/serve/ServeSession';

describe('ServeSession.watch: no abort listener left per poll', () => {
  it('40 polls: no MaxListenersExceededWarning, the stopping signal ends with no listener', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      let polls = 0;
      const backend = {
        status: async (id: string): Promise<JobInfo> =>
          ++polls < 40 ? { id, status: 'RUNNING', rawStatus: 'RUNNING' } : { id, status: 'SUCCEEDED', rawStatus: 'COMPLETED' },
      } as unknown as JobBackend;
      const s = new ServeSession({ backend, clusterName: 'c', role: 'policy', servedModelName: 'm', pollMs: 1 });
      s.jobId = '1';
      const state = await s.watch();
      await new Promise((r) => setImmediate(r)); // process 'warning' is emitted on a later tick
      assert.equal(polls, 40);
      assert.equal(state.phase, 'ended');
      const stopping = (s as unknown as { stopping: AbortController }).stopping.signal;
      assert.equal(getEventListeners(stopping, 'abort').length, 0);
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });
});
