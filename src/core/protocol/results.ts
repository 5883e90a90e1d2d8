/**
 * Turning an `ExecutionResult` from the kernel into the seed's error strings. Both seed tools
 * format a failure as `"--- Execution Error (" + error_type + ") ---\n" + error` where
 * error_type is `TimeoutError` for timeouts and `Error` otherwise, and error is
 * `"TypeName: message"` plus `" (line N)"` for syntax errors. For a timeout the seed's error is
 * `str(TimeoutError(...))` alone: `"Code execution timed out after 30 seconds"` (eval.py, an
 * int) or `"... after 15.0 seconds"` (the training tool, a float).
 */
import type { ExecutionResult, OutputImage } from '../kernel/types';

export interface SeedError {
  type: 'TimeoutError' | 'Error';
  text: string;
}

export interface SeedErrorOptions {
  /** the cell timeout, ms, to quote in the timeout text */
  timeoutMs?: number;
  /** how Python printed the seconds: eval.py passes an int (`30`), the training tool a float (`15.0`) */
  secondsStyle: 'int' | 'float';
}

/** The seed's wording when no timeout value is known (the training tool's framework timeout). */
export const TIMEOUT_FALLBACK_TEXT = 'Code execution timed out.';

function pySeconds(ms: number, style: 'int' | 'float'): string {
  const s = ms / 1000;
  if (Number.isInteger(s)) return style === 'float' ? `${s}.0` : String(s);
  return String(s);
}

/** `"the Python kernel died (reason); it was restarted and variables were lost"` */
export function kernelDiedMessage(evalue: string | undefined): string {
  const v = (evalue ?? '').trim();
  if (v.startsWith('the Python kernel died')) return v;
  return `the Python kernel died (${v || 'no reason given'}); it was restarted and variables were lost`;
}

/** The seed's (error_type, error) for a failed execution; undefined when it succeeded. */
export function seedError(result: ExecutionResult, opts: SeedErrorOptions): SeedError | undefined {
  const e = result.error;
  switch (result.status) {
    case 'ok':
      return undefined;
    case 'timeout': {
      if (opts.timeoutMs !== undefined)
        return { type: 'TimeoutError', text: `Code execution timed out after ${pySeconds(opts.timeoutMs, opts.secondsStyle)} seconds` };
      if (e?.evalue?.startsWith('Code execution timed out')) return { type: 'TimeoutError', text: e.evalue };
      return { type: 'TimeoutError', text: TIMEOUT_FALLBACK_TEXT };
    }
    case 'died':
      return { type: 'Error', text: `KernelDied: ${kernelDiedMessage(e?.evalue)}` };
    case 'error':
    case 'cancelled':
    default: {
      if (!e) return { type: 'Error', text: 'Unknown execution error' };
      const line = e.lineno !== undefined ? ` (line ${e.lineno})` : '';
      return { type: 'Error', text: `${e.ename}: ${e.evalue}${line}` };
    }
  }
}

/** `"--- Execution Error (" + type + ") ---\n" + text` */
export function seedErrorBlock(err: SeedError): string {
  return `--- Execution Error (${err.type}) ---\n${err.text}`;
}

/** A data URL for an output image. The seed labels every output image `image/png`, whatever the bytes. */
export function imageDataUrl(img: OutputImage, label: 'seed' | 'true' = 'seed'): string {
  return `data:${label === 'seed' ? 'image/png' : img.mime};base64,${img.data}`;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** Removes terminal colour codes (ipykernel tracebacks carry them). */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

/**
 * The default limit on the text of one observation (every cell of a turn together), in
 * estimated tokens. The kernel caps a cell's output at 1 MiB, which would be ~260k tokens and
 * overflow any context; a model needs a summary, not a megabyte, to go on.
 */
export const DEFAULT_OBSERVATION_TOKEN_LIMIT = 4096;

/**
 * A conservative token estimate (it errs high): ASCII costs a third of a token a character
 * (tokenizers average ~4 characters a token on English and code), every other code point a
 * whole token (CJK text, emoji, box drawing).
 */
export function estimateTokens(text: string): number {
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) ascii++;
    else if (c < 0xdc00 || c > 0xdfff) other++; // a low surrogate belongs to the pair already counted
  }
  return Math.ceil(ascii / 3) + other;
}

