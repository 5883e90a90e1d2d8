/**
 * NaN and ±Infinity across a webview's boundary: VS Code sends messages as JSON, where they would
 * become null (a run's metrics and rollouts hold them: `nan` losses, a NaN tool_success_rate).
 * Pure functions, kept apart from the protocols' schemas so that a webview bundle does not carry
 * valibot (as images.ts).
 */
/** How a NaN or ±Infinity crosses to the webview: messages are JSON, where they would become null. */
interface NonFinite {
  $nonFinite: 'NaN' | 'Infinity' | '-Infinity';
}

function isNonFinite(x: object): x is NonFinite {
  const k = Object.keys(x);
  return k.length === 1 && k[0] === '$nonFinite' && typeof (x as NonFinite).$nonFinite === 'string';
}

/** A message with every NaN / ±Infinity in it (at any depth) as `{ $nonFinite }` (a copy; strings and other values as they are). */
export function encodeNonFinite<T>(x: T): T {
  if (typeof x === 'number') return (Number.isFinite(x) ? x : { $nonFinite: String(x) }) as T;
  if (Array.isArray(x)) return x.map(encodeNonFinite) as T;
  if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, encodeNonFinite(v)])) as T;
  return x;
}

/** The message as it was before `encodeNonFinite`. */
export function decodeNonFinite<T>(x: T): T {
  if (Array.isArray(x)) return x.map(decodeNonFinite) as T;
  if (x && typeof x === 'object') {
    if (isNonFinite(x)) return Number(x.$nonFinite) as T;
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, decodeNonFinite(v)])) as T;
  }
  return x;
}
