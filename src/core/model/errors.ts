/**
 * The model layer's errors. Each message names the endpoint, the cause and the fix; API keys
 * are redacted from every message (redact.ts). `retryable` tells the client whether sending
 * the same request again may help; when it gives up, `noteRetries(n)` records how often it tried.
 */
import { displayUrl, redactSecrets } from './redact';

export interface ModelErrorInfo {
  endpoint?: string;
  /** API keys to mask in the message */
  secrets?: readonly (string | undefined)[];
}

/** Base of every model-layer error. */
export abstract class ModelError extends Error {
  abstract readonly kind: 'http' | 'connection' | 'stream' | 'aborted' | 'response' | 'config';
  /** whether sending the identical request again may succeed */
  abstract readonly retryable: boolean;
  /** the endpoint's base URL (without a password) */
  readonly endpoint?: string;
  /** retries made before this error was given up on */
  retries = 0;
  private noted = false;

  protected constructor(message: string, info: ModelErrorInfo) {
    super(redactSecrets(message, info.secrets));
    this.endpoint = info.endpoint !== undefined ? displayUrl(info.endpoint) : undefined;
  }

  /** Records that the client gave up after `n` retries (said in the message when n > 0). */
  noteRetries(n: number): this {
    this.retries = n;
    if (n > 0 && !this.noted) {
      this.noted = true;
      this.message = this.message.replace(/ — /, ` (after ${n} ${n === 1 ? 'retry' : 'retries'}) — `);
    }
    return this;
  }
}

function serverSays(serverMessage: string | undefined): string {
  const m = (serverMessage ?? '').replace(/\s+/g, ' ').trim();
  if (!m) return '';
  return `: ${m.length > 300 ? m.slice(0, 300) + '…' : m}`;
}

/**
 * Thrown when the server answers with an HTTP error status.
 * Cause: a bad key (401/403), an unknown model or a wrong base URL (404), a request the server
 * refuses (400/413/422: context too long, bad sampling values, images too large), overload (429, 5xx).
 * Handled by: the client retries 408/409/425/429/5xx with back-off; the rest reach the caller.
 */
export class ModelHttpError extends ModelError {
  override readonly name = 'ModelHttpError';
  readonly kind = 'http' as const;
  readonly retryable: boolean;
  readonly status: number;
  readonly serverMessage?: string;
  readonly requestId?: string;
  /** the server's `retry-after-ms` / `retry-after`, ms */
  readonly retryAfterMs?: number;

  constructor(status: number, info: ModelErrorInfo & { endpoint: string; model?: string; serverMessage?: string; requestId?: string; retryAfterMs?: number }) {
    super(ModelHttpError.describe(status, info), info);
    this.status = status;
    this.serverMessage = info.serverMessage !== undefined ? redactSecrets(info.serverMessage, info.secrets) : undefined;
    this.requestId = info.requestId;
    this.retryAfterMs = info.retryAfterMs;
    this.retryable = status === 408 || status === 409 || status === 425 || status === 429 || status >= 500;
  }

  private static describe(status: number, i: { endpoint: string; model?: string; serverMessage?: string }): string {
    const ep = displayUrl(i.endpoint);
    const says = serverSays(i.serverMessage);
    if (status === 401 || status === 403)
      return `${ep} rejected the API key (HTTP ${status}${says}) — set the key for this endpoint with "CodeDance: Set API Key" (CLI: the CODEDANCE_API_KEY environment variable)`;
    if (status === 404) {
      if (/model/i.test(i.serverMessage ?? '') && i.model !== undefined)
        return `model '${i.model}' is not served at ${ep} (HTTP 404${says}) — set codedance.model.name to a model the server lists, or leave it empty to use the first id of GET ${ep}/models`;
      return `${ep}/chat/completions was not found (HTTP 404${says}) — codedance.model.endpoints must be OpenAI-compatible base URLs, usually ending in /v1`;
    }
    if (status === 413) return `${ep} refused the request as too large (HTTP 413${says}) — the images may be too big; lower the image size or the number of turns`;
    if (status === 400 || status === 422)
      return `${ep} rejected the request (HTTP ${status}${says}) — the conversation may exceed the model's context length, or a sampling value (codedance.sampling.*) is out of range`;
    if (status === 429) return `${ep} is rate limiting requests (HTTP 429${says}) — lower codedance.eval.numWorkers or add endpoints to codedance.model.endpoints`;
    if (status >= 500) return `${ep} failed with HTTP ${status}${says} — the model server is overloaded or crashed; check its log`;
    return `${ep} answered HTTP ${status}${says} — check that it is an OpenAI-compatible server`;
  }
}

