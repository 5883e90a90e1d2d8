/**
 * The Jupyter messaging wire format (protocol 5.3) over ZeroMQ multipart messages:
 *
 *   [routing ids…, "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers…]
 *
 * The signature is the hex HMAC (sha256 by default) over header, parent_header, metadata and
 * content, in that order, keyed with the connection file's `key`. An empty key means unsigned.
 * Pure functions, no sockets: unit-tested on their own.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { KernelProtocolError } from './errors';

export const DELIMITER = '<IDS|MSG>';
export const PROTOCOL_VERSION = '5.3';
const DELIMITER_BUF = Buffer.from(DELIMITER);

export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

export interface JupyterMessage<C = Record<string, any>> {
  /** routing identities before the delimiter (topic on iopub) */
  identities: Buffer[];
  header: MessageHeader;
  /** `{}` when there is no parent */
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, any>;
  content: C;
  buffers: Buffer[];
}

/** Computes and checks message signatures. */
export class Signer {
  private readonly key: Buffer;
  private readonly algorithm: string;

  constructor(key: string, scheme = 'hmac-sha256') {
    const m = /^hmac-([a-z0-9]+)$/.exec(scheme);
    if (!m) {
      throw new KernelProtocolError({
        reason: `unsupported Jupyter signature scheme '${scheme}'`,
        fix: "use 'hmac-sha256' in the connection file",
      });
    }
    this.algorithm = m[1];
    this.key = Buffer.from(key, 'utf8');
  }

  get enabled(): boolean {
    return this.key.length > 0;
  }

  /** hex HMAC over the four JSON frames; '' when signing is disabled */
  sign(frames: readonly Buffer[]): string {
    if (!this.enabled) return '';
    const h = createHmac(this.algorithm, this.key);
    for (const f of frames) h.update(f);
    return h.digest('hex');
  }

  verify(signature: Buffer, frames: readonly Buffer[]): boolean {
    if (!this.enabled) return true;
    const expected = Buffer.from(this.sign(frames), 'ascii');
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  }
}

export function newMsgId(): string {
  return randomUUID().replace(/-/g, '');
}

/** A new header for a message this client sends. */
export function makeHeader(msgType: string, session: string, username = 'codedance'): MessageHeader {
  return { msg_id: newMsgId(), msg_type: msgType, session, username, date: new Date().toISOString(), version: PROTOCOL_VERSION };
}

export interface OutgoingMessage {
  header: MessageHeader;
  parent_header?: Partial<MessageHeader>;
  metadata?: Record<string, unknown>;
  content: unknown;
  identities?: Buffer[];
}

/** Serializes and signs a message into ZeroMQ frames. */
export function serialize(msg: OutgoingMessage, signer: Signer): Buffer[] {
  const parts = [
    Buffer.from(JSON.stringify(msg.header)),
    Buffer.from(JSON.stringify(msg.parent_header ?? {})),
    Buffer.from(JSON.stringify(msg.metadata ?? {})),
    Buffer.from(JSON.stringify(msg.content ?? {})),
  ];
  return [...(msg.identities ?? []), DELIMITER_BUF, Buffer.from(signer.sign(parts), 'ascii'), ...parts];
}

function parseJson(frame: Buffer, what: string): any {
  try {
    return JSON.parse(frame.toString('utf8'));
  } catch (e) {
    throw new KernelProtocolError({
      reason: `a kernel message had an invalid JSON ${what} (${(e as Error).message})`,
      fix: 'this is a bug in the kernel or a stray process on the port; restart the session',
      error: e,
    });
  }
}

/**
 * Parses and verifies a multipart message. Throws `KernelProtocolError` when the delimiter is
 * missing, frames are missing, JSON is invalid or the signature does not match.
 */
export function parse(frames: readonly Buffer[], signer: Signer): JupyterMessage {
  let d = -1;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    if (f.length === DELIMITER_BUF.length && f.equals(DELIMITER_BUF)) {
      d = i;
      break;
    }
  }
  if (d < 0) {
    throw new KernelProtocolError({
      reason: `a message from the kernel has no '${DELIMITER}' delimiter (${frames.length} frames)`,
      fix: 'make sure nothing else listens on the kernel ports; restart the session',
    });
  }
  if (frames.length < d + 6) {
    throw new KernelProtocolError({
      reason: `a message from the kernel has ${frames.length - d - 1} frames after the delimiter, expected at least 5`,
      fix: 'restart the session; if it repeats, the kernel speaks an unsupported protocol version',
    });
  }
  const signed = frames.slice(d + 2, d + 6);
  if (!signer.verify(frames[d + 1], signed)) {
    throw new KernelProtocolError({
      reason: 'a message from the kernel has an invalid HMAC signature',
      fix: 'another process may be talking on the kernel ports, or the connection key is wrong; restart the session',
    });
  }
  return {
    identities: frames.slice(0, d) as Buffer[],
    header: parseJson(signed[0], 'header'),
    parent_header: parseJson(signed[1], 'parent_header'),
    metadata: parseJson(signed[2], 'metadata'),
    content: parseJson(signed[3], 'content'),
    buffers: frames.slice(d + 6) as Buffer[],
  };
}
