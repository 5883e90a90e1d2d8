// `codedance serve start` whose server cannot be used stops the job; when that stop fails too,
// the user is told the job may still hold its GPUs (issue #22: the failure used to be dropped).
import { strict as assert } from 'node:assert';
import { runServe } from '../../../src/cli/serve';
import { ServeError, ServeSession } from '../../../src/core/serve';

describe('cli serve: a failed stop after a failed start is reported', () => {
  const proto = ServeSession.prototype as unknown as Record<string, unknown>;
  const saved: Record<string, unknown> = {};
  const write = process.stderr.write;
  let stderr = '';

  beforeEach(() => {
    for (const k of ['submit', 'waitReady', 'stop']) saved[k] = proto[k];
    proto.submit = async function (this: { jobId?: string }) {
      this.jobId = 'raysubmit_42';
      return this.jobId;
    };
    proto.waitReady = async () => {
      throw new ServeError('connection', 'job raysubmit_42 has run 600 s but no replica announced its node and port', 'no-address');
    };
    proto.stop = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:8265');
    };
    stderr = '';
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    }) as typeof process.stderr.write;
  });
  afterEach(() => {
    process.stderr.write = write;
    Object.assign(proto, saved);
  });

  it('says the job may still be running and how to stop it, and still fails with the start error', async () => {
    await assert.rejects(
      runServe(['start', '--ray', 'http://127.0.0.1:9', '--model', '/ckpt/m']),
      /no replica announced its node and port/,
    );
    assert.match(stderr, /codedance: stopping job raysubmit_42 \(it cannot be used\)/);
    assert.match(
      stderr,
      /job raysubmit_42 may still be running \(stopping it failed: connect ECONNREFUSED 127\.0\.0\.1:8265\); stop it with 'codedance serve stop raysubmit_42'/,
    );
  });
});
