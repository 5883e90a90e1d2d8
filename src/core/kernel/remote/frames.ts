/**
 * Large WebSocket frames received into memory made ready beforehand. A socket delivers a frame
 * of an image-bearing kernel message (hundreds of KB) in 64 KB reads; `ws` keeps the reads and,
 * when the last one is in, copies them into a new buffer whose pages the process touches for the
 * first time: ~130 page faults, 0.3-0.5 ms on the path from the kernel's reply to the cell's
 * result. Here each read is copied as it arrives into a buffer whose pages were touched earlier,
 * while the process waited for the kernel (`PrefaultedBuffers`), and `ws` gets the whole payload
 * as one read, which it hands on as it is (a view: binaryType 'nodebuffer').
 *
 * This reads only RFC 6455 frame headers (§5.2) between the socket and `ws`, and changes no byte:
 * small frames and everything we do not recognise pass through as they came.
 */
import type { Duplex } from 'node:stream';

/**
 * The `ws` versions (major.minor) the override of its internals (server.ts: `setSocket`, the
 * socket's 'data' events, `binaryType`) was written and tested with. A new one is added only
 * after the remote kernel suite passed on it, with fast paths on and off.
 */
export const TESTED_WS_VERSIONS = ['8.23'];

/**
 * Why large frames cannot be assembled here with this `ws` (its version, and the prototype of
 * its WebSocket), or undefined when they can: the version was tested, and what the override
 * replaces is there in the shape it expects.
 */
export function wsFramesCheck(version: string, proto: object): string | undefined {
  const minor = version.split('.').slice(0, 2).join('.');
  if (!TESTED_WS_VERSIONS.includes(minor)) return `ws ${version} is not a version it was tested with (${TESTED_WS_VERSIONS.join(', ')})`;
  const setSocket = (proto as { setSocket?: unknown }).setSocket;
  if (typeof setSocket !== 'function' || setSocket.length !== 3) return 'ws has no setSocket(socket, head, options)';
  const binaryType = Object.getOwnPropertyDescriptor(proto, 'binaryType');
  if (!binaryType?.get || !binaryType.set) return 'ws has no binaryType accessor';
  return undefined;
}

/** frames with at least this much payload are assembled here; smaller ones pass through */
export const ASSEMBLE_MIN_BYTES = 128 * 1024;

/** the parts of a frame header this needs: its length and its payload's length */
export function frameHeader(b: Buffer): { headerBytes: number; payloadBytes: number } | undefined {
  if (b.length < 2) return undefined;
  const masked = (b[1] & 0x80) !== 0;
  const len7 = b[1] & 0x7f;
  const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const headerBytes = 2 + ext + (masked ? 4 : 0);
  if (b.length < headerBytes) return undefined;
  let payloadBytes = len7;
  if (len7 === 126) payloadBytes = b.readUInt16BE(2);
  else if (len7 === 127) {
    const big = b.readBigUInt64BE(2);
    // ws refuses these itself (RFC 6455: the most significant bit must be 0; > 2^53 - 1 unsupported)
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) return { headerBytes, payloadBytes: -1 };
    payloadBytes = Number(big);
  }
  return { headerBytes, payloadBytes };
}

/** at most this much memory is held ready (a larger frame gets a buffer of its own, as before) */
export const PREFAULT_MAX_BYTES = 8 * 1024 * 1024;
const PAGE = 4096;

/**
 * One buffer whose pages have been touched, of the size of the last large frame plus a quarter:
 * `take(n)` hands out n bytes of it, or a new buffer when it is not ready, too small, or more
 * than twice n (the rest would live as long as the images in it); a new one is made ready after
 * the current callback, off the receiving path (while the kernel computes the next cell). What
 * was handed out belongs to the taker.
 */
export class PrefaultedBuffers {
  private ready: Buffer | undefined;
  private want = 0;
  private refill: NodeJS.Immediate | undefined;
  /** takes served from ready memory / takes that had to allocate (for tests) */
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes = PREFAULT_MAX_BYTES) {}

  take(n: number): Buffer {
    let out: Buffer;
    // ready memory of at most twice the frame: what is handed out lives as long as the images in it
    if (this.ready && this.ready.length >= n && this.ready.length <= 2 * n + PAGE) {
      out = this.ready.subarray(0, n);
      this.hits++;
    } else {
      out = Buffer.allocUnsafeSlow(n);
      this.misses++;
    }
    this.ready = undefined;
    // follows the frames' size: up at once to a larger one, down to a smaller one
    const size = Math.ceil((n * 1.25) / PAGE) * PAGE;
    this.want = size <= this.maxBytes ? size : 0;
    if (this.want > 0) this.scheduleRefill();
    return out;
  }

  private scheduleRefill(): void {
    if (this.refill) return;
    this.refill = setImmediate(() => {
      this.refill = undefined;
      if (this.want === 0) return;
      const b = Buffer.allocUnsafeSlow(this.want);
      // one write per page makes the system map it now instead of on the receiving path
      for (let i = 0; i < b.length; i += PAGE) b[i] = 0;
      this.ready = b;
    });
    this.refill.unref();
  }

  dispose(): void {
    if (this.refill) clearImmediate(this.refill);
    this.refill = undefined;
    this.ready = undefined;
  }
}

