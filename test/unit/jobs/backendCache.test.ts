import * as assert from 'node:assert/strict';
import { BackendCache } from '../../../src/core/jobs/backendCache';
import type { ClusterProfile, JobBackend, JobSecrets } from '../../../src/core/jobs/types';

/** A backend that only remembers what it was made with and whether it was disposed. */
function fakeFactory() {
  const made: { profile: ClusterProfile; secrets: JobSecrets; disposed: boolean }[] = [];
  const create = (profile: ClusterProfile, secrets: JobSecrets): JobBackend => {
    const rec = { profile, secrets, disposed: false };
    made.push(rec);
    return { kind: profile.kind, dispose: async () => void (rec.disposed = true) } as unknown as JobBackend;
  };
  return { made, create };
}

describe('jobs: the backend cache', () => {
  const ray: ClusterProfile = { name: 'lab', kind: 'ray', address: 'http://127.0.0.1:8265' };

  it('reuses a backend while profile and secrets stay the same', () => {
    const f = fakeFactory();
    const cache = new BackendCache(f.create);
    const a = cache.get(ray, { token: 'tok-aaaa-1111' });
    assert.equal(cache.get({ ...ray }, { token: 'tok-aaaa-1111' }), a);
    assert.equal(f.made.length, 1);
  });

  it('a corrected secret of the SAME length makes a new backend (and disposes the old one)', () => {
    const f = fakeFactory();
    const cache = new BackendCache(f.create);
    const wrong = cache.get(ray, { token: 'tok-aaaa-1111' });
    const right = cache.get(ray, { token: 'tok-bbbb-2222' });
    assert.notEqual(right, wrong);
    assert.deepEqual(
      f.made.map((m) => [m.secrets.token, m.disposed]),
      [
        ['tok-aaaa-1111', true],
        ['tok-bbbb-2222', false],
      ],
    );
    const slurm: ClusterProfile = { name: 'hpc', kind: 'slurm', host: 'h' };
    const p1 = cache.get(slurm, { passphrase: 'pass-1' });
    assert.notEqual(cache.get(slurm, { passphrase: 'pass-2' }), p1);
    const pw = cache.get(slurm, { password: 'pw-1' });
    assert.notEqual(cache.get(slurm, { password: 'pw-2' }), pw);
    // a changed profile (another address) too
    const r = cache.get(ray, { token: 'tok-bbbb-2222' });
    assert.notEqual(cache.get({ ...ray, address: 'http://10.0.0.1:8265' }, { token: 'tok-bbbb-2222' }), r);
  });

  it('keys on a digest: no secret, and no secret length, in the key', () => {
    const cache = new BackendCache(fakeFactory().create);
    const secrets = { token: 'tok-aaaa-1111', passphrase: 'my passphrase', password: 'hunter22' };
    const key = cache.keyOf(ray, secrets);
    for (const s of Object.values(secrets)) assert.ok(!key.includes(s), `the key holds ${s}`);
    assert.ok(!/\b13\b/.test(key), 'no lengths in the key');
    assert.match(key, /"[0-9a-f]{64}"/);
    assert.notEqual(cache.keyOf(ray, { token: 'tok-aaaa-1111' }), cache.keyOf(ray, { token: 'tok-aaaa-1112' }));
    assert.notEqual(cache.keyOf(ray, { token: 'x' }), cache.keyOf(ray, { passphrase: 'x' }));
    // another cache (another process) digests differently: nothing to compare across
    assert.notEqual(new BackendCache(fakeFactory().create).keyOf(ray, secrets), key);
  });
});
