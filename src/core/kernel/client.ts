/**
 * A Jupyter client over ZeroMQ (zeromq v6): Dealer sockets for shell and control, a Subscriber
 * for iopub, a Dealer pinging the heartbeat echo. Replies are routed to the request by
 * `parent_header.msg_id`; iopub messages to the listener registered for that id.
 * Signatures are verified on every received message; bad messages are dropped and reported.
 */
import * as zmq from 'zeromq';
import { type ConnectionInfo, endpoint } from './connection';
import { KernelLaunchError, KernelProtocolError } from './errors';
import { type JupyterMessage, makeHeader, parse, serialize, Signer } from './wire';

export type IopubListener = (msg: JupyterMessage) => void;

export interface KernelClientOptions {
  /** a message failed to parse or verify (it was dropped) */
  onProtocolError?: (e: KernelProtocolError) => void;
  /** heartbeat ping period, ms (default 1000); 0 disables the heartbeat */
  heartbeatIntervalMs?: number;
  /** no echo for this long means the kernel is hung or gone (default 10000) */
  heartbeatTimeoutMs?: number;
  /** called once when the heartbeat has been silent for heartbeatTimeoutMs */
  onHeartbeatLost?: (silentMs: number) => void;
}

interface Pending {
  resolve: (m: JupyterMessage) => void;
  reject: (e: Error) => void;
}

const RECONNECT_MS = 10;

/** Serializes sends: zeromq v6 allows one send in flight per socket. */
class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly sock: zmq.Dealer) {}
  send(frames: Buffer[]): Promise<void> {
    const p = this.tail.then(() => this.sock.send(frames));
    this.tail = p.catch(() => undefined); // the caller gets the failure through `p`; the chain goes on
    return p;
  }
}

