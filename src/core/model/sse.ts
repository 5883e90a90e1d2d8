/**
 * The JSON payloads of a streamed chat completion. The body is decoded as UTF-8 and parsed as
 * server-sent events by `eventsource-parser` (the WHATWG rules: lines end in \n, \r\n or \r,
 * split anywhere across network chunks; comments and unknown fields skipped; an event ends at an
 * empty line). What is left here is the chat-completions convention: `data: [DONE]` ends the
 * payloads (the rest of the body is read, so the connection can be reused), and each other event's
 * data is one JSON value. An event longer than `maxEventChars` ends the stream with an error
 * rather than growing without bound. Leaving early cancels the body.
 */
import { createParser, type ParseError } from 'eventsource-parser';

/** The longest server-sent event accepted, in characters (a chunk of a chat completion is < 1 KB). */
export const MAX_EVENT_CHARS = 16 * 1024 * 1024;

export async function* sseJson(
  body: ReadableStream<Uint8Array> | null,
  o: { maxEventChars?: number } = {},
): AsyncGenerator<unknown, void, undefined> {
  if (!body) throw new Error('the response has no body');
  const maxEventChars = o.maxEventChars ?? MAX_EVENT_CHARS;
  const events: string[] = [];
  let overflow: ParseError | undefined;
  const parser = createParser({
    onEvent: (e) => events.push(e.data),
    onError: (e) => {
      if (e.type === 'max-buffer-size-exceeded') overflow = e;
    },
    maxBufferSize: maxEventChars,
  });
  const reader = body.getReader();
  const text = new TextDecoder();
  let finished = false;
  let done = false;
  try {
    while (!finished) {
      const r = await reader.read();
      finished = r.done;
      parser.feed(r.done ? text.decode() : text.decode(r.value, { stream: true }));
      if (overflow) throw new Error(`a server-sent event longer than ${maxEventChars} characters`);
      for (let i = 0; i < events.length; i++) {
        const data = events[i];
        if (done) continue; // after [DONE]: read to the end, yield nothing
        if (data.startsWith('[DONE]')) done = true;
        else yield JSON.parse(data) as unknown;
      }
      events.length = 0;
    }
  } finally {
    if (!finished) reader.cancel().catch(() => undefined); // the consumer stopped early: the rest of the stream is unwanted
    reader.releaseLock();
  }
}
