/**
 * The editor's secret store feeds redaction: every value read from or stored in VS Code's
 * SecretStorage (API and judge keys, Jupyter tokens, cluster tokens and passphrases, job
 * secrets such as `MYAPP_AUTH`, whatever their names) joins the process's secrets
 * (core/secrets), so that no cell output, log line or error of this window shows it. Only the
 * SecretStorage interface is used, so this runs in plain Node (unit-tested with a map).
 */
import type * as vscode from 'vscode';
import { processSecrets, type SecretSet } from '../core/secrets';

/** `storage`, with every value that passes through it added to `secrets`. */
export function redactingSecretStorage(storage: vscode.SecretStorage, secrets: SecretSet = processSecrets): vscode.SecretStorage {
  return {
    get: async (key) => {
      const value = await storage.get(key);
      secrets.add(value);
      return value;
    },
    store: (key, value) => {
      secrets.add(value);
      return storage.store(key, value);
    },
    delete: (key) => storage.delete(key),
    onDidChange: storage.onDidChange,
  };
}

/**
 * The extension's context with `secrets` wrapped (redactingSecretStorage); everything else is
 * the context itself. Activation hands this one to every part, so no part reads a secret
 * redaction does not know.
 */
export function withRedactingSecrets(context: vscode.ExtensionContext, secrets: SecretSet = processSecrets): vscode.ExtensionContext {
  const storage = redactingSecretStorage(context.secrets, secrets);
  return Object.create(context, { secrets: { value: storage, enumerable: true } }) as vscode.ExtensionContext;
}
