/**
 * A conversation's exchanges as the chat history stores them. A follow-up's trajectory holds the
 * messages of the exchange before it first (the model is sent the whole conversation), so
 * storing each exchange whole grows with the square of the conversation (100 exchanges: 7 MB of
 * JSON for 0.3 MB of messages) and reads back every earlier message again for each exchange.
 * Instead an exchange whose messages begin with all those of the exchange before it is stored
 * with the rest only: `previousMessages` (how many of the previous exchange's messages come
 * first) and `newMessages`, its `messages` left out; reading joins them back, the earlier
 * messages shared, not copied. Any other exchange (the first; one whose history differs, as
 * after an edit) keeps its `messages` whole, so files of earlier releases read as they are.
 * A release before this one cannot open a conversation with a continued exchange: it says the
 * exchange's messages are missing, rather than reading a history cut short.
 */
import type { ChatMessage } from '../protocol/types';
import type { Trajectory } from '../trajectory/types';

/** An exchange as stored: a Trajectory, or one that continues the exchange before it. */
export type StoredExchange = Trajectory | (Omit<Trajectory, 'messages'> & { previousMessages: number; newMessages: ChatMessage[] });

/** the same message: the same object (shared, as a live conversation has them), or the same JSON */
function sameMessage(a: ChatMessage, b: ChatMessage): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** `t`'s messages begin with all of `prev`'s */
function continues(prev: Trajectory | undefined, t: Trajectory): boolean {
  const before = prev?.messages ?? [];
  if (!before.length || t.messages.length < before.length) return false;
  for (let i = before.length - 1; i >= 0; i--) if (!sameMessage(before[i], t.messages[i])) return false;
  return true;
}

/** The exchanges as stored: each one that continues the one before with its own messages only. */
export function shareHistory(exchanges: readonly Trajectory[]): StoredExchange[] {
  return exchanges.map((t, i) => {
    const prev = exchanges[i - 1];
    if (!continues(prev, t)) return t;
    const { messages, ...rest } = t;
    return { ...rest, previousMessages: prev.messages.length, newMessages: messages.slice(prev.messages.length) };
  });
}

/**
 * The stored exchanges (raw JSON values, any release's) with each continued one's `messages`
 * joined back: the previous exchange's first `previousMessages` messages (the same objects), then
 * its `newMessages`. One that cannot be joined (its previous exchange has fewer messages) is left
 * without `messages`, and reading it says so.
 */
export function joinHistory(stored: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const raw of stored) {
    const x = raw as { previousMessages?: unknown; newMessages?: unknown } | null;
    const prev = (out.at(-1) as { messages?: unknown } | undefined)?.messages;
    if (!x || typeof x !== 'object' || typeof x.previousMessages !== 'number' || !Array.isArray(x.newMessages)) {
      out.push(raw);
      continue;
    }
    const {
      previousMessages: n,
      newMessages,
      ...rest
    } = x as Record<string, unknown> & { previousMessages: number; newMessages: unknown[] };
    out.push(Array.isArray(prev) && prev.length >= n ? { ...rest, messages: [...prev.slice(0, n), ...newMessages] } : rest);
  }
  return out;
}