/** The longest prefix (or suffix, `fromEnd`) of `s` that costs at most `tokens`. */
function sliceByTokens(s: string, tokens: number, fromEnd: boolean): string {
  let cost = 0;
  const n = s.length;
  let k = 0;
  for (; k < n; k++) {
    const c = s.charCodeAt(fromEnd ? n - 1 - k : k);
    cost += c < 0x80 ? 1 / 3 : c >= 0xdc00 && c <= 0xdfff ? 0 : 1;
    if (cost > tokens) break;
  }
  // never split a surrogate pair
  if (!fromEnd && k > 0 && k < n && /[\ud800-\udbff]/.test(s[k - 1])) k--;
  if (fromEnd && k > 0 && k < n && /[\udc00-\udfff]/.test(s[n - k])) k--;
  return fromEnd ? s.slice(n - k) : s.slice(0, k);
}

/** The marker put where text was cut; it tells the model what happened and what to do. */
export function observationCutMarker(cutChars: number, cutTokens: number, limit: number): string {
  return `\n[… ${cutChars} characters (about ${cutTokens} tokens) cut here: an observation is limited to about ${limit} tokens. Print less — a summary, a slice, the shape or a count …]\n`;
}

/** `text` cut to about `tokens` (its head and its tail kept, the marker between them). */
function cutText(text: string, tokens: number, limit: number): string {
  const total = estimateTokens(text);
  if (total <= tokens) return text;
  const probe = observationCutMarker(text.length, total, limit);
  const room = Math.max(0, tokens - estimateTokens(probe));
  const head = sliceByTokens(text, Math.floor(room * 0.6), false);
  const tail = sliceByTokens(text.slice(head.length), room - estimateTokens(head), true);
  const cut = text.slice(head.length, text.length - tail.length);
  return head + observationCutMarker(cut.length, estimateTokens(cut), limit) + tail;
}

/**
 * The results of one turn with their text (stdout, stderr, the error's value and traceback)
 * cut so that all of it together stays within about `maxTokens` estimated tokens; each cut is
 * marked. Short texts are kept whole; the long ones share what is left equally. Results within
 * the budget are returned as they are (the same objects), so observations of ordinary cells are
 * byte-identical to the seed's.
 */
export function capObservationText<T extends { result: ExecutionResult }>(
  executed: readonly T[],
  maxTokens: number = DEFAULT_OBSERVATION_TOKEN_LIMIT,
): T[] {
  const limit = Math.max(64, Math.floor(maxTokens));
  const texts = executed.map((x) => [
    x.result.stdout,
    x.result.stderr,
    x.result.error?.evalue ?? '',
    (x.result.error?.traceback ?? []).join('\n'),
  ]);
  const flat = texts.flatMap((t, i) => t.map((text, k) => ({ i, k, cost: estimateTokens(text), budget: 0 })));
  if (flat.reduce((a, f) => a + f.cost, 0) <= limit) return [...executed];
  // water-filling: the smallest texts first, each up to an equal share of what is left
  let left = limit;
  const order = [...flat].sort((a, b) => a.cost - b.cost);
  order.forEach((f, n) => {
    f.budget = Math.min(f.cost, Math.floor(left / (order.length - n)));
    left -= f.budget;
  });
  return executed.map((x, i) => {
    const [stdout, stderr, evalue, traceback] = texts[i].map((t, k) => cutText(t, flat.find((f) => f.i === i && f.k === k)!.budget, limit));
    const r = x.result;
    const error = r.error ? { ...r.error, evalue, traceback: traceback ? traceback.split('\n') : [] } : undefined;
    return { ...x, result: { ...r, stdout, stderr, ...(error ? { error } : {}) } };
  });
}
