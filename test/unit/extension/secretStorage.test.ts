/**
 * src/extension/secrets.ts: every value read from or stored in SecretStorage joins redaction,
 * whatever its key (a job secret MYAPP_AUTH, a cluster token, the API key).
 */
import { strict as assert } from 'node:assert';
import type * as vscode from 'vscode';
import { SecretSet } from '../../../src/core/secrets';
import { redactingSecretStorage, withRedactingSecrets } from '../../../src/extension/secrets';

class MapStorage {
  readonly data = new Map<string, string>();
  onDidChange = (() => ({ dispose() {} })) as unknown as vscode.Event<vscode.SecretStorageChangeEvent>;
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

describe('extension secret store feeds redaction', () => {
  it('a value read or stored under any key is redacted from then on', async () => {
    const raw = new MapStorage();
    raw.data.set('codedance.jobs.env.MYAPP_AUTH', 'myapp-auth-0987');
    const set = new SecretSet();
    const storage = redactingSecretStorage(raw, set);
    assert.equal(set.redact('token myapp-auth-0987'), 'token myapp-auth-0987', 'not known before it is read');
    assert.equal(await storage.get('codedance.jobs.env.MYAPP_AUTH'), 'myapp-auth-0987');
    assert.equal(set.redact('token myapp-auth-0987'), 'token ***');
    await storage.store('codedance.jobs.env.DATABASE_URL', 'postgres://app:dbpw-4242@db/x');
    assert.equal(raw.data.get('codedance.jobs.env.DATABASE_URL'), 'postgres://app:dbpw-4242@db/x');
    assert.equal(set.redact('pw dbpw-4242'), 'pw ***');
    assert.equal(await storage.get('missing'), undefined);
  });

  it("the context handed to the extension's parts: its secrets wrapped, everything else its own", async () => {
    const raw = new MapStorage();
    raw.data.set('codedance.apiKey', 'api-key-from-store-1');
    const subscriptions: { dispose(): void }[] = [];
    const context = Object.freeze({ secrets: raw, subscriptions, extensionPath: '/ext' }) as unknown as vscode.ExtensionContext;
    const set = new SecretSet();
    const ctx = withRedactingSecrets(context, set);
    assert.equal(ctx.subscriptions, subscriptions);
    assert.equal(ctx.extensionPath, '/ext');
    assert.equal(await ctx.secrets.get('codedance.apiKey'), 'api-key-from-store-1');
    assert.equal(set.redact('api-key-from-store-1'), '***');
  });
});
