/**
 * A Jupyter Server (URL + token) as seen by the remote kernel backend: settings for
 * `@jupyterlab/services` in Node (the `ws` package for WebSocket, Node's fetch), the checks
 * that turn its failures into errors naming cause and fix (wrong token -> HTTP 403, server
 * down, unknown kernelspec), and the choice of kernelspec. No `vscode` here.
 */
import { type KernelMessage, KernelSpecAPI, ServerConnection } from '@jupyterlab/services';
import type { Duplex } from 'node:stream';
import WebSocket from 'ws';
import wsPackage from 'ws/package.json';
import { KernelLaunchError, KernelSessionError } from '../errors';
import { fastPathsWanted } from '../fastPaths';
import { assembleLargeFrames, type FrameAssembler, wsFramesCheck } from './frames';
import { displayUrl, normalizeServerUrl, tokenFromUrl } from './url';

export { displayUrl, normalizeServerUrl, tokenFromUrl };

export interface JupyterServerOptions {
  /** base URL of the server, e.g. `http://gpu-box:8888/` (a JupyterHub user server: `https://hub/user/name/`) */
  url: string;
  /** the server's token (`JUPYTER_TOKEN` in the CLI, SecretStorage in the extension); '' for none */
  token?: string;
}

/**
 * Jupyter Server does not turn Nagle's algorithm off on its WebSockets: a message written while
 * the previous one is not yet acknowledged waits for the ACK, which the client delays up to
 * 40 ms, so each cell took ~45 ms on loopback. An unsolicited pong frame after each received
 * message carries the ACK at once: a few bytes that need no answer (RFC 6455 §5.5.3; a ping
 * would make the server write a pong, which then waits the same way). The pong is written once
 * the message has been handled, so that it does not delay the handling (a reply can end a cell).
 */
export class PromptAckWebSocket extends WebSocket {
  private ackPending = false;
  /** large frames are assembled as they arrive (frames.ts; a FramesWebSocket only) */
  frames: FrameAssembler | undefined;

  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { perMessageDeflate: false });
    // after the message has been handled (its reply may end a cell), once for a burst of them
    this.on('message', () => {
      if (this.ackPending) return;
      this.ackPending = true;
      setImmediate(() => {
        this.ackPending = false;
        if (this.readyState === WebSocket.OPEN) this.pong();
      });
    });
  }
}

/**
 * Why the fast path of `ws` (FramesWebSocket) is off, or undefined when it is on: off when fast
 * paths are turned off (`fastPaths`, CODEDANCE_KERNEL_FAST_PATHS=0), for a `ws` version it was
 * not tested with, or when what it overrides is not there (frames.ts `wsFramesCheck`).
 */
export function wsFramesOff(fastPaths?: boolean): string | undefined {
  if (!fastPathsWanted(fastPaths)) return 'turned off by the client (the fastPaths option, or CODEDANCE_KERNEL_FAST_PATHS=0)';
  return wsFramesCheck(wsPackage.version, WebSocket.prototype);
}

/** the installed `ws` version (the fast path's report names it) */
export const WS_VERSION = wsPackage.version;

/**
 * A fast path that overrides internals of `ws` (used only where `wsFramesOff` says so): large
 * frames are received into memory made ready beforehand (frames.ts), and binary messages stay
 * Node Buffers.
 */
export class FramesWebSocket extends PromptAckWebSocket {
  /**
   * `ws` (8.x) calls this with the socket once the HTTP upgrade is done, and the bytes after it.
   * It is ws's own hook, not its public API (hence the version gate); should a ws stop calling
   * it, frames simply reach ws as the socket reads them (`test/unit/kernel/remoteFrames.test.ts`).
   */
  setSocket(socket: Duplex, head: Buffer, options: unknown): void {
    this.frames = assembleLargeFrames(socket);
    (WebSocket.prototype as unknown as { setSocket: (s: Duplex, h: Buffer, o: unknown) => void }).setSocket.call(
      this,
      socket,
      head,
      options,
    );
  }
}

/**
 * `@jupyterlab/services` asks for 'arraybuffer'; a large frame's payload would then be copied
 * once more (it is a view of memory made ready beforehand, frames.ts). Binary messages stay Node
 * Buffers, which `serverSettings`' deserializer reads in place.
 */
const wsBinaryType = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'binaryType');
if (wsBinaryType?.get && wsBinaryType.set) {
  const { get, set } = wsBinaryType;
  Object.defineProperty(FramesWebSocket.prototype, 'binaryType', {
    configurable: true,
    enumerable: true,
    get(this: WebSocket) {
      return get.call(this);
    },
    set(this: WebSocket, type: WebSocket['binaryType']) {
      set.call(this, type === 'arraybuffer' ? 'nodebuffer' : type);
    },
  });
}

const V1_PROTOCOL = 'v1.kernel.websocket.jupyter.org';
const utf8 = new TextDecoder('utf8');

/**
 * A message of the `v1.kernel.websocket.jupyter.org` protocol: [count, offsets…, channel,
 * header, parent_header, metadata, content, buffers…]. Like `@jupyterlab/services`' own reader,
 * except that the parts are read in place: its reader copies each part out first, a second copy
 * of every image (hundreds of KB a cell) and garbage to collect.
 */
