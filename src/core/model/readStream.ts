/**
 * An endpoint's answer to a chat completion read as `ModelStreamEvent`s (ModelClient.ts): a
 * server-sent event stream with its idle timer (`readStream`), or one JSON completion
 * (`readCompletion`); tool-call deltas assembled, usage mapped, a stream that breaks off or
 * sends an error thrown as a `ModelStreamError`.
 */
import type { ChatCompletion, ChatCompletionChunk } from 'openai/resources/chat/completions';
import type { ToolCall } from '../protocol/types';
import type { Usage } from '../trajectory/types';
import type { EndpointPool } from './EndpointPool';
import { ModelResponseError, ModelStreamError } from './errors';
import { displayUrl } from '../secrets';
import { sseJson } from './sse';
import { ToolCallAssembler } from './ToolCallAssembler';
import type { EndpointConfig, ModelStreamEvent } from './types';

/** What ended an attempt besides its own error: the stream's idle timer (ms) */
export interface IdleState {
  firedMs?: number;
}

/** Where an answer comes from: its endpoint, the retries before it, and the pool whose keys are redacted from errors. */
export interface AnswerSource {
  ep: Readonly<EndpointConfig>;
  retries: number;
  pool: Pick<EndpointPool, 'secrets'>;
}

/** An endpoint's answer to a chat completion: a choice's text and tool calls, as vLLM and OpenAI send them */
type Delta = ChatCompletionChunk.Choice.Delta & { reasoning_content?: string | null; reasoning?: string | null };
type Message = ChatCompletion.Choice['message'] & { reasoning_content?: string | null; reasoning?: string | null };

function mapUsage(u: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null | undefined): Usage | undefined {
  if (!u) return undefined;
  const promptTokens = u.prompt_tokens ?? 0;
  const completionTokens = u.completion_tokens ?? 0;
  return { promptTokens, completionTokens, totalTokens: u.total_tokens ?? promptTokens + completionTokens };
}

/**
 * A streamed answer (server-sent events) as events; `ctrl` is aborted, and `idle.firedMs` set,
 * when no event comes for `idleMs`.
 */
export async function* readStream(
  res: Response,
  ctrl: AbortController,
  idle: IdleState,
  idleMs: number,
  src: AnswerSource,
): AsyncGenerator<ModelStreamEvent, void, undefined> {
  const { ep, retries } = src;
  const asm = new ToolCallAssembler();
  let content = '';
  let finishReason: string | null | undefined;
  let usage: Usage | undefined;
  let model: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle.firedMs = idleMs;
      ctrl.abort();
    }, idleMs);
  };
  arm();
  try {
    for await (const payload of sseJson(res.body)) {
      arm();
      const chunk = payload as ChatCompletionChunk & { error?: { message?: unknown } | string };
      if (chunk.error)
        throw new ModelStreamError({
          endpoint: ep.baseUrl,
          detail: `the server sent an error in the stream: ${streamErrorText(chunk.error)}`,
          secrets: src.pool.secrets,
        });
      if (chunk.model) model = chunk.model;
      if (chunk.usage) usage = mapUsage(chunk.usage);
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const delta = (choice.delta ?? {}) as Delta;
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
  if (finishReason === undefined)
    throw new ModelStreamError({
      endpoint: ep.baseUrl,
      detail: 'the stream ended before the model finished',
      secrets: src.pool.secrets,
    });
  const toolCalls = asm.finish();
  for (const toolCall of toolCalls) yield { type: 'tool_call', toolCall };
  yield { type: 'finish', finishReason };
  if (usage) yield { type: 'usage', usage };
  yield { type: 'done', content, toolCalls, finishReason, usage, endpoint: displayUrl(ep.baseUrl), retries, model };
}

/** A whole (not streamed) answer as the same events. */
export async function* readCompletion(c: ChatCompletion, src: AnswerSource): AsyncGenerator<ModelStreamEvent, void, undefined> {
  const { ep, retries } = src;
  const choice = c?.choices?.[0];
  if (!choice) throw new ModelResponseError({ endpoint: ep.baseUrl, detail: 'the answer has no choices', secrets: src.pool.secrets });
  const msg = choice.message as Message;
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

/** The text of an `error` payload in a stream (`{message}` or a string). */
function streamErrorText(error: { message?: unknown } | string): string {
  if (typeof error === 'string') return error;
  return typeof error.message === 'string' ? error.message : JSON.stringify(error);
}
