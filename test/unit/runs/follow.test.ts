/**
 * Following a job's log through dropped connections, over a backend whose stream (like Ray's)
 * starts at the top of the log each time: the bytes given out are the log, once each, in order.
 * (The Slurm path, which tails from the offset, runs against the real Slurm + SSH in
 * test/integration/runs.)
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { JobNotFoundError, JobsError, type JobBackend, type JobInfo, type JobStatus } from '../../../src/core/jobs';
import { followJobLog } from '../../../src/core/runs/follow';

const LOG = readFileSync(path.join(__dirname, '../../fixtures/runs/verl-console.log'), 'utf8');

interface Script {
  /** per connection: how many chunks of 97 bytes it delivers, then how it ends */
  connections: { chunks: number; end: 'drop' | 'close' }[];
  /** the job's state, per call of status() */
  statuses: JobStatus[];
}

/** A backend whose log has grown to `LOG` while the job runs; its stream restarts at the top on every connection. */
function fakeBackend(s: Script): JobBackend & { tails: number; logsCalls: number } {
  const bytes = Buffer.from(LOG, 'utf8');
  let statusCalls = 0;
  const b = {
    kind: 'ray' as const,
    tails: 0,
    logsCalls: 0,
    check: () => Promise.reject(new Error('unused')),
    submit: () => Promise.reject(new Error('unused')),
    list: () => Promise.resolve([]),
    status: (id: string): Promise<JobInfo> => {
      if (id !== 'job-1') return Promise.reject(new JobNotFoundError(id, 'the fake cluster'));
      const status = s.statuses[Math.min(statusCalls++, s.statuses.length - 1)];
      return Promise.resolve({ id, status, rawStatus: status });
    },
    logs: (id: string) => {
      b.logsCalls++;
      return id === 'job-1' ? Promise.resolve(LOG) : Promise.reject(new JobNotFoundError(id, 'the fake cluster'));
    },
    tailLogs(id: string): AsyncIterable<string> {
      if (id !== 'job-1') throw new JobNotFoundError(id, 'the fake cluster');
      const conn = s.connections[Math.min(b.tails++, s.connections.length - 1)];
      return (async function* () {
        // chunks cut at byte positions (inside UTF-8 characters too), as a socket delivers them
        const dec = new TextDecoder();
        let pos = 0;
        for (let i = 0; i < conn.chunks && pos < bytes.length; i++, pos += 97)
          yield dec.decode(bytes.subarray(pos, pos + 97), { stream: true });
        if (conn.end === 'drop') throw new JobsError('connection', 'the log stream of job-1 broke: socket hang up');
      })();
    },
    stop: () => Promise.resolve(false),
    delete: () => Promise.resolve(false),
    dispose: () => Promise.resolve(),
  };
  return b;
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('runs: following a job log', () => {
  it('reconnects after drops and gives every byte once, in order; ends with the job and its last bytes', async () => {
    const b = fakeBackend({
      connections: [
        { chunks: 20, end: 'drop' },
        { chunks: 20, end: 'close' }, // no more than before: a connection that ended at once
        { chunks: 45, end: 'drop' },
        { chunks: 70, end: 'close' }, // the job ended before the stream delivered the rest
      ],
      statuses: ['RUNNING', 'FAILED'], // asked after a stream that closed (a drop is retried at once)
    });
    const reconnects: { attempt: number; offset: number; error?: unknown }[] = [];
    const chunks = await collect(followJobLog(b, 'job-1', { retryMs: 1, onReconnect: (r) => reconnects.push(r) }));
    assert.equal(chunks.join(''), LOG);
    assert.equal(b.tails, 4);
    assert.deepEqual(
      reconnects.map((r) => [r.attempt, r.offset, r.error instanceof JobsError]),
      [
        [1, 20 * 97, true],
        [2, 20 * 97, false],
        [3, 45 * 97, true],
      ],
    );
    assert.equal(b.logsCalls, 1, 'the rest after the stream closed: read once');
  });

  it('starts after an offset (a reloaded window), never giving the bytes before it', async () => {
    const b = fakeBackend({ connections: [{ chunks: 1000, end: 'close' }], statuses: ['SUCCEEDED'] });
    const offset = Buffer.byteLength(LOG.slice(0, 1000), 'utf8');
    const got = (await collect(followJobLog(b, 'job-1', { offset }))).join('');
    assert.equal(got, Buffer.from(LOG, 'utf8').subarray(offset).toString('utf8'));
  });

  it('stops when the signal aborts, while waiting to reconnect too', async () => {
    const b = fakeBackend({ connections: [{ chunks: 3, end: 'drop' }], statuses: ['RUNNING'] });
    const ac = new AbortController();
    const chunks = await collect(followJobLog(b, 'job-1', { signal: ac.signal, retryMs: 60_000, onReconnect: () => ac.abort() }));
    assert.equal(
      chunks.join(''),
      Buffer.from(LOG, 'utf8')
        .subarray(0, 3 * 97)
        .toString('utf8'),
    );
  });

  it('throws what another try cannot mend: no such job', async () => {
    const b = fakeBackend({ connections: [{ chunks: 2, end: 'close' }], statuses: ['RUNNING'] });
    await assert.rejects(collect(followJobLog(b, 'nope', { retryMs: 1 })), (e: unknown) => e instanceof JobNotFoundError);
    assert.equal(b.tails, 0);
  });
});