export class KernelClient {
  readonly session: string;
  private readonly signer: Signer;
  // we connect before the kernel has bound its ports: retry every 10 ms, not ZeroMQ's 100 ms
  // (a starting kernel otherwise waits up to 100 ms for its sockets, iopub's too)
  private readonly shell = new zmq.Dealer({ linger: 0, reconnectInterval: RECONNECT_MS });
  private readonly control = new zmq.Dealer({ linger: 0, reconnectInterval: RECONNECT_MS });
  // no receive limit on iopub: a burst of output must not be dropped (the prelude caps it)
  private readonly iopub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0, reconnectInterval: RECONNECT_MS });
  private readonly hb = new zmq.Dealer({ linger: 0, sendHighWaterMark: 10, reconnectInterval: RECONNECT_MS });
  private readonly shellQ = new SendQueue(this.shell);
  private readonly controlQ = new SendQueue(this.control);
  private readonly hbQ = new SendQueue(this.hb);
  private readonly pending = new Map<string, Pending>();
  private readonly iopubListeners = new Map<string, IopubListener>();
  private readonly anyIopub = new Set<IopubListener>();
  private closed = false;
  /** a receive loop died while the client was open: every request fails with this */
  private failed: KernelProtocolError | undefined;
  private hbTimer: NodeJS.Timeout | undefined;
  private lastPong = 0;
  private lastTick = 0;
  private hbLost = false;

  constructor(
    readonly conn: ConnectionInfo,
    private readonly opts: KernelClientOptions = {},
  ) {
    this.signer = new Signer(conn.key, conn.signature_scheme);
    this.session = makeHeader('x', '').msg_id;
  }

  connect(): void {
    this.shell.connect(endpoint(this.conn, 'shell'));
    this.control.connect(endpoint(this.conn, 'control'));
    this.iopub.connect(endpoint(this.conn, 'iopub'));
    this.iopub.subscribe();
    this.hb.connect(endpoint(this.conn, 'hb'));
    void this.loop(this.shell, (m) => this.onReply(m));
    void this.loop(this.control, (m) => this.onReply(m));
    void this.loop(this.iopub, (m) => this.onIopub(m));
    void this.hbLoop();
  }

  private async loop(sock: zmq.Dealer | zmq.Subscriber, handle: (m: JupyterMessage) => void): Promise<void> {
    try {
      for await (const frames of sock) {
        let msg: JupyterMessage;
        try {
          msg = parse(frames, this.signer);
        } catch (e) {
          if (e instanceof KernelProtocolError) this.opts.onProtocolError?.(e);
          continue;
        }
        try {
          handle(msg);
        } catch {
          // isolation only: listeners own their errors (executeRequest fails its request with a
          // throwing onMessage's error); one that does not must not stop every later message
        }
      }
    } catch (e) {
      // a closed socket ends the iteration without throwing (zeromq v6): this is a real failure
      if (!this.closed) this.fail(sock === this.iopub ? 'iopub' : sock === this.control ? 'control' : 'shell', e);
    }
  }

  /** A receive loop died: nothing more arrives on that channel, so every request fails now rather than hanging. */
  private fail(channel: string, e: unknown): void {
    this.failed ??= new KernelProtocolError({
      reason: `the kernel connection failed: receiving on its ${channel} channel stopped (${(e as Error)?.message ?? String(e)})`,
      fix: 'restart the kernel; if it happens again, report it',
      error: e,
    });
    for (const [, p] of this.pending) p.reject(this.failed);
    this.pending.clear();
  }

  private onReply(msg: JupyterMessage): void {
    const id = msg.parent_header.msg_id;
    if (!id) return;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.resolve(msg);
  }

  private onIopub(msg: JupyterMessage): void {
    const id = msg.parent_header.msg_id;
    if (id) this.iopubListeners.get(id)?.(msg);
    for (const l of this.anyIopub) l(msg);
  }

  /** Listens to iopub messages whose parent is `msgId`. Register before sending. */
  listen(msgId: string, listener: IopubListener): () => void {
    this.iopubListeners.set(msgId, listener);
    return () => {
      if (this.iopubListeners.get(msgId) === listener) this.iopubListeners.delete(msgId);
    };
  }

  /** Listens to every iopub message. */
  listenAll(listener: IopubListener): () => void {
    this.anyIopub.add(listener);
    return () => this.anyIopub.delete(listener);
  }

  /**
   * Sends a request; `reply` resolves with the matching *_reply (it rejects when the client
   * is closed). `beforeSend` runs with the msg_id before the bytes leave (register listeners there).
   */
  request(
    channel: 'shell' | 'control',
    msgType: string,
    content: unknown,
    beforeSend?: (msgId: string) => void,
  ): { msgId: string; reply: Promise<JupyterMessage> } {
    if (this.closed || this.failed) {
      const e = Promise.reject(
        this.failed ?? new KernelLaunchError({ reason: 'the kernel connection is closed', fix: 'start a new session' }),
      );
      e.catch(() => undefined); // the caller gets the rejection through `reply`; this only marks it handled
      return { msgId: '', reply: e };
    }
    const header = makeHeader(msgType, this.session);
    const reply = new Promise<JupyterMessage>((resolve, reject) => this.pending.set(header.msg_id, { resolve, reject }));
    reply.catch(() => undefined); // callers may race it against other events
    beforeSend?.(header.msg_id);
    const frames = serialize({ header, content }, this.signer);
    (channel === 'shell' ? this.shellQ : this.controlQ).send(frames).catch((e) => {
      const p = this.pending.get(header.msg_id);
      this.pending.delete(header.msg_id);
      p?.reject(e as Error);
    });
    return { msgId: header.msg_id, reply };
  }

  // -------------------------------------------------------------------------------------------
  // heartbeat
  // -------------------------------------------------------------------------------------------

  private hbArmed = false;

  private async hbLoop(): Promise<void> {
    const interval = this.opts.heartbeatIntervalMs ?? 1000;
    if (interval <= 0) return;
    const timeout = this.opts.heartbeatTimeoutMs ?? 10000;
    this.lastPong = this.lastTick = Date.now();
    this.hbTimer = setInterval(() => {
      const now = Date.now();
      // our own event loop stalled (a huge message, a busy machine): don't blame the kernel
      if (now - this.lastTick > 2 * interval) this.lastPong = now;
      this.lastTick = now;
      const silent = now - this.lastPong;
      // armed by the first echo: before it, the kernel is still starting (slow imports on a busy
      // machine), which the start timeout guards, not the heartbeat
      if (this.hbArmed && silent > timeout && !this.hbLost) {
        this.hbLost = true;
        this.opts.onHeartbeatLost?.(silent);
        return;
      }
      this.hbQ.send([Buffer.from('ping')]).catch(() => undefined); // a lost ping is a missing echo: the timeout above reports it
    }, interval);
    this.hbTimer.unref();
    try {
      for await (const _ of this.hb) {
        this.lastPong = Date.now();
        this.hbArmed = true;
      }
    } catch {
      // closing ends the iteration without throwing; any other failure stops the echoes, which
      // the timer above reports as a lost heartbeat
    }
  }

  /** ms since the last heartbeat echo */
  get heartbeatSilenceMs(): number {
    return Date.now() - this.lastPong;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.hbTimer) clearInterval(this.hbTimer);
    for (const [, p] of this.pending)
      p.reject(new KernelLaunchError({ reason: 'the kernel connection was closed', fix: 'start a new session' }));
    this.pending.clear();
    this.iopubListeners.clear();
    this.anyIopub.clear();
    for (const s of [this.shell, this.control, this.iopub, this.hb]) {
      try {
        s.close();
      } catch {
        // closing a socket twice: nothing is pending any more (rejected above)
      }
    }
  }
}
