/**
 * The model layer's errors, subclasses of the one root `CodeDanceError` (src/core/errors.ts).
 * Each names the endpoint, the cause (`reason`) and the fix (`fix`, machine-readable: the
 * adapters word `fix.setting` as a VS Code setting or a CLI flag); API keys are redacted from
 * every message (core/secrets). `retryable` tells the client whether sending the same request
 * again may help; when it gives up, `noteRetries(n)` records how often it tried.
 */
import { CodeDanceError, type ErrorFix, type ErrorKind } from '../errors';
import { displayUrl, redactSecrets } from '../secrets';

export interface ModelErrorInfo {
  endpoint?: string;
  /** API keys to mask in the message */
  secrets?: readonly (string | undefined)[];
}

/** Base of every model-layer error. */
export abstract class ModelError extends CodeDanceError {
  /** the endpoint's base URL (without a password) */
  readonly endpoint?: string;
  /** retries made before this error was given up on */
  retries = 0;
  private noted = false;

  protected constructor(
    kind: ErrorKind,
    reason: string,
    fix: ErrorFix | undefined,
    retryable: boolean,
    info: ModelErrorInfo,
    extra: { code?: string; cause?: unknown } = {},
  ) {
    const redact = (s: string) => redactSecrets(s, info.secrets);
    super(kind, redact(reason), { fix: fix ? { ...fix, text: redact(fix.text) } : undefined, retryable, ...extra });
    this.endpoint = info.endpoint !== undefined ? displayUrl(info.endpoint) : undefined;
  }

