/**
 * A webview's end of its protocol (src/protocol): sends each request under a fresh message id
 * and settles it with the extension's one reply to that id, typed by the protocol's response map.
 */
import type { Reply, RequestData, ResponseMap } from '../protocol/messages';

interface VsCodeApi<M> {
  postMessage(msg: M): void;
}

export class Messenger<R extends { type: string; id: string }, M extends ResponseMap<R>> {
  /** unique across reloads of the page (a run outlives the page that started it) */
  private readonly prefix = Math.random().toString(36).slice(2, 10);
  private last = 0;
  private readonly waiting = new Map<string, { resolve: (data: unknown) => void; reject: (e: Error) => void }>();

  /** `onError`: what to do with the error of a request sent with `send` (nobody awaits it) */
  constructor(
    private readonly api: VsCodeApi<R>,
    private readonly onError: (message: string) => void,
  ) {}

  /** Sends a request; resolves with its response, rejects with the extension's error. */
  request<Q extends RequestData<R>>(m: Q): Promise<M[Q['type']]> {
    return this.post(m).reply as Promise<M[Q['type']]>;
  }

  /** Sends a request nobody waits for (its error goes to `onError`); returns its message id. */
  send(m: RequestData<R>): string {
    const { id, reply } = this.post(m);
    reply.catch((e: Error) => this.onError(e.message));
    return id;
  }

  private post(m: RequestData<R>): { id: string; reply: Promise<unknown> } {
    const id = `${this.prefix}-${++this.last}`;
    const reply = new Promise<unknown>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    this.api.postMessage({ ...m, id } as unknown as R);
    return { id, reply };
  }

  /** Settles the request a reply answers; false when no request of this page waits for it. */
  settle(reply: Reply): boolean {
    const w = this.waiting.get(reply.replyTo);
    if (!w) return false;
    this.waiting.delete(reply.replyTo);
    if (reply.ok) w.resolve(reply.data);
    else w.reject(new Error(reply.error));
    return true;
  }
}
