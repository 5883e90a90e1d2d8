/**
 * Model layer contracts: one chat-completions request to an OpenAI-compatible server (vLLM,
 * SGLang, the OpenAI API) and the typed events its streamed answer becomes. Structurally the
 * same request and a superset of the events of `ChatModel` in src/core/agent/model.ts, so a
 * `ModelClient` is a `ChatModel` (its `chat()` keeps only `delta`, `retry` and `done`).
 */
import type { ChatMessage, ToolCall } from '../protocol/types';
import type { Usage } from '../trajectory/types';
import type { ModelError } from './errors';

export interface ModelRequest {
  model: string;
  messages: ChatMessage[];
  tools?: unknown[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  /** stop strings (sent as `stop` when there are any) */
  stop?: string[];
  /** extra body fields sent as they are (vLLM's `top_k`, `repetition_penalty`, `chat_template_kwargs`, ...) */
  extra?: Record<string, unknown>;
}

export type ModelStreamEvent =
  /** an attempt started on `endpoint` (attempt 0 is the first try) */
  | { type: 'start'; endpoint: string; attempt: number }
  /** a piece of the assistant's text */
  | { type: 'delta'; text: string }
  /** a piece of reasoning text (servers with a reasoning parser send it apart from the content) */
  | { type: 'reasoning'; text: string }
  /** a piece of a tool call as it streams (for live UIs; the assembled call comes in `tool_call`) */
  | { type: 'tool_call_delta'; index: number; id?: string; name?: string; argumentsDelta: string }
  /** a complete tool call, assembled from its deltas, when the stream finished */
  | { type: 'tool_call'; toolCall: ToolCall }
  | { type: 'finish'; finishReason: string | null }
  | { type: 'usage'; usage: Usage }
  /**
   * the attempt failed and the request is sent again from scratch after `delayMs`: discard
   * every `delta`/`tool_call_delta` received since the last `start`
   */
  | { type: 'retry'; attempt: number; reason: string; delayMs: number; endpoint: string; error: ModelError }
  | {
      type: 'done';
      content: string;
      toolCalls: ToolCall[];
      finishReason?: string | null;
      usage?: Usage;
      endpoint: string;
      retries: number;
      model?: string;
    };

/** The result of a whole call (`complete()`, or the `done` event of `stream()`). */
export interface ModelResult {
  content: string;
  reasoning?: string;
  toolCalls: ToolCall[];
  finishReason?: string | null;
  usage?: Usage;
  endpoint: string;
  retries: number;
  /** the model name the server reported */
  model?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface EndpointConfig {
  /** OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (no trailing slash needed) */
  baseUrl: string;
  /** sent as `Authorization: Bearer …`; never logged (errors redact it) */
  apiKey?: string;
  headers?: Record<string, string>;
}

export type PoolStrategy = 'round-robin' | 'least-in-flight';

export interface RetryPolicy {
  /** retries after the first attempt (so maxRetries + 1 attempts in all); default 4 */
  maxRetries: number;
  /** first back-off delay, ms; doubled each retry; default 500 */
  baseDelayMs: number;
  /** back-off cap, ms; default 8000 */
  maxDelayMs: number;
  /** longest `retry-after` honoured, ms (a longer one is capped); default 60000 */
  maxRetryAfterMs: number;
}