  /** Records that the client gave up after `n` retries (said in the message when n > 0). */
  noteRetries(n: number): this {
    this.retries = n;
    if (n > 0 && !this.noted) {
      this.noted = true;
      this.setReason(`${this.reason} (after ${n} ${n === 1 ? 'retry' : 'retries'})`);
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
  readonly status: number;
  readonly serverMessage?: string;
  readonly requestId?: string;
  /** the server's `retry-after-ms` / `retry-after`, ms */
  readonly retryAfterMs?: number;

  constructor(
    status: number,
    info: ModelErrorInfo & { endpoint: string; model?: string; serverMessage?: string; requestId?: string; retryAfterMs?: number },
  ) {
    const d = ModelHttpError.describe(status, info);
    super(d.kind, d.reason, d.fix, status === 408 || status === 409 || status === 425 || status === 429 || status >= 500, info, {
      code: `HTTP ${status}`,
    });
    this.status = status;
    this.serverMessage = info.serverMessage !== undefined ? redactSecrets(info.serverMessage, info.secrets) : undefined;
    this.requestId = info.requestId;
    this.retryAfterMs = info.retryAfterMs;
  }

  private static describe(
    status: number,
    i: { endpoint: string; model?: string; serverMessage?: string },
  ): { kind: ErrorKind; reason: string; fix: ErrorFix } {
    const ep = displayUrl(i.endpoint);
    const says = serverSays(i.serverMessage);
    if (status === 401 || status === 403)
      return {
        kind: 'model-auth',
        reason: `${ep} rejected the API key (HTTP ${status}${says})`,
        fix: { text: 'set the API key for this endpoint', setting: 'model.apiKey' },
      };
    if (status === 404) {
      if (/model/i.test(i.serverMessage ?? '') && i.model !== undefined)
        return {
          kind: 'model-endpoint',
          reason: `model '${i.model}' is not served at ${ep} (HTTP 404${says})`,
          fix: {
            text: `name a model the server lists, or leave the model name empty to use the first id of GET ${ep}/models`,
            setting: 'model.name',
          },
        };
      return {
        kind: 'model-endpoint',
        reason: `${ep}/chat/completions was not found (HTTP 404${says})`,
        fix: { text: 'model endpoints must be OpenAI-compatible base URLs, usually ending in /v1', setting: 'model.endpoints' },
      };
    }
    if (status === 413)
      return {
        kind: 'model-request',
        reason: `${ep} refused the request as too large (HTTP 413${says})`,
        fix: { text: 'the images may be too big; lower the image size or the number of turns' },
      };
    if (status === 400 || status === 422)
      return {
        kind: 'model-request',
        reason: `${ep} rejected the request (HTTP ${status}${says})`,
        fix: { text: "the conversation may exceed the model's context length, or a sampling value is out of range", setting: 'sampling' },
      };
    if (status === 429)
      return {
        kind: 'model-endpoint',
        reason: `${ep} is rate limiting requests (HTTP 429${says})`,
        fix: { text: 'send fewer requests at once (fewer eval workers) or add model endpoints', setting: 'eval.numWorkers' },
      };
    if (status >= 500)
      return {
        kind: 'model-endpoint',
        reason: `${ep} failed with HTTP ${status}${says}`,
        fix: { text: 'the model server is overloaded or crashed; check its log' },
      };
    return {
      kind: 'model-endpoint',
      reason: `${ep} answered HTTP ${status}${says}`,
      fix: { text: 'check that it is an OpenAI-compatible server', setting: 'model.endpoints' },
    };
  }
}

/**
 * Thrown when no HTTP answer arrives: connection refused, host not found, reset, timeout.
 * Cause: the server is not running, the URL is wrong, or the network drops.
 * Handled by: the client retries it (and cools the endpoint down in the pool), then the caller.
 */
export class ModelConnectionError extends ModelError {
  override readonly name = 'ModelConnectionError';
  /** the system error code, e.g. ECONNREFUSED, ENOTFOUND, ETIMEDOUT */
  declare readonly code?: string;

  constructor(info: ModelErrorInfo & { endpoint: string; code?: string; detail?: string; timeoutMs?: number; cause?: unknown }) {
    const d = ModelConnectionError.describe(info);
    super('model-endpoint', d.reason, d.fix, true, info, { code: info.code, cause: info.cause });
  }

  private static describe(i: { endpoint: string; code?: string; detail?: string; timeoutMs?: number }): { reason: string; fix: ErrorFix } {
    const ep = displayUrl(i.endpoint);
    switch (i.code) {
      case 'ECONNREFUSED':
        return {
          reason: `cannot reach ${ep}: connection refused`,
          fix: { text: 'is the model server (e.g. vLLM) running there? Check the endpoint URL', setting: 'model.endpoints' },
        };
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return {
          reason: `cannot reach ${ep}: host not found (${i.code})`,
          fix: { text: 'check the host name of the endpoint URL', setting: 'model.endpoints' },
        };
      case 'ETIMEDOUT':
        return {
          reason: `no answer from ${ep}${i.timeoutMs ? ` within ${i.timeoutMs < 1000 ? `${i.timeoutMs} ms` : `${Math.round(i.timeoutMs / 1000)} s`}` : ''} (timed out)`,
          fix: { text: 'the server is overloaded, stuck or unreachable; check it, or add endpoints', setting: 'model.endpoints' },
        };
      case 'ECONNRESET':
        return { reason: `the connection to ${ep} was reset`, fix: { text: 'the server may have restarted or crashed; check its log' } };
      default:
        return {
          reason: `cannot reach ${ep}: ${i.detail ?? i.code ?? 'connection failed'}`,
          fix: { text: 'check the endpoint URL and that the server is running', setting: 'model.endpoints' },
        };
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
  constructor(info: ModelErrorInfo & { endpoint: string; detail: string }) {
    super(
      'model-endpoint',
      `${displayUrl(info.endpoint)} dropped the response stream mid-way (${info.detail})`,
      { text: "check the model server's log and the network" },
      true,
      info,
    );
  }
}

/**
 * Thrown when a 200 answer cannot be used (no choices, not JSON).
 * Handled by: the client retries it, then the caller.
 */
export class ModelResponseError extends ModelError {
  override readonly name = 'ModelResponseError';
  constructor(info: ModelErrorInfo & { endpoint: string; detail: string }) {
    super(
      'model-response',
      `${displayUrl(info.endpoint)} sent an unusable response (${info.detail})`,
      { text: 'is it an OpenAI-compatible chat completions server?', setting: 'model.endpoints' },
      true,
      info,
    );
  }
}

/**
 * Thrown when the caller's AbortSignal fires during a request or a back-off wait.
 * Handled by: the caller (the agent loop ends the run as `cancelled`). Never retried.
 */
export class ModelAbortedError extends ModelError {
  override readonly name = 'ModelAbortedError';
  constructor(info: ModelErrorInfo = {}) {
    super('cancelled', `model request cancelled${info.endpoint ? ` (${displayUrl(info.endpoint)})` : ''}`, undefined, false, info);
  }
}

/**
 * Thrown for a configuration the client cannot use: no endpoints, a malformed URL, a password
 * in a URL, as many API keys as neither one nor the number of endpoints. Never retried.
 */
export class ModelConfigError extends ModelError {
  override readonly name = 'ModelConfigError';
  constructor(reason: string, fix?: ErrorFix | string, info: ModelErrorInfo = {}) {
    super('config', reason, typeof fix === 'string' ? { text: fix } : fix, false, info);
  }
}
