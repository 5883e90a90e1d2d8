import * as assert from 'node:assert/strict';
import { JobsError } from '../../../src/core/jobs/errors';
import { readServeRecords, withoutServeRecord, withServeRecord, type ServeRecord } from '../../../src/core/serve';

const rec = (over: Partial<ServeRecord> = {}): ServeRecord => ({
  cluster: 'hpc',
  jobId: '42',
  role: 'policy',
  servedModelName: 'codedance-7b',
  replicas: 2,
  ...over,
});

describe('serve: what a window remembers of its serve jobs (workspace state)', () => {
  it('keeps the cluster name, job id, role, model name and replicas — and nothing else (no URL, host, path or secret)', () => {
    const stored = [
      {
        ...rec(),
        baseUrls: ['http://127.0.0.1:41207/v1'],
        password: 'hunter2-secret',
        modelPath: '/scratch/ckpt',
        WANDB_API_KEY: 'wk-1234',
      },
    ];
    const [r] = readServeRecords(JSON.parse(JSON.stringify(stored)));
    assert.deepEqual(r, rec());
    assert.deepEqual(Object.keys(withServeRecord([], { ...rec(), token: 'x' } as ServeRecord)[0]).sort(), [
      'cluster',
      'jobId',
      'replicas',
      'role',
      'servedModelName',
    ]);
  });

  it('drops what is not a record (older shapes, hand edits, duplicates) instead of trusting it', () => {
    const bad = [
      null,
      'hpc/42',
      rec({ jobId: '42; scancel -u me' }),
      rec({ role: 'critic' as ServeRecord['role'] }),
      rec({ replicas: 0 }),
      rec({ replicas: 1.5 }),
      rec({ servedModelName: 'a b' }),
      rec({ cluster: '' }),
      { ...rec(), replicas: '2' },
    ];
    assert.deepEqual(readServeRecords(bad), []);
    assert.deepEqual(readServeRecords(undefined), []);
    assert.deepEqual(readServeRecords({ cluster: 'hpc' }), []);
    assert.deepEqual(
      readServeRecords([rec(), rec({ replicas: 3 }), rec({ jobId: '43', role: 'judge', servedModelName: 'judge', replicas: 1 })]).map(
        (r) => `${r.jobId}:${r.replicas}`,
      ),
      ['42:2', '43:1'],
    );
  });

  it('adds (replacing the same cluster and job) and removes', () => {
    let list = withServeRecord([], rec());
    list = withServeRecord(list, rec({ cluster: 'other' }));
    list = withServeRecord(list, rec({ replicas: 4 }));
    assert.deepEqual(
      list.map((r) => `${r.cluster}/${r.jobId}×${r.replicas}`),
      ['other/42×2', 'hpc/42×4'],
    );
    assert.deepEqual(
      withoutServeRecord(list, 'hpc', '42').map((r) => r.cluster),
      ['other'],
    );
    assert.deepEqual(withoutServeRecord(list, 'hpc', '99'), list);
    assert.throws(
      () => withServeRecord(list, rec({ jobId: '' })),
      (e: unknown) => e instanceof JobsError && /cannot remember job ""/.test(e.message),
    );
  });
});
