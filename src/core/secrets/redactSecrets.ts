/**
 * The secrets of this process and the one redaction every output goes through: kernel output
 * (kernel/redactOutput.ts), model and job errors, logs. A secret known anywhere in the process
 * (an API key from the editor's secret store, a key given as a flag, a Jupyter token) is
 * redacted everywhere, so the set is one per process; a caller adds what it knows with
 * `processSecrets.add(…)`.
 */
import { secretValuesFromEnv } from './patterns';
import { SecretSet } from './SecretSet';

/**
 * Every secret value this process knows: from the start, the secret-looking variables of its
 * environment and the credentials in its URL-valued ones; then whatever is added (the
 * editor's SecretStorage values as they are read, keys given as flags, tokens).
 */
export const processSecrets = new SecretSet(secretValuesFromEnv(process.env));

/**
 * `text` with the process's secrets, the `extra` values and every credential-shaped string
 * (URL passwords, `?token=`, bearer tokens, `sk-` keys) replaced by `***`. A SecretSet given as
 * `extra` is used as it is (with its own parent, if any).
 */
export function redactSecrets(text: string, extra: SecretSet | Iterable<string | undefined> = []): string {
  if (extra instanceof SecretSet) return extra.redact(text);
  const more = [...extra].filter((v): v is string => !!v);
  return (more.length ? new SecretSet(more, processSecrets) : processSecrets).redact(text);
}
