/**
 * Chat completions against any OpenAI-compatible server (vLLM, SGLang, the OpenAI API) over
 * `fetch` (http.ts) with the events parsed by `eventsource-parser` (sse.ts). Streaming as typed
 * events, tool-call deltas assembled, retries with exponential back-off and jitter on
 * 429/5xx/connection errors and on streams that break off (the request is sent again from
 * scratch and a `retry` event tells UIs to drop the partial text), several endpoints through an
 * `EndpointPool` (a retry moves to a ready endpoint at once), AbortSignal everywhere, keys
 * redacted. Why not the `openai` SDK's client, retries and stream: docs/model.md (its types
 * still describe the wire format here).
 *
 * The messages are sent as they are: images are already data URLs in them, and extra keys on
 * content parts (the seed's `max_pixels`) go through untouched.
 */
import type { ChatCompletion } from 'openai/resources/chat/completions';
import { classifyError, shortReason } from './classifyError';
import { EndpointPool, normalizeBaseUrl, type EndpointLease } from './EndpointPool';
import { ModelAbortedError, ModelConnectionError, ModelError, ModelHttpError, ModelResponseError, ModelStreamError } from './errors';
import { deadline, readJson, send, type Deadline, type HttpContext } from './http';
import { displayUrl, redactSecrets } from '../secrets';
import { DEFAULT_RETRY_POLICY, retryDelay, sleep } from './retry';
import { readCompletion, readStream, type IdleState } from './readStream';
import type { CallOptions, EndpointConfig, ModelRequest, ModelResult, ModelStreamEvent, PoolStrategy, RetryPolicy } from './types';

export interface ModelClientOptions {
  /** base URL(s): a comma-separated string like the seed's, a list, configs with keys, or a pool */
  endpoints: string | readonly (string | EndpointConfig)[] | EndpointPool;
  /** key for endpoints without their own; absent = the placeholder "EMPTY" (vLLM ignores it) */
  apiKey?: string;
  /** default 'least-in-flight' */
  strategy?: PoolStrategy;
  /** how long a failing endpoint is skipped, ms; default 5000 */
  cooldownMs?: number;
  retry?: Partial<RetryPolicy>;
  /**
   * time allowed until the whole answer of a non-streaming request (headers and body), ms;
   * default 300000 (Node's fetch gives up on headers after 300 s anyway)
   */
  requestTimeoutMs?: number;
  /**
   * time allowed until the response headers of a streaming request or GET /models, connecting
   * included, ms: a server that accepts and never answers fails over after this; default 60000
   */
  headersTimeoutMs?: number;
  /** a stream with no chunk for this long counts as dropped (and is retried), ms; default 120000 */
  streamIdleTimeoutMs?: number;
  /** ask for a usage chunk (`stream_options.include_usage`); default true */
  includeUsage?: boolean;
  /** headers for every request (an endpoint's own headers win) */
  headers?: Record<string, string>;
  /** fetch implementation (tests, proxies); default the global fetch */
  fetch?: typeof fetch;
  /** jitter source, for tests */
  random?: () => number;
  /** one line per retry and per give-up, keys redacted */
  log?: (line: string) => void;
}

/** The three events the agent loop consumes (`ChatModel` in src/core/agent/model.ts). */
export type ChatEvent =
  { type: 'delta'; text: string } | { type: 'retry'; attempt: number; reason: string } | Extract<ModelStreamEvent, { type: 'done' }>;

export class ModelClient {
  readonly pool: EndpointPool;
  private readonly policy: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly headersTimeoutMs: number;
  private readonly idleMs: number;
  private readonly includeUsage: boolean;
  private readonly http: HttpContext;
  private readonly random: () => number;
  private readonly log?: (line: string) => void;

  constructor(options: ModelClientOptions) {
    this.pool =
      options.endpoints instanceof EndpointPool
        ? options.endpoints
        : new EndpointPool(options.endpoints, { strategy: options.strategy, cooldownMs: options.cooldownMs, apiKey: options.apiKey });
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 300_000;
    this.headersTimeoutMs = options.headersTimeoutMs ?? 60_000;
    this.idleMs = options.streamIdleTimeoutMs ?? 120_000;
    this.includeUsage = options.includeUsage ?? true;
    this.http = {
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      headers: options.headers ?? {},
      secrets: this.pool.secrets,
    };
    this.random = options.random ?? Math.random;
    this.log = options.log;
  }

  /** Streams one chat completion as typed events; ends with `done` or throws a `ModelError`. */
  stream(req: ModelRequest, opts: CallOptions = {}): AsyncGenerator<ModelStreamEvent, void, undefined> {
    return this.run(req, true, opts.signal);
  }