export function deserializeV1(data: ArrayBuffer | Uint8Array): KernelMessage.IMessage {
  const bin = data instanceof ArrayBuffer ? data : data.buffer;
  const base = data instanceof ArrayBuffer ? 0 : data.byteOffset;
  const view = new DataView(bin, base);
  const n = Number(view.getBigUint64(0, true));
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) offsets.push(Number(view.getBigUint64(8 * (i + 1), true)));
  const text = (i: number) => utf8.decode(new Uint8Array(bin, base + offsets[i], offsets[i + 1] - offsets[i]));
  const buffers: DataView[] = [];
  for (let i = 5; i < offsets.length - 1; i++) buffers.push(new DataView(bin, base + offsets[i], offsets[i + 1] - offsets[i]));
  return {
    channel: text(0),
    header: JSON.parse(text(1)),
    parent_header: JSON.parse(text(2)),
    metadata: JSON.parse(text(3)),
    content: JSON.parse(text(4)),
    buffers,
  } as unknown as KernelMessage.IMessage;
}

/** `fastPaths`: false turns the fast path of `ws` off (wsFramesOff) */
export function serverSettings(opts: JupyterServerOptions & { fastPaths?: boolean }): ServerConnection.ISettings {
  const baseUrl = normalizeServerUrl(opts.url);
  const wsUrl = baseUrl.replace(/^http/, 'ws');
  const standard = ServerConnection.makeSettings().serializer;
  return ServerConnection.makeSettings({
    baseUrl,
    wsUrl,
    token: opts.token ?? tokenFromUrl(opts.url) ?? '',
    // the kernel WebSocket cannot carry an Authorization header in browsers; `ws` could, but the
    // query parameter is what every Jupyter Server accepts
    appendToken: true,
    WebSocket: (wsFramesOff(opts.fastPaths) === undefined ? FramesWebSocket : PromptAckWebSocket) as unknown as typeof globalThis.WebSocket,
    serializer: {
      serialize: (msg, protocol) => standard.serialize(msg, protocol),
      deserialize: (data: ArrayBuffer | Uint8Array | string, protocol) => {
        const v1 = protocol === V1_PROTOCOL;
        // copied out (once) for the legacy protocol's reader, which wants an ArrayBuffer of the
        // message alone, and for a small message: a view of a socket read (up to 64 KB) that its
        // images would keep alive
        if (data instanceof Uint8Array && (!v1 || data.byteLength * 2 < data.buffer.byteLength)) {
          data = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer;
        }
        return v1 && typeof data !== 'string' ? deserializeV1(data) : standard.deserialize(data as ArrayBuffer, protocol);
      },
    },
  });
}

/** A REST failure of `@jupyterlab/services` as an error that names the server, the cause and the fix. */
export function serverError(e: unknown, url: string, doing: string): KernelLaunchError {
  const where = displayUrl(url);
  const status = (e as { response?: { status?: number } })?.response?.status;
  if (status === 403 || status === 401) {
    return new KernelLaunchError({
      reason: `the Jupyter server at ${where} refused the token (HTTP ${status} ${status === 403 ? 'Forbidden' : 'Unauthorized'}) while ${doing}`,
      fix: { text: 'set the token the server printed at its start (`jupyter server list` shows it)', setting: 'kernel.jupyterToken' },
      error: e,
    });
  }
  if (
    e instanceof ServerConnection.NetworkError ||
    (e as Error)?.name === 'NetworkError' ||
    /fetch failed|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/i.test(String((e as Error)?.message))
  ) {
    return new KernelLaunchError({
      reason: `cannot reach the Jupyter server at ${where} while ${doing} (${(e as Error)?.message ?? String(e)})`,
      fix: 'start the server (e.g. `jupyter server --port 8888`) or fix the URL; the chat session goes on once it answers again',
      error: e,
      retryable: true,
    });
  }
  if (status === 404) {
    return new KernelLaunchError({
      reason: `the Jupyter server at ${where} has no such endpoint (HTTP 404) while ${doing}`,
      fix: 'check the URL: it must be the base URL of a Jupyter Server (for JupyterHub: https://hub/user/NAME/)',
      error: e,
    });
  }
  return new KernelLaunchError({
    reason: `the Jupyter server at ${where} failed while ${doing}: ${(e as Error)?.message ?? String(e)}${status ? ` (HTTP ${status})` : ''}`,
    fix: "check the server's log",
    error: e,
  });
}

export interface KernelSpecChoice {
  name: string;
  displayName: string;
  language: string;
  /** all the server's kernelspecs (for pickers) */
  available: Array<{ name: string; displayName: string; language: string }>;
}

/** Lists the server's kernelspecs (checks URL and token) and picks `wanted`, else the server's default. */
export async function chooseKernelSpec(settings: ServerConnection.ISettings, url: string, wanted?: string): Promise<KernelSpecChoice> {
  let specs: KernelSpecAPI.ISpecModels;
  try {
    specs = await KernelSpecAPI.getSpecs(settings);
  } catch (e) {
    throw serverError(e, url, 'listing its kernelspecs');
  }
  const available = Object.values(specs.kernelspecs)
    .filter((s): s is NonNullable<typeof s> => !!s)
    .map((s) => ({ name: s.name, displayName: s.display_name, language: s.language }));
  const name = wanted?.trim() || specs.default;
  const spec = available.find((s) => s.name === name);
  if (!spec) {
    throw new KernelSessionError({
      reason: `the Jupyter server at ${displayUrl(url)} has no kernelspec "${name}" (it has: ${available.map((s) => s.name).join(', ') || 'none'})`,
      fix: `choose one of those (CLI: --kernel-name NAME), or install the kernel on the server (\`python -m ipykernel install --user --name ${name}\`)`,
    });
  }
  if (spec.language.toLowerCase() !== 'python') {
    throw new KernelSessionError({
      reason: `the kernelspec "${spec.name}" on ${displayUrl(url)} runs ${spec.language}, not Python`,
      fix: `choose a Python kernelspec (${
        available
          .filter((s) => s.language.toLowerCase() === 'python')
          .map((s) => s.name)
          .join(', ') || 'the server has none'
      })`,
    });
  }
  return { ...spec, available };
}
