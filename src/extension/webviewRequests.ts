/**
 * The extension's end of a webview protocol (src/protocol): every message is checked once against
 * the protocol's schema, handed to the handler of its type, and answered with one reply under its
 * id (the handler's response, or the error). A malformed message runs nothing: it is logged with
 * the field it got wrong, and answered with that when its id could be read.
 */
import type * as v from 'valibot';
import { parseRequest, type Handlers, type Reply, type ResponseMap } from '../protocol/messages';

interface Log {
  warn(message: string): void;
  error(message: string): void;
}

export interface RequestRouter<R extends { type: string; id: string }, M extends ResponseMap<R>> {
  /** which webview, for the log and the errors ("chat view", "eval report", …) */
  what: string;
  schema: v.GenericSchema<unknown, R>;
  log: Log;
  reply(m: Reply<M[keyof M]>): void;
  /** a check before any handler runs (throws to refuse the request with its message) */
  guard?(request: R): void;
}

/** Returns the webview's message listener: validate, route to `handlers`, reply. */
export function routeRequests<R extends { type: string; id: string }, M extends ResponseMap<R>>(
  router: RequestRouter<R, M>,
  handlers: Handlers<R, M>,
): (raw: unknown) => Promise<void> {
  const { what, schema, log, reply } = router;
  return async (raw) => {
    const parsed = parseRequest(what, schema, raw);
    if (!parsed.ok) {
      log.warn(`${what}: ${parsed.error} (${JSON.stringify(raw)?.slice(0, 200)})`);
      if (parsed.id) reply({ type: 'reply', replyTo: parsed.id, ok: false, error: parsed.error });
      return;
    }
    const request = parsed.request;
    try {
      router.guard?.(request);
      const handler = handlers[request.type as R['type']] as (r: R) => M[keyof M] | Promise<M[keyof M]>;
      reply({ type: 'reply', replyTo: request.id, ok: true, data: await handler(request) });
    } catch (e) {
      log.error(`${what}: ${request.type} failed: ${(e as Error).stack ?? e}`);
      reply({ type: 'reply', replyTo: request.id, ok: false, error: (e as Error).message });
    }
  };
}