/**
 * Thrown when no HTTP answer arrives: connection refused, host not found, reset, timeout.
 * Cause: the server is not running, the URL is wrong, or the network drops.
 * Handled by: the client retries it (and cools the endpoint down in the pool), then the caller.
 */
export class ModelConnectionError extends ModelError {
  override readonly name = 'ModelConnectionError';
  readonly kind = 'connection' as const;
  readonly retryable = true;
  /** the system error code, e.g. ECONNREFUSED, ENOTFOUND, ETIMEDOUT */
  readonly code?: string;

  constructor(info: ModelErrorInfo & { endpoint: string; code?: string; detail?: string; timeoutMs?: number }) {
    super(ModelConnectionError.describe(info), info);
    this.code = info.code;
  }

  private static describe(i: { endpoint: string; code?: string; detail?: string; timeoutMs?: number }): string {
    const ep = displayUrl(i.endpoint);
    switch (i.code) {
      case 'ECONNREFUSED':
        return `cannot reach ${ep}: connection refused — is vLLM running there? Check codedance.model.endpoints`;
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return `cannot reach ${ep}: host not found (${i.code}) — check the host name in codedance.model.endpoints`;
      case 'ETIMEDOUT':
        return `no answer from ${ep}${i.timeoutMs ? ` within ${Math.round(i.timeoutMs / 1000)} s` : ''} (timed out) — the server is overloaded or unreachable; check it, or add endpoints`;
      case 'ECONNRESET':
        return `the connection to ${ep} was reset — the server may have restarted or crashed; check its log`;
      default:
        return `cannot reach ${ep}: ${i.detail ?? i.code ?? 'connection failed'} — check codedance.model.endpoints and that the server is running`;
    }
  }
}

/**
 * Thrown when a streamed answer breaks off: the socket closes mid-way, the stream ends without
 * a finish reason, a chunk is not valid JSON, or no chunk arrives for too long.
 * Handled by: the client sends the whole request again (emitting `retry`), then the caller.
 */
export class ModelStreamError extends ModelError {
  override readonly name = 'ModelStreamError';
  readonly kind = 'stream' as const;
  readonly retryable = true;
  constructor(info: ModelErrorInfo & { endpoint: string; detail: string }) {
    super(`${displayUrl(info.endpoint)} dropped the response stream mid-way (${info.detail}) — check the model server's log and the network`, info);
  }
}

/**
 * Thrown when a 200 answer cannot be used (no choices, not JSON).
 * Handled by: the client retries it, then the caller.
 */
export class ModelResponseError extends ModelError {
  override readonly name = 'ModelResponseError';
  readonly kind = 'response' as const;
  readonly retryable = true;
  constructor(info: ModelErrorInfo & { endpoint: string; detail: string }) {
    super(`${displayUrl(info.endpoint)} sent an unusable response (${info.detail}) — is it an OpenAI-compatible chat completions server?`, info);
  }
}

/**
 * Thrown when the caller's AbortSignal fires during a request or a back-off wait.
 * Handled by: the caller (the agent loop ends the run as `cancelled`). Never retried.
 */
export class ModelAbortedError extends ModelError {
  override readonly name = 'ModelAbortedError';
  readonly kind = 'aborted' as const;
  readonly retryable = false;
  constructor(info: ModelErrorInfo = {}) {
    super(`model request cancelled${info.endpoint ? ` (${displayUrl(info.endpoint)})` : ''}`, info);
  }
}

/**
 * Thrown for a configuration the client cannot use: no endpoints, a malformed URL, as many
 * API keys as neither one nor the number of endpoints. Never retried.
 */
export class ModelConfigError extends ModelError {
  override readonly name = 'ModelConfigError';
  readonly kind = 'config' as const;
  readonly retryable = false;
  constructor(message: string, info: ModelErrorInfo = {}) {
    super(message, info);
  }
}
