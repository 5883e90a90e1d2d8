/**
 * One HTTP request to an OpenAI-compatible endpoint, on the platform's `fetch`: the headers (the
 * bearer key, the caller's, the endpoint's own), a deadline that aborts it, a non-2xx answer
 * turned into a `ModelHttpError` from its status, body and headers, and a 2xx JSON body read.
 * Streamed bodies are read by sse.ts; retries, failover and the stream's idle timer are
 * ModelClient's. Why this and not the `openai` SDK's client: docs/model.md.
 */
import { serverMessageFromBody } from './classifyError';
import { ModelHttpError, ModelResponseError } from './errors';
import { parseRetryAfter } from './retry';
import type { EndpointConfig } from './types';

export interface HttpContext {
  fetch: typeof fetch;
  /** headers for every request (an endpoint's own headers win) */
  headers: Readonly<Record<string, string>>;
  /** API keys, masked in error messages */
  secrets: readonly (string | undefined)[];
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  /** below the base URL: '/chat/completions', '/models' */
  path: string;
  /** sent as JSON */
  body?: unknown;
  accept: 'application/json' | 'text/event-stream';
  signal: AbortSignal;
  /** the model asked for, to word a 404 */
  model?: string;
}

/**
 * Sends one request. Resolves with the response of a 2xx answer, its body unread; throws a
 * `ModelHttpError` for any other status (the body read for the server's own message); rejects
 * with `fetch`'s own error when no answer came (classifyError words those).
 */
export async function send(ep: Readonly<EndpointConfig>, req: HttpRequest, ctx: HttpContext): Promise<Response> {
  const res = await ctx.fetch(`${ep.baseUrl}${req.path}`, {
    method: req.method,
    headers: {
      accept: req.accept,
      ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
      authorization: `Bearer ${ep.apiKey || 'EMPTY'}`,
      ...ctx.headers,
      ...ep.headers,
    },
    body: req.body !== undefined ? JSON.stringify(req.body) : undefined,
    signal: req.signal,
  });
  if (res.ok) return res;
  const text = await res.text().catch(() => undefined); // the status is still reported; only the server's own words are missing
  throw new ModelHttpError(res.status, {
    endpoint: ep.baseUrl,
    model: req.model,
    serverMessage: serverMessageFromBody(text),
    requestId: res.headers.get('x-request-id') ?? undefined,
    retryAfterMs: parseRetryAfter(res.headers),
    secrets: ctx.secrets,
  });
}

/** The JSON of a 2xx body; a body that is not JSON is a `ModelResponseError`. */
export async function readJson(res: Response, ep: Readonly<EndpointConfig>, secrets: readonly (string | undefined)[]): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    const head = text.replace(/\s+/g, ' ').trim().slice(0, 80);
    throw new ModelResponseError({ endpoint: ep.baseUrl, detail: `the body is not JSON: ${head ? `'${head}'` : 'empty'}`, secrets });
  }
}

/** A timer that aborts a request; `fired` says whether it did (the error then says "timed out"). */
export interface Deadline {
  readonly fired: boolean;
  readonly ms: number;
  clear(): void;
}

/** Aborts `ctrl` after `ms` unless cleared first. */
export function deadline(ctrl: AbortController, ms: number): Deadline {
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    ctrl.abort();
  }, ms);
  return {
    get fired() {
      return fired;
    },
    ms,
    clear: () => clearTimeout(timer),
  };
}
