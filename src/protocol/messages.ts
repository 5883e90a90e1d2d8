/**
 * What the three webview protocols (chat, eval report, dataset viewer) share, after Continue's
 * `core/protocol`: every message from a webview is a request `{ type, id, …fields }` under a
 * fresh message id, described by a valibot schema from which its type is derived (no union
 * restated by hand); the extension checks it once, at the boundary (`parseRequest`: a malformed
 * message is refused with the field it got wrong), and answers it with exactly one `reply` under
 * its id, carrying the response type that the protocol's map gives that request, or an error.
 * What the extension sends on its own (a run's events, a pushed state) is a plain typed union.
 *
 * No DOM, no Node, no `vscode`: the extension and the webviews both import this folder.
 */
import * as v from 'valibot';

/** A message id, and any id a webview names (a run, a conversation): word characters and dashes. */
export const wordId = v.pipe(v.string(), v.regex(/^[\w-]{1,100}$/, 'expected 1 to 100 word characters or dashes'));

/** A string from a webview: every one has a length limit. */
export const text = (max: number) => v.pipe(v.string(), v.maxLength(max));

/** An index into a list (a row, an exchange, a page). */
export const index = v.pipe(v.number(), v.integer(), v.minValue(0));

/** The schema of one request type: its fields, its `type` and its message `id`. */
export function request<const T extends string, const F extends v.ObjectEntries>(type: T, fields: F) {
  return v.object({ type: v.literal(type), id: wordId, ...fields });
}

/** A protocol's requests as a webview writes them: without the id, which its messenger adds. */
export type RequestData<R extends { id: string }> = R extends unknown ? Omit<R, 'id'> : never;

/** The request of type `K` of union `R`. */
export type RequestOf<R extends { type: string }, K extends R['type']> = Extract<R, { type: K }>;

/** A protocol map (Continue's `[Request, Response]` pairs): for each request type, what its reply carries. */
export type ResponseMap<R extends { type: string }> = { [K in R['type']]: unknown };

/** The one answer to request `replyTo`: its response, or why it failed (shown to the user). */
export type Reply<T = unknown> =
  { type: 'reply'; replyTo: string; ok: true; data: T } | { type: 'reply'; replyTo: string; ok: false; error: string };

/** The extension's side of a protocol: one handler per request type, returning that request's response. */
export type Handlers<R extends { type: string }, M extends ResponseMap<R>> = {
  [K in R['type']]: (request: RequestOf<R, K>) => M[K] | Promise<M[K]>;
};

export type Parsed<T> =
  { ok: true; request: T } | { ok: false; error: string; /** the message's id, when it had a valid one */ id?: string };

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s);

/**
 * Checks a message from webview `what` against its protocol's schema. A refusal names the
 * request type and every field that is wrong (`reply.code: Invalid type: …`), and keeps the
 * message id when it had one, so that the webview can be told.
 */
export function parseRequest<S extends v.GenericSchema>(what: string, schema: S, raw: unknown): Parsed<v.InferOutput<S>> {
  const r = v.safeParse(schema, raw);
  if (r.success) return { ok: true, request: r.output };
  const m = raw !== null && typeof raw === 'object' ? (raw as { id?: unknown; type?: unknown }) : {};
  const id = v.is(wordId, m.id) ? m.id : undefined;
  const type = typeof m.type === 'string' ? ` '${clip(m.type, 40)}'` : '';
  const problems = r.issues.map((i) => `${v.getDotPath(i) ?? 'the message'}: ${clip(i.message, 200)}`);
  return { ok: false, id, error: `invalid ${what} message${type}: ${problems.join('; ')}` };
}
