/**
 * The JSON payloads of a streamed chat completion (server-sent events), read straight off the
 * response body. The `openai` package's own reader copies the rest of its byte buffer once per
 * event (quadratic in the events of a network chunk) and passes each one through three async
 * generators: for a 180-delta answer that was most of the client's time and garbage
 * (`npm run bench -- agent --profile`). Same meaning as its `Stream` for chat completions:
 * lines end in \n, \r\n or \r; `event:`/`data:` fields, comments ignored, an event ends at an
 * empty line; `data: [DONE]` ends the payloads; a payload with an `error` throws the SDK's
 * `APIError`; an abort (the caller's signal, the idle timer) ends the stream quietly.
 */
import { APIError, OpenAIError } from 'openai';

function isAbort(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'AbortError';
}

/** Splits text into SSE events; `final` ends the last line even without its line break. */
export class SseDecoder {
  private buf = '';
  private data: string[] = [];
  private event: string | null = null;

  /** the events completed by this text: `{ event, data }` */
  push(text: string, final = false): Array<{ event: string | null; data: string }> {
    const out: Array<{ event: string | null; data: string }> = [];
    const buf = this.buf + text;
    let start = 0;
    const n = buf.length;
    for (let i = 0; i < n; i++) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // a \r at the very end may be the first half of a \r\n split across chunks
      if (c === 13 && i + 1 === n && !final) break;
      this.line(buf.slice(start, i), out);
      if (c === 13 && buf.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.buf = buf.slice(start);
    if (final && this.buf) {
      this.line(this.buf, out);
      this.buf = '';
    }
    return out;
  }

  private line(line: string, out: Array<{ event: string | null; data: string }>): void {
    if (!line) {
      if (this.event !== null || this.data.length) out.push({ event: this.event, data: this.data.join('\n') });
      this.event = null;
      this.data = [];
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ':' a comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
  }
}

/** The JSON payloads of `response`'s event stream, in order (see the file comment). */
export async function* sseJson(response: Response, ctrl: AbortController): AsyncGenerator<unknown, void, undefined> {
  if (!response.body) {
    ctrl.abort();
    throw new OpenAIError('Attempted to iterate over a response with no body');
  }
  const reader = response.body.getReader();
  const text = new TextDecoder();
  const sse = new SseDecoder();
  let finished = false;
  let done = false;
  try {
    while (!finished) {
      const r = await reader.read();
      finished = r.done;
      const events = r.done ? sse.push(text.decode(), true) : sse.push(text.decode(r.value, { stream: true }));
      for (const ev of events) {
        if (done) continue; // after [DONE]: read to the end, yield nothing
        if (ev.data.startsWith('[DONE]')) {
          done = true;
          continue;
        }
        if (ev.event !== null && ev.event.startsWith('thread.')) continue; // not a chat completion event
        const payload = JSON.parse(ev.data) as { error?: unknown } | null;
        if (payload && payload.error) throw new APIError(undefined, payload.error as object, undefined, response.headers);
        yield payload;
      }
    }
  } catch (e) {
    if (isAbort(e)) return;
    throw e;
  } finally {
    if (!finished) {
      // the consumer left early, or an error: stop the HTTP stream
      ctrl.abort();
      reader.cancel().catch(() => undefined);
    }
    reader.releaseLock();
  }
}