/**
 * Splits a byte stream of WebSocket frames as it arrives: `forward` gets every byte once, in
 * order; a large frame's payload comes as one buffer of exactly its size.
 */
export class FrameAssembler {
  /** bytes at a frame start that do not yet make a whole header */
  private head: Buffer | undefined;
  /** bytes of the current small frame still to pass through */
  private skip = 0;
  /** the large payload being filled */
  private big: Buffer | undefined;
  private filled = 0;
  /** set when the stream is not what this expects: everything passes through from then on */
  private passthrough = false;
  /** large frames assembled (for tests) */
  assembled = 0;

  constructor(
    private readonly forward: (chunk: Buffer) => void,
    private readonly minBytes = ASSEMBLE_MIN_BYTES,
    readonly memory = new PrefaultedBuffers(),
  ) {}

  push(chunk: Buffer): void {
    if (this.passthrough) return this.forward(chunk);
    let at = 0;
    while (at < chunk.length) {
      if (this.big) {
        const n = Math.min(this.big.length - this.filled, chunk.length - at);
        chunk.copy(this.big, this.filled, at, at + n);
        this.filled += n;
        at += n;
        if (this.filled === this.big.length) {
          const done = this.big;
          this.big = undefined;
          this.assembled++;
          this.forward(done);
        }
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.forward(chunk.subarray(at, at + n));
        this.skip -= n;
        at += n;
        continue;
      }
      // a frame starts here
      const rest = chunk.subarray(at);
      const bytes = this.head ? Buffer.concat([this.head, rest]) : rest;
      const h = frameHeader(bytes);
      if (!h) {
        this.head = Buffer.from(bytes); // a partial header (at most 13 bytes): wait for the rest
        return;
      }
      const fromHead = this.head ? this.head.length : 0;
      this.head = undefined;
      if (h.payloadBytes < 0 || (bytes[0] & 0x70) !== 0) {
        // a length ws refuses, or an extension's bits (none was negotiated): not ours to judge
        this.passthrough = true;
        return this.forward(bytes);
      }
      const available = bytes.length - h.headerBytes;
      // larger frames than memory is held ready for pass through (ws refuses those over its maxPayload)
      if (h.payloadBytes >= this.minBytes && h.payloadBytes <= this.memory.maxBytes && available < h.payloadBytes) {
        this.forward(Buffer.from(bytes.subarray(0, h.headerBytes)));
        this.big = this.memory.take(h.payloadBytes);
        this.filled = 0;
        at += h.headerBytes - fromHead;
      } else {
        this.skip = h.headerBytes + h.payloadBytes;
        if (fromHead > 0) {
          // the held header bytes go first, then the frame goes on from this chunk
          const n = Math.min(this.skip, bytes.length);
          this.forward(bytes.subarray(0, n));
          this.skip -= n;
          at += n - fromHead;
        }
      }
    }
  }

  /** forwards what is held of an unfinished frame (the socket is closing) and holds nothing more */
  flushPartial(): void {
    const partial = this.big?.subarray(0, this.filled) ?? this.head;
    this.big = undefined;
    this.head = undefined;
    this.passthrough = true;
    if (partial?.length) this.forward(partial);
  }
}

/**
 * Puts a FrameAssembler between `socket` and whoever listens to its 'data' events (`ws`, once
 * the HTTP upgrade is done). Returns the assembler.
 */
export function assembleLargeFrames(socket: Duplex, minBytes = ASSEMBLE_MIN_BYTES): FrameAssembler {
  const emit = socket.emit;
  const assembler = new FrameAssembler((chunk) => {
    emit.call(socket, 'data', chunk);
  }, minBytes);
  // These run before ws's own 'end' and 'close' listeners. On 'close', ws reads what a paused
  // socket still buffers straight into its receiver, not through 'data': those bytes go through
  // the assembler here instead. Then what it holds of an unfinished frame goes on, so that ws
  // sees every byte the socket got, in order, as it would without the assembler.
  socket.once('end', () => assembler.flushPartial());
  socket.once('close', () => {
    const rest = socket.readableLength > 0 ? (socket.read(socket.readableLength) as Buffer | null) : null;
    if (rest) assembler.push(rest);
    assembler.flushPartial();
    assembler.memory.dispose();
  });
  socket.emit = function (this: Duplex, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'data' && Buffer.isBuffer(args[0])) {
      assembler.push(args[0]);
      return true;
    }
    return emit.call(this, event, ...args);
  } as Duplex['emit'];
  return assembler;
}
