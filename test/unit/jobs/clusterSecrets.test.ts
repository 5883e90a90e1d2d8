/**
 * The editor's cluster secrets, over an in-memory SecretStorage: a secret belongs to a profile's
 * name and address, so a profile pointed elsewhere (edited, or a workspace's of the same name)
 * gets nothing until the user sets it again.
 */
import * as assert from 'node:assert/strict';
import type * as vscode from 'vscode';
import type { ClusterProfile } from '../../../src/core/jobs/types';
import { ClusterSecrets } from '../../../src/extension/jobs/clusterSecrets';

function memoryStorage(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  const storage = {
    get: async (k: string) => m.get(k),
    store: async (k: string, v: string) => void m.set(k, v),
    delete: async (k: string) => void m.delete(k),
  } as unknown as vscode.SecretStorage;
  return { m, storage };
}

describe('jobs: cluster secrets in the editor', () => {
  const lab: ClusterProfile = { name: 'lab', kind: 'ray', address: 'http://10.1.1.1:8265' };

  it('a changed address asks again: the old secret is not handed to the new server', async () => {
    const { m, storage } = memoryStorage();
    const s = new ClusterSecrets(storage);
    await s.set(lab, 'token', 'tok-lab-123456');
    assert.equal((await s.get(lab)).token, 'tok-lab-123456');
    assert.equal((await s.get({ ...lab, address: 'http://evil.example:8265' })).token, undefined);
    assert.equal((await s.get({ ...lab, address: '10.1.1.1:8265' })).token, 'tok-lab-123456', 'the same address, spelled without scheme');
    const hpc: ClusterProfile = { name: 'hpc', kind: 'slurm', host: 'login', user: 'me' };
    await s.set(hpc, 'passphrase', 'pp-1');
    assert.equal((await s.get({ ...hpc, host: 'login.evil' })).passphrase, undefined);
    assert.equal((await s.get(hpc)).passphrase, 'pp-1');
    await s.set(hpc, 'passphrase', '');
    assert.equal((await s.get(hpc)).passphrase, undefined);
    assert.ok(![...m.keys()].some((k) => k.includes('evil')));
  });

  it('a secret stored by name only (earlier versions) moves over to a user profile once, never to a workspace one', async () => {
    const ws = memoryStorage({ 'codedance.jobs.token.lab': 'legacy-tok' });
    assert.equal((await new ClusterSecrets(ws.storage).get({ ...lab, origin: 'workspace' })).token, undefined);
    assert.equal((await new ClusterSecrets(ws.storage).get(lab)).token, undefined, 'origin unknown: nothing');
    const user = memoryStorage({ 'codedance.jobs.token.lab': 'legacy-tok' });
    const s = new ClusterSecrets(user.storage);
    assert.equal((await s.get({ ...lab, origin: 'user' })).token, 'legacy-tok');
    assert.ok(!user.m.has('codedance.jobs.token.lab'), 'the name-only key is gone');
    assert.equal((await s.get({ ...lab, address: 'http://evil.example:8265', origin: 'workspace' })).token, undefined);
  });
});