  /** One non-streaming chat completion (retried like `stream`). */
  async complete(
    req: ModelRequest,
    opts: CallOptions & { onRetry?: (e: Extract<ModelStreamEvent, { type: 'retry' }>) => void } = {},
  ): Promise<ModelResult> {
    let done: Extract<ModelStreamEvent, { type: 'done' }> | undefined;
    let reasoning = '';
    for await (const e of this.run(req, false, opts.signal)) {
      if (e.type === 'retry') opts.onRetry?.(e);
      else if (e.type === 'reasoning') reasoning += e.text;
      else if (e.type === 'done') done = e;
    }
    if (!done) throw new ModelResponseError({ endpoint: this.pool.endpoints[0].baseUrl, detail: 'no result', secrets: this.pool.secrets });
    const { type: _t, ...rest } = done;
    return { ...rest, ...(reasoning ? { reasoning } : {}) };
  }

  /** The agent loop's interface (`ChatModel.chat`): only `delta`, `retry` and `done` events. */
  chat(req: ModelRequest, opts: CallOptions = {}): AsyncIterable<ChatEvent> {
    const events = this.stream(req, opts);
    // a plain iterator over the stream, not one more async generator: one hop less per delta
    const it: AsyncIterableIterator<ChatEvent> = {
      [Symbol.asyncIterator]: () => it,
      next: async () => {
        for (;;) {
          const r = await events.next();
          if (r.done) return { value: undefined, done: true };
          const e = r.value;
          if (e.type === 'delta' || e.type === 'done') return { value: e, done: false };
          if (e.type === 'retry') return { value: { type: 'retry', attempt: e.attempt, reason: e.reason }, done: false };
        }
      },
      // leaving the for-await early closes the stream (its finally aborts the request)
      return: async () => {
        await events.return(undefined);
        return { value: undefined, done: true };
      },
    };
    return it;
  }

  /** GET {base}/models on one endpoint (default: the first): the model ids, in the server's order. */
  async listModels(opts: CallOptions & { endpoint?: string } = {}): Promise<string[]> {
    const ep = this.endpointFor(opts.endpoint);
    for (let retries = 0; ; retries++) {
      try {
        return await this.listModelsOnce(ep, opts.signal);
      } catch (e) {
        const err = e as ModelError;
        if (!err.retryable || retries >= this.policy.maxRetries) throw err.noteRetries(retries);
        await sleep(retryDelay(err, retries + 1, this.policy, this.random), opts.signal);
      }
    }
  }

  /**
   * The model name to send: `name` when given, else the first id of GET /models (the seed's
   * rule). Each round tries every endpoint once, in order, without waiting between them (a
   * refused first endpoint costs nothing); only when all failed with a retryable error does it
   * back off and go round again.
   */
  async resolveModel(name?: string, opts: CallOptions = {}): Promise<string> {
    if (name?.trim()) return name.trim();
    for (let round = 0; ; round++) {
      let first: ModelError | undefined;
      let retryable = false;
      for (const ep of this.pool.endpoints) {
        try {
          const ids = await this.listModelsOnce(ep, opts.signal);
          if (ids.length) return ids[0];
          first ??= new ModelResponseError({ endpoint: ep.baseUrl, detail: 'GET /models listed no model', secrets: this.pool.secrets });
        } catch (e) {
          if (e instanceof ModelAbortedError) throw e;
          const err =
            e instanceof ModelError ? e : classifyError(e, { endpoint: ep.baseUrl, secrets: this.pool.secrets, phase: 'request' });
          first ??= err;
          retryable ||= err.retryable;
        }
      }
      if (!first) throw new ModelAbortedError();
      if (!retryable || round >= this.policy.maxRetries) throw first.noteRetries(round);
      await sleep(retryDelay(first, round + 1, this.policy, this.random), opts.signal);
    }
  }

  private endpointFor(baseUrl: string | undefined): Readonly<EndpointConfig> {
    const want = baseUrl?.replace(/\/+$/, '');
    return want ? (this.pool.endpoints.find((e) => e.baseUrl === want) ?? { baseUrl: normalizeBaseUrl(want) }) : this.pool.endpoints[0];
  }

  private async listModelsOnce(ep: Readonly<EndpointConfig>, signal: AbortSignal | undefined): Promise<string[]> {
    const ctrl = new AbortController();
    const unlink = link(signal, ctrl);
    const limit = deadline(ctrl, this.headersTimeoutMs);
    try {
      const res = await send(ep, { method: 'GET', path: '/models', accept: 'application/json', signal: ctrl.signal }, this.http);
      const page = (await readJson(res, ep, this.pool.secrets)) as { data?: unknown } | null;
      if (!Array.isArray(page?.data))
        throw new ModelResponseError({ endpoint: ep.baseUrl, detail: 'GET /models sent no `data` list', secrets: this.pool.secrets });
      return page.data.map((m: { id?: unknown } | null) => m?.id).filter((id): id is string => typeof id === 'string');
    } catch (e) {
      throw classifyError(e, {
        endpoint: ep.baseUrl,
        secrets: this.pool.secrets,
        signal,
        phase: 'request',
        timeoutMs: limit.fired ? limit.ms : undefined,
      });
    } finally {
      limit.clear();
      unlink();
    }
  }

  // -------------------------------------------------------------------------------------------

