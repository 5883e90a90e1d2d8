/**
 * Credentials recognised by their shape, wherever they appear in a text, and the secret values
 * an environment holds. Pure functions: no state, no I/O.
 */

/** what a secret is replaced with */
export const MASK = '***';

/** names of variables whose values are secrets (AUTH but not AUTHOR: GIT_AUTHOR_NAME is not a secret) */
export const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH(?!OR)|COOKIE|DSN|PRIVATE)/i;

/** URL query parameters that carry a credential (`?token=`, `&api_key=`, `&X-Amz-Signature=`) */
const SECRET_PARAM = /^(?:[\w-]*[_-])?(?:token|key|apikey|secret|password|passwd|pwd|auth|signature|sig|credential|credentials)$/i;

interface SecretPattern {
  re: RegExp;
  replace: string;
}

/** in the order they are applied */
const PATTERNS: readonly SecretPattern[] = [
  // scheme://user:password@host (postgres://, redis://:pw@host, https://u:p@h): the password goes
  { re: /\b([a-z][a-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#@]+@/gi, replace: `$1${MASK}@` },
  // a credential in a query string: ?token=…, &access_token=…, &api_key=…, &X-Amz-Signature=…
  {
    re: /([?&](?:[\w-]*[_-])?(?:token|key|apikey|secret|password|passwd|pwd|auth|signature|sig|credentials?)=)[^&#\s"'<>]+/gi,
    replace: `$1${MASK}`,
  },
  // Authorization: Bearer …
  { re: /\b(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}/gi, replace: `$1${MASK}` },
  // OpenAI-style keys (sk-…, sk-proj-…): long enough not to touch words like "sk-learn"
  { re: /\b(sk-)[A-Za-z0-9_*.-]{16,}/g, replace: `$1${MASK}` },
];

/** `text` with every credential recognised by its shape masked. */
export function redactPatterns(text: string): string {
  let out = text;
  for (const p of PATTERNS) out = out.replace(p.re, p.replace);
  return out;
}

/** The credentials a URL carries (its password, its user when it has a password, secret query values); none for a text that is not a URL. */
export function urlCredentials(value: string): string[] {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim())) return [];
  let u: URL;
  try {
    u = new URL(value.trim());
  } catch {
    return [];
  }
  const out: string[] = [];
  if (u.password) out.push(u.password, decodeURIComponentSafe(u.password));
  for (const [k, v] of u.searchParams) if (v && SECRET_PARAM.test(k)) out.push(v);
  return [...new Set(out)];
}

/** `url` as it may be shown: without user, password or a credential in its query; a text that is not a URL has its credentials masked. */
export function displayUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    return redactPatterns(url);
  }
  u.username = '';
  u.password = '';
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAM.test(k)) u.searchParams.delete(k);
  return u.toString();
}

/**
 * The secret values of an environment: every variable whose name looks secret (`*KEY*`,
 * `*TOKEN*`, `*AUTH*`, …) and, whatever the name, the credentials in a URL value
 * (`DATABASE_URL=postgres://user:pass@db/x` gives `pass`).
 */
export function secretValuesFromEnv(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (!v) continue;
    if (SECRET_NAME.test(k)) out.push(v);
    out.push(...urlCredentials(v));
  }
  return out;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
