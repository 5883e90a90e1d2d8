/**
 * The client's retry policy: back-off with jitter, the server's `retry-after`, and the wait
 * between tries. The retry loop itself is ModelClient's, not `fetch`'s or an SDK's: it moves to
 * another endpoint of the pool, re-sends a stream that broke off mid-way, and tells the UI
 * (docs/model.md).
 */
import { setTimeout as wait } from 'node:timers/promises';
import { ModelAbortedError, ModelHttpError, type ModelError } from './errors';
import type { RetryPolicy } from './types';

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxRetries: 4, baseDelayMs: 500, maxDelayMs: 8000, maxRetryAfterMs: 60_000 };

/**
 * Delay before retry number `retry` (1-based): exponential (base · 2^(retry-1), capped), with
 * "equal jitter" (a uniform pick in the upper half) so concurrent clients spread out but
 * never retry at once.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** The server's `retry-after` wins (capped); otherwise the back-off. */
export function retryDelay(err: ModelError, retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  if (err instanceof ModelHttpError && err.retryAfterMs !== undefined)
    return Math.min(policy.maxRetryAfterMs, Math.max(0, err.retryAfterMs));
  return backoffDelay(retry, policy, random);
}

/** `retry-after-ms` (ms), else `retry-after` (seconds or an HTTP date), in ms. */
export function parseRetryAfter(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms !== null && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const v = headers.get('retry-after');
  if (v === null || v.trim() === '') return undefined;
  if (Number.isFinite(Number(v))) return Math.max(0, Number(v) * 1000);
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with `ModelAbortedError` as soon as `signal` fires. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await wait(ms, undefined, { signal });
  } catch (e) {
    if (signal?.aborted) throw new ModelAbortedError();
    throw e;
  }
}
