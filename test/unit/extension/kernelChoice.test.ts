/**
 * The kernel picker's memory (src/extension/kernel/store.ts): the choice per workspace, the
 * servers added (URLs only, normalized), tokens in the secret store and nowhere else.
 */
import { strict as assert } from 'node:assert';
import { describeChoice, KernelChoiceStore, SERVERS_KEY, tokenKey } from '../../../src/extension/kernel/store';

class Memento {
  readonly data = new Map<string, unknown>();
  get<T>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.data.set(key, value);
  }
}
class Secrets {
  readonly data = new Map<string, string>();
  async get(k: string) {
    return this.data.get(k);
  }
  async store(k: string, v: string) {
    this.data.set(k, v);
  }
  async delete(k: string) {
    this.data.delete(k);
  }
}

describe('kernel picker store (per-workspace choice, servers, tokens)', () => {
  let ws: Memento, global: Memento, secrets: Secrets, store: KernelChoiceStore;
  beforeEach(() => {
    ws = new Memento();
    global = new Memento();
    secrets = new Secrets();
    store = new KernelChoiceStore(ws, global, secrets);
  });

  it('is local until a server is chosen; the choice lives in the workspace state', async () => {
    assert.deepEqual(store.choice, { kind: 'local' });
    const url = await store.addServer('http://gpu-box:8888', 's3cret-token');
    assert.equal(url, 'http://gpu-box:8888/');
    const seen: unknown[] = [];
    store.onDidChange((c) => seen.push(c));
    await store.choose({ kind: 'remote', url: 'http://gpu-box:8888//', kernelName: 'py311' });
    assert.deepEqual(store.choice, { kind: 'remote', url: 'http://gpu-box:8888/', kernelName: 'py311' });
    assert.deepEqual(seen, [store.choice]);
    // another workspace (its own workspace state) is still local
    assert.deepEqual(new KernelChoiceStore(new Memento(), global, secrets).choice, { kind: 'local' });
    assert.equal(describeChoice(store.choice), 'py311 on http://gpu-box:8888/');
  });

  it('tokens go to the secret store only; a token in the URL is not kept in the server list', async () => {
    await store.addServer('http://h:8888/?token=abc123xyz', 'abc123xyz');
    assert.deepEqual(global.get(SERVERS_KEY), ['http://h:8888/']);
    assert.equal(await store.token('http://h:8888'), 'abc123xyz');
    assert.equal(secrets.data.get(tokenKey('http://h:8888/')), 'abc123xyz');
    assert.ok(![...ws.data.values(), ...global.data.values()].some((v) => JSON.stringify(v).includes('abc123xyz')));
  });

  it('removing the chosen server forgets its token and falls back to local', async () => {
    await store.addServer('http://h:8888/', 'tok-123456');
    await store.choose({ kind: 'remote', url: 'http://h:8888/' });
    await store.removeServer('http://h:8888');
    assert.deepEqual(store.choice, { kind: 'local' });
    assert.deepEqual(store.servers(), []);
    assert.equal(await store.token('http://h:8888/'), undefined);
  });

  it('a choice naming a server no longer in the list reads as local', async () => {
    await ws.update('codedance.kernel.choice', { kind: 'remote', url: 'http://gone:1/' });
    assert.deepEqual(store.choice, { kind: 'local' });
  });

  it('remembers an interpreter picked for this workspace and a notebook kernel; a malformed state reads as local', async () => {
    await store.choose({ kind: 'local', python: '/work/venv/bin/python' });
    assert.deepEqual(store.choice, { kind: 'local', python: '/work/venv/bin/python' });
    assert.equal(describeChoice(store.choice), 'local: /work/venv/bin/python');
    await store.choose({ kind: 'notebook', uri: 'file:///work/analysis.ipynb', name: 'analysis.ipynb' });
    assert.deepEqual(store.choice, { kind: 'notebook', uri: 'file:///work/analysis.ipynb', name: 'analysis.ipynb' });
    assert.equal(describeChoice(store.choice), 'the kernel of analysis.ipynb');
    await ws.update('codedance.kernel.choice', { kind: 'notebook', uri: 42 });
    assert.deepEqual(store.choice, { kind: 'local' });
    await ws.update('codedance.kernel.choice', { kind: 'local', python: '' });
    assert.deepEqual(store.choice, { kind: 'local' });
  });
});
