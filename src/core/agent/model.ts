/**
 * What the loop needs from a model: one streamed chat call. `src/core/model` provides the
 * real implementation over the `openai` package; tests may pass any other.
 */
import type { ChatMessage, ToolCall } from '../protocol/types';
import type { Usage } from '../trajectory/types';

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: unknown[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  stop?: string[];
  /** extra body fields sent as they are (vLLM's `top_k`, `repetition_penalty`, ...) */
  extra?: Record<string, unknown>;
}

export type ChatStreamEvent =
  | { type: 'delta'; text: string }
  | { type: 'retry'; attempt: number; reason: string }
  | {
      type: 'done';
      content: string;
      toolCalls: ToolCall[];
      finishReason?: string | null;
      usage?: Usage;
      endpoint: string;
      retries: number;
    };

export interface ChatModel {
  chat(req: ChatRequest, opts: { signal?: AbortSignal }): AsyncIterable<ChatStreamEvent>;
}
