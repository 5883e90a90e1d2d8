/**
 * The arithmetic of a conversation's exchanges, kept out of the UI: which turn Retry redoes, what
 * code rebuilds a fresh kernel, the messages of an exchange stored without them, and the
 * trajectory of a run that failed before the loop could make one.
 */
import { randomUUID } from 'node:crypto';
import { observationLimit, type ReplayStep } from '../agent/options';
import { keptCode } from '../agent/resume';
import { sniffImageMime, type ImageMime } from '../images/sniffImageMime';
import { getProtocol, isProtocolId } from '../protocol';
import type { ChatMessage, ProtocolAdapter } from '../protocol/types';
import { cellResult } from '../trajectory/replay';
import { createTrajectory } from '../trajectory/create';
import type { Trajectory } from '../trajectory/types';
import type { Conversation } from './types';

export function newConversation(title = ''): Conversation {
  const now = new Date().toISOString();
  return { id: randomUUID(), title, createdAt: now, updatedAt: now, exchanges: [] };
}

/**
 * The turn Retry redoes in `last`: its last model call when that call ended the run (an answer)
 * or its reply is the last message; otherwise (the run failed or stopped after running the code
 * of its last reply) a new call after it.
 */
export function retryTurn(last: Trajectory): number {
  if (last.turns.length === 0) return 0;
  if (last.status === 'answered' || last.messages.at(-1)?.role === 'assistant') return last.turns.length - 1;
  return last.turns.length;
}

/**
 * What rebuilds a fresh kernel for `exchanges`: each exchange's input images, then its code that
 * ran to the end. `bindLastImages`: bind the latest exchange's images again at the end (the next
 * question brings none of its own, so `input_image` is the latest one).
 */
export function restorePlan(exchanges: Trajectory[], bindLastImages: boolean): ReplayStep[] {
  const steps: ReplayStep[] = exchanges.map((x) => ({
    inputImages: x.inputImages.length ? x.inputImages.map(bytesOf) : undefined,
    code: keptCode(x, x.turns.length),
  }));
  const withImages = bindLastImages ? [...exchanges].reverse().find((x) => x.inputImages.length) : undefined;
  if (withImages) steps.push({ inputImages: withImages.inputImages.map(bytesOf), code: [] });
  return steps;
}

/**
 * The exchanges with their model messages: an exchange stored without them (an eval result or a
 * history file of an older release) gets them rebuilt in its format from its turns, after the
 * earlier exchanges' messages (a follow-up's history). Exchanges that have them are kept as they are.
 */
export function withMessages(
  exchanges: Trajectory[],
  fallback: ProtocolAdapter,
  timeoutMs: number,
  maxObservationTokens?: number,
): Trajectory[] {
  let history: ChatMessage[] = [];
  return exchanges.map((x) => {
    const t = x.messages?.length
      ? x
      : {
          ...x,
          messages: [...history, ...rebuildMessages(x, protocolOf(x, fallback), timeoutMs, history.length > 0, maxObservationTokens)],
        };
    history = t.messages;
    return t;
  });
}

/** The exchange's own format; one that never reached the model (no turns) takes the run's. */
function protocolOf(x: Trajectory, fallback: ProtocolAdapter): ProtocolAdapter {
  return x.turns.length && x.protocol !== fallback.id && isProtocolId(x.protocol) ? getProtocol(x.protocol) : fallback;
}

/** One exchange's messages from its turns, as the loop appended them. */
function rebuildMessages(
  x: Trajectory,
  protocol: ProtocolAdapter,
  timeoutMs: number,
  followUp: boolean,
  maxObservationTokens?: number,
): ChatMessage[] {
  const initial = protocol.initialMessages(
    x.question,
    x.inputImages.map((im) => im.data),
    { imageSizes: x.inputImages.flatMap(({ width, height }) => (width && height ? [{ width, height }] : [])) },
  );
  const out = followUp ? initial.filter((m) => m.role !== 'system') : initial;
  for (const t of x.turns) {
    if (t.discarded) continue;
    out.push(protocol.assistantMessage({ content: t.content, toolCalls: t.toolCalls ?? [], finishReason: t.finishReason }));
    if (!t.cells.length && !t.malformed.length) continue;
    const executed = t.cells.map((c) => ({ request: { code: c.code, toolCallId: c.toolCallId }, result: cellResult(c) }));
    out.push(
      ...protocol.observation(executed, t.malformed, {
        turnIndex: t.index,
        maxTurns: x.maxTurns,
        timeoutMs,
        maxObservationTokens: observationLimit(maxObservationTokens),
        history: out,
      }),
    );
  }
  return out;
}

/** A trajectory for a run that failed before the loop could make one (endpoint unreachable, …). */
export function failedTrajectory(
  question: string,
  images: Uint8Array[],
  error: NonNullable<Trajectory['error']>,
  cancelled: boolean,
  durationMs: number,
  from?: Trajectory,
): Trajectory {
  return createTrajectory({
    question: from?.question ?? question,
    inputImages:
      from?.inputImages ??
      images.map((d, i) => ({ id: `input-${i}`, mime: imageMime(d), data: Buffer.from(d).toString('base64'), source: 'input' })),
    model: from?.model ?? '',
    endpoints: from?.endpoints ?? [],
    protocol: from?.protocol ?? 'codedance',
    sampling: {},
    maxTurns: from?.maxTurns ?? 0,
    messages: from?.messages ?? [],
    turns: from?.turns ?? [],
    status: cancelled ? 'cancelled' : 'error',
    error,
    durationMs,
  });
}

/** An attached image's type by its magic bytes (PNG for unknown bytes, which attachments refuse before this). */
export function imageMime(b: Uint8Array): ImageMime {
  return sniffImageMime(b) ?? 'image/png';
}

function bytesOf(im: { data: string }): Uint8Array {
  return new Uint8Array(Buffer.from(im.data, 'base64'));
}
