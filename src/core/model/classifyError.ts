/**
 * Maps whatever an attempt threw to one typed `ModelError`: our own errors pass through (an HTTP
 * status is already a `ModelHttpError`, see http.ts); `fetch`/undici errors become connection or
 * stream errors by their system code; the caller's abort and our two timers win over what they
 * caused. The endpoint is named and API keys are redacted (errors.ts).
 */
import { ModelAbortedError, ModelConnectionError, ModelError, ModelHttpError, ModelStreamError } from './errors';

export interface ClassifyContext {
  endpoint: string;
  secrets: readonly (string | undefined)[];
  /** the caller's signal: aborted = the caller cancelled */
  signal?: AbortSignal;
  /** 'request' = before the response headers (or, not streaming, before the whole body); 'stream' = while reading a streamed body */
  phase: 'request' | 'stream';
  /** set when the stream's idle timer aborted the attempt, ms */
  idleTimeoutMs?: number;
  /** set when the request's deadline aborted it (no headers, or no whole answer, in time), ms */
  timeoutMs?: number;
}

/** The first `code` (ECONNREFUSED, …) found along `cause` / `errors` chains. */
export function findErrorCode(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 6) return undefined;
  const o = e as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof o.code === 'string' && /^E[A-Z_]+$|^UND_ERR/.test(o.code)) return o.code;
  const fromCause = findErrorCode(o.cause, depth + 1);
  if (fromCause) return fromCause;
  if (Array.isArray(o.errors))
    for (const x of o.errors) {
      const c = findErrorCode(x, depth + 1);
      if (c) return c;
    }
  return undefined;
}

/** The innermost message along the `cause` chain ("other side closed", "terminated", …). */
function rootMessage(e: unknown): string {
  let cur: unknown = e;
  let msg = e instanceof Error ? e.message : String(e);
  for (let i = 0; i < 6 && cur && typeof cur === 'object' && 'cause' in cur; i++) {
    cur = (cur as { cause?: unknown }).cause;
    if (cur instanceof Error && cur.message) msg = cur.message;
  }
  return msg;
}

/** The error text out of an OpenAI (`{error:{message}}`), vLLM (`{message}`) or FastAPI (`{detail}`) body. */
export function serverMessageFromBody(body: string | undefined): string | undefined {
  if (!body?.trim()) return undefined;
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    const err = j.error;
    if (err && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string')
      return (err as { message: string }).message;
    if (typeof err === 'string') return err;
    if (typeof j.message === 'string') return j.message;
    if (typeof j.detail === 'string') return j.detail;
    if (j.detail !== undefined) return JSON.stringify(j.detail);
    return body.trim();
  } catch {
    return body.trim().slice(0, 500);
  }
}

export function classifyError(e: unknown, ctx: ClassifyContext): ModelError {
  const info = { endpoint: ctx.endpoint, secrets: ctx.secrets };
  if (ctx.signal?.aborted) return new ModelAbortedError(info);
  if (ctx.idleTimeoutMs !== undefined)
    return new ModelStreamError({
      ...info,
      detail: `no data for ${ctx.idleTimeoutMs < 1000 ? `${ctx.idleTimeoutMs} ms` : `${Math.round(ctx.idleTimeoutMs / 1000)} s`}`,
    });
  if (e instanceof ModelError) return e;
  if (ctx.timeoutMs !== undefined) return new ModelConnectionError({ ...info, code: 'ETIMEDOUT', timeoutMs: ctx.timeoutMs });
  const code = findErrorCode(e);
  if (ctx.phase === 'stream') {
    if (e instanceof SyntaxError) return new ModelStreamError({ ...info, detail: `a chunk was not valid JSON: ${e.message}` });
    return new ModelStreamError({ ...info, detail: `${rootMessage(e)}${code ? `, ${code}` : ''}` });
  }
  if (e instanceof Error && e.name === 'AbortError') return new ModelConnectionError({ ...info, detail: 'request aborted' });
  return new ModelConnectionError({ ...info, code, detail: rootMessage(e) });
}

/** A short reason for UIs ("HTTP 503", "ECONNREFUSED", "stream dropped"). */
export function shortReason(err: ModelError): string {
  if (err instanceof ModelHttpError) return `HTTP ${err.status}`;
  if (err instanceof ModelConnectionError) return err.code ?? 'connection failed';
  if (err instanceof ModelStreamError) return 'stream dropped';
  return err.kind;
}