  private body(req: ModelRequest, stream: boolean): Record<string, unknown> {
    const b: Record<string, unknown> = { model: req.model, messages: req.messages };
    if (req.tools?.length) b.tools = req.tools;
    if (req.temperature !== undefined) b.temperature = req.temperature;
    if (req.top_p !== undefined) b.top_p = req.top_p;
    if (req.max_tokens !== undefined) b.max_tokens = req.max_tokens;
    if (req.stop?.length) b.stop = [...req.stop];
    Object.assign(b, req.extra ?? {});
    if (stream) {
      b.stream = true;
      if (this.includeUsage) b.stream_options = { ...(b.stream_options as object | undefined), include_usage: true };
    } else {
      delete b.stream;
      delete b.stream_options;
    }
    return b;
  }

  private async *run(
    req: ModelRequest,
    streaming: boolean,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ModelStreamEvent, void, undefined> {
    const body = this.body(req, streaming);
    let retries = 0;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw new ModelAbortedError();
      const lease = this.pool.acquire();
      const ep = lease.endpoint;
      const failed = yield* this.attempt(lease, { req, body, streaming, signal, attempt, retries });
      if (!failed) return;
      const { failure, outcome } = failed;
      if (failure instanceof ModelAbortedError || signal?.aborted)
        throw new ModelAbortedError({ endpoint: ep.baseUrl, secrets: this.pool.secrets });
      if (!failure.retryable || retries >= this.policy.maxRetries) {
        failure.noteRetries(retries);
        this.log?.(redactSecrets(`model: giving up: ${failure.message}`, this.pool.secrets));
        throw failure;
      }
      retries++;
      // another endpoint is ready: fail over at once (the back-off is for retrying the same server)
      const failover = outcome === 'failed' && this.pool.readyCount(ep.baseUrl) > 0;
      const delayMs = failover ? 0 : retryDelay(failure, retries, this.policy, this.random);
      this.log?.(
        redactSecrets(`model: retry ${retries}/${this.policy.maxRetries} in ${delayMs} ms: ${failure.message}`, this.pool.secrets),
      );
      yield { type: 'retry', attempt: retries, reason: shortReason(failure), delayMs, endpoint: displayUrl(ep.baseUrl), error: failure };
      await sleep(delayMs, signal);
    }
  }

  /**
   * One request on the leased endpoint, its answer streamed as events; the lease is given back
   * with how it went. Undefined when it succeeded, else the failure (classified) and whether it
   * counts against the endpoint.
   */
  private async *attempt(
    lease: EndpointLease,
    a: {
      req: ModelRequest;
      body: Record<string, unknown>;
      streaming: boolean;
      signal: AbortSignal | undefined;
      attempt: number;
      retries: number;
    },
  ): AsyncGenerator<ModelStreamEvent, { failure: ModelError; outcome: 'failed' | 'neutral' } | undefined, undefined> {
    const { streaming, signal } = a;
    const ep = lease.endpoint;
    const ctrl = new AbortController();
    const unlink = link(signal, ctrl);
    const idle: IdleState = {};
    let limit: Deadline | undefined;
    let outcome: 'ok' | 'failed' | 'neutral' = 'neutral';
    let phase: 'request' | 'stream' = 'request';
    try {
      yield { type: 'start', endpoint: displayUrl(ep.baseUrl), attempt: a.attempt };
      // streaming: until the response headers; not streaming: until the whole answer
      limit = deadline(ctrl, streaming ? this.headersTimeoutMs : this.requestTimeoutMs);
      const accept = streaming ? 'text/event-stream' : 'application/json';
      const res = await send(
        ep,
        { method: 'POST', path: '/chat/completions', body: a.body, accept, signal: ctrl.signal, model: a.req.model },
        this.http,
      );
      if (streaming) {
        limit.clear();
        phase = 'stream';
        yield* readStream(res, ctrl, idle, this.idleMs, { ep, retries: a.retries, pool: this.pool });
      } else {
        const completion = (await readJson(res, ep, this.pool.secrets)) as ChatCompletion;
        limit.clear();
        yield* readCompletion(completion, { ep, retries: a.retries, pool: this.pool });
      }
      outcome = 'ok';
      return undefined;
    } catch (e) {
      const failure = classifyError(e, {
        endpoint: ep.baseUrl,
        secrets: this.pool.secrets,
        signal,
        phase,
        idleTimeoutMs: idle.firedMs,
        timeoutMs: limit?.fired ? limit.ms : undefined,
      });
      const counts =
        failure instanceof ModelConnectionError ||
        failure instanceof ModelStreamError ||
        (failure instanceof ModelHttpError && failure.retryable);
      outcome = counts ? 'failed' : 'neutral';
      return { failure, outcome };
    } finally {
      limit?.clear();
      unlink();
      ctrl.abort(); // closes the HTTP stream when the consumer left early; harmless after the end
      lease.release(outcome);
    }
  }
}

/** Aborts `ctrl` when the caller's `signal` fires; returns the unlink. */
function link(signal: AbortSignal | undefined, ctrl: AbortController): () => void {
  if (!signal) return () => undefined;
  const onAbort = () => ctrl.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
