/**
 * Keeps API keys out of error messages and logs: the configured keys themselves, bearer
 * tokens, `sk-…` style keys and passwords in URLs are replaced by `***`.
 */

/** Keys shorter than this are not searched for (they would mask ordinary words). */
const MIN_SECRET_LENGTH = 4;
/** vLLM's conventional placeholder key: not a secret. */
const PLACEHOLDER_KEYS = new Set(['EMPTY', 'empty', 'none', 'None']);

export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < MIN_SECRET_LENGTH || PLACEHOLDER_KEYS.has(s)) continue;
    out = out.split(s).join('***');
  }
  out = out.replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{4,}/gi, '$1***');
  out = out.replace(/\b(sk-)[A-Za-z0-9_*.-]{6,}/g, '$1***');
  out = out.replace(/(\/\/[^/\s:@]+:)[^@\s/]+@/g, '$1***@');
  return out;
}

/** A base URL as it may be shown: without a password in it. */
export function displayUrl(url: string): string {
  return redactSecrets(url);
}
