/**
 * Chat completions against any OpenAI-compatible server (vLLM, SGLang, the OpenAI API), on the
 * `openai` package. Streaming as typed events, tool-call deltas assembled, retries with
 * exponential back-off and jitter on 429/5xx/connection errors and on streams that break off
 * (the request is sent again from scratch and a `retry` event tells UIs to drop the partial
 * text), several endpoints through an `EndpointPool`, AbortSignal everywhere, keys redacted.
 *
 * The messages are sent as they are: images are already data URLs in them, and extra keys on
 * content parts (the seed's `max_pixels`) go through untouched.
 */
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { ToolCall } from '../protocol/types';
import type { Usage } from '../trajectory/types';
import { classifyError, shortReason } from './classifyError';
import { EndpointPool, normalizeBaseUrl } from './EndpointPool';
import { ModelAbortedError, ModelConnectionError, ModelError, ModelHttpError, ModelResponseError, ModelStreamError } from './errors';
import { displayUrl, redactSecrets } from './redact';
import { DEFAULT_RETRY_POLICY, retryDelay, sleep } from './retry';
import { sseJson } from './sse';
import { ToolCallAssembler } from './ToolCallAssembler';
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
   * time allowed until the answer of a non-streaming request (its headers come with it), ms;
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
  | { type: 'delta'; text: string }
  | { type: 'retry'; attempt: number; reason: string }
  | Extract<ModelStreamEvent, { type: 'done' }>;

interface AttemptState {
  endpoint: string;
  errorBody?: string;
  idleFired?: number;
}

function mapUsage(u: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null | undefined): Usage | undefined {
  if (!u) return undefined;
  const promptTokens = u.prompt_tokens ?? 0;
  const completionTokens = u.completion_tokens ?? 0;
  return { promptTokens, completionTokens, totalTokens: u.total_tokens ?? promptTokens + completionTokens };
}

export class ModelClient {
  readonly pool: EndpointPool;
  private readonly policy: RetryPolicy;
  private readonly requestTimeoutMs: number;
  private readonly headersTimeoutMs: number;
  private readonly idleMs: number;
  private readonly includeUsage: boolean;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl?: typeof fetch;
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
    this.headers = options.headers ?? {};
    this.fetchImpl = options.fetch;
    this.random = options.random ?? Math.random;
    this.log = options.log;
  }

  /** Streams one chat completion as typed events; ends with `done` or throws a `ModelError`. */
  stream(req: ModelRequest, opts: CallOptions = {}): AsyncGenerator<ModelStreamEvent, void, undefined> {
    return this.run(req, true, opts.signal);
  }

  /** One non-streaming chat completion (retried like `stream`). */
  async complete(req: ModelRequest, opts: CallOptions & { onRetry?: (e: Extract<ModelStreamEvent, { type: 'retry' }>) => void } = {}): Promise<ModelResult> {
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
          const err = e instanceof ModelError ? e : classifyError(e, { endpoint: ep.baseUrl, secrets: this.pool.secrets, phase: 'request' });
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
    const state: AttemptState = { endpoint: ep.baseUrl };
    try {
      const page = await this.sdk(ep, state, this.headersTimeoutMs).models.list({ signal });
      return page.data.map((m) => m.id);
    } catch (e) {
      throw classifyError(e, { endpoint: ep.baseUrl, secrets: this.pool.secrets, signal, phase: 'request', errorBody: state.errorBody, requestTimeoutMs: this.headersTimeoutMs });
    }
  }

  // -------------------------------------------------------------------------------------------

  /** An SDK client for one attempt; `timeoutMs` bounds the wait for the response headers. */
  private sdk(ep: Readonly<EndpointConfig>, state: AttemptState, timeoutMs: number): OpenAI {
    const base = this.fetchImpl ?? fetch;
    const capturing: typeof fetch = async (input, init) => {
      const res = await base(input, init);
      if (!res.ok) state.errorBody = await res.clone().text().catch(() => undefined);
      return res;
    };
    return new OpenAI({
      apiKey: ep.apiKey || 'EMPTY',
      baseURL: ep.baseUrl,
      organization: null,
      project: null,
      maxRetries: 0,
      timeout: timeoutMs,
      defaultHeaders: { ...this.headers, ...ep.headers },
      fetch: capturing,
    });
  }

  private body(req: ModelRequest, stream: boolean): Record<string, unknown> {
    const b: Record<string, unknown> = { model: req.model, messages: req.messages };
    if (req.tools?.length) b.tools = req.tools;
    if (req.temperature !== undefined) b.temperature = req.temperature;
    if (req.top_p !== undefined) b.top_p = req.top_p;
    if (req.max_tokens !== undefined) b.max_tokens = req.max_tokens;
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

  private async *run(req: ModelRequest, streaming: boolean, signal: AbortSignal | undefined): AsyncGenerator<ModelStreamEvent, void, undefined> {
    const body = this.body(req, streaming);
    let retries = 0;
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) throw new ModelAbortedError();
      const lease = this.pool.acquire();
      const ep = lease.endpoint;
      const state: AttemptState = { endpoint: ep.baseUrl };
      const ctrl = new AbortController();
      const onAbort = () => ctrl.abort(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      let outcome: 'ok' | 'failed' | 'neutral' = 'neutral';
      let failure: ModelError | undefined;
      let phase: 'request' | 'stream' = 'request';
      try {
        yield { type: 'start', endpoint: displayUrl(ep.baseUrl), attempt };
        const client = this.sdk(ep, state, streaming ? this.headersTimeoutMs : this.requestTimeoutMs);
        if (streaming) {
          // the raw response (status checked, errors as the SDK's), its events read by sse.ts
          const response = await client.chat.completions.create(body as never as OpenAI.ChatCompletionCreateParamsStreaming, { signal: ctrl.signal }).asResponse();
          phase = 'stream';
          yield* this.readStream(sseJson(response, ctrl) as AsyncIterable<ChatCompletionChunk>, ctrl, state, ep, retries);
        } else {
          const completion = (await client.chat.completions.create(body as never as OpenAI.ChatCompletionCreateParamsNonStreaming, { signal: ctrl.signal })) as ChatCompletion;
          yield* this.readCompletion(completion, ep, retries);
        }
        outcome = 'ok';
        return;
      } catch (e) {
        failure = classifyError(e, {
          endpoint: ep.baseUrl,
          model: req.model,
          secrets: this.pool.secrets,
          signal,
          phase,
          idleTimeoutMs: state.idleFired,
          errorBody: state.errorBody,
          requestTimeoutMs: streaming ? this.headersTimeoutMs : this.requestTimeoutMs,
        });
        outcome = failure instanceof ModelConnectionError || failure instanceof ModelStreamError || (failure instanceof ModelHttpError && failure.retryable) ? 'failed' : 'neutral';
      } finally {
        signal?.removeEventListener('abort', onAbort);
        ctrl.abort(); // closes the HTTP stream when the consumer left early; harmless after the end
        lease.release(outcome);
      }
      if (failure instanceof ModelAbortedError || signal?.aborted) throw new ModelAbortedError({ endpoint: ep.baseUrl, secrets: this.pool.secrets });
      if (!failure.retryable || retries >= this.policy.maxRetries) {
        failure.noteRetries(retries);
        this.log?.(redactSecrets(`model: giving up: ${failure.message}`, this.pool.secrets));
        throw failure;
      }
      retries++;
      // another endpoint is ready: fail over at once (the back-off is for retrying the same server)
      const failover = outcome === 'failed' && this.pool.readyCount(ep.baseUrl) > 0;
      const delayMs = failover ? 0 : retryDelay(failure, retries, this.policy, this.random);
      this.log?.(redactSecrets(`model: retry ${retries}/${this.policy.maxRetries} in ${delayMs} ms: ${failure.message}`, this.pool.secrets));
      yield { type: 'retry', attempt: retries, reason: shortReason(failure), delayMs, endpoint: displayUrl(ep.baseUrl), error: failure };
      await sleep(delayMs, signal);
    }
  }

  private async *readStream(
    stream: AsyncIterable<ChatCompletionChunk>,
    ctrl: AbortController,
    state: AttemptState,
    ep: Readonly<EndpointConfig>,
    retries: number,
  ): AsyncGenerator<ModelStreamEvent, void, undefined> {
    const asm = new ToolCallAssembler();
    let content = '';
    let finishReason: string | null | undefined;
    let usage: Usage | undefined;
    let model: string | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        state.idleFired = this.idleMs;
        ctrl.abort();
      }, this.idleMs);
    };
    arm();
    try {
      for await (const chunk of stream) {
        arm();
        if (chunk.model) model = chunk.model;
        if (chunk.usage) usage = mapUsage(chunk.usage);
        const choice = chunk.choices?.[0];
        if (!choice) continue;
        const delta = (choice.delta ?? {}) as ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null; reasoning?: string | null };
        if (delta.content) {
          content += delta.content;
          yield { type: 'delta', text: delta.content };
        }
        const reasoning = delta.reasoning_content ?? delta.reasoning;
        if (typeof reasoning === 'string' && reasoning) yield { type: 'reasoning', text: reasoning };
        if (delta.tool_calls?.length) for (const d of asm.push(delta.tool_calls)) yield { type: 'tool_call_delta', ...d };
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    } finally {
      clearTimeout(timer);
    }
    if (finishReason === undefined) throw new ModelStreamError({ endpoint: ep.baseUrl, detail: 'the stream ended before the model finished', secrets: this.pool.secrets });
    const toolCalls = asm.finish();
    for (const toolCall of toolCalls) yield { type: 'tool_call', toolCall };
    yield { type: 'finish', finishReason };
    if (usage) yield { type: 'usage', usage };
    yield { type: 'done', content, toolCalls, finishReason, usage, endpoint: displayUrl(ep.baseUrl), retries, model };
  }

  private async *readCompletion(c: ChatCompletion, ep: Readonly<EndpointConfig>, retries: number): AsyncGenerator<ModelStreamEvent, void, undefined> {
    const choice = c?.choices?.[0];
    if (!choice) throw new ModelResponseError({ endpoint: ep.baseUrl, detail: 'the answer has no choices', secrets: this.pool.secrets });
    const msg = choice.message as ChatCompletion.Choice['message'] & { reasoning_content?: string | null; reasoning?: string | null };
    const content = msg.content ?? '';
    const reasoning = msg.reasoning_content ?? msg.reasoning;
    if (typeof reasoning === 'string' && reasoning) yield { type: 'reasoning', text: reasoning };
    if (content) yield { type: 'delta', text: content };
    const asm = new ToolCallAssembler();
    asm.push(
      (msg.tool_calls ?? [])
        .filter((t): t is Extract<typeof t, { type: 'function' }> => t.type === 'function')
        .map((t, index) => ({ index, id: t.id, function: { name: t.function.name, arguments: t.function.arguments } })),
    );
    const toolCalls: ToolCall[] = asm.finish();
    for (const toolCall of toolCalls) yield { type: 'tool_call', toolCall };
    const finishReason = choice.finish_reason ?? null;
    yield { type: 'finish', finishReason };
    const usage = mapUsage(c.usage);
    if (usage) yield { type: 'usage', usage };
    yield { type: 'done', content, toolCalls, finishReason, usage, endpoint: displayUrl(ep.baseUrl), retries, model: c.model };
  }
}
