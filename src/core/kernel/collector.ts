/**
 * Collects the iopub messages of one execute_request: stream text (capped), images (tagged by
 * the prelude with their source), the prelude's result record, and IPython's own error message
 * (only when the prelude's wrapper itself was interrupted).
 */
import { KernelSessionError } from './errors';
import type { ExecutionOutputEvent, ImageFailure, OutputImage, PreparedImage } from './types';
import type { JupyterMessage } from './wire';

export const RESULT_MIME = 'application/vnd.codedance.result+json';

/** What the prelude reports at the end of a cell or an input-image preparation. */
export interface PreludeResult {
  kind: 'result';
  op: 'run' | 'inputs' | 'reset';
  status: 'ok' | 'error' | 'exit' | 'interrupted';
  count?: number;
  error?: { ename: string; evalue: string; lineno?: number | null; traceback: string[] };
  truncated?: { stdout: number; stderr: number };
  /** images the code made that the prelude could not encode (or that were over the size limit) */
  imageFailures?: Array<{ source: string; width: number | null; height: number | null; reason: string }>;
  /** images the code made past the cell's limit (`maxImages`): neither encoded nor sent */
  imagesOmitted?: number;
  maxImages?: number;
  /** output of a short cell, held back and sent with the reply instead of as stream messages */
  stdout?: string;
  stderr?: string;
  /** images of a short cell that came as the reply's buffers (`buffer`: which one), not as display_data */
  images?: Array<Record<string, unknown> & { buffer: number; mime: string }>;
  /** the model's images of an `inputs` op: each PNG as base64, or as the result's binary frame `pngBuffer` */
  prepared?: Array<{
    pngBase64?: string;
    pngBuffer?: number;
    width: number;
    height: number;
    originalWidth: number;
    originalHeight: number;
  }>;
}

/**
 * The prepared images of an `inputs` result: each PNG from its binary frame (the prelude sends
 * them so where it can: no base64 in Python, no JSON of a large string, no HMAC over it), or from
 * its base64 (a notebook's kernel, whose frames the editor's API does not pass on).
 */
export function preparedImages(res: PreludeResult, buffers: readonly Buffer[] | undefined): PreparedImage[] {
  return (res.prepared ?? []).map((p, i) => {
    const frame = p.pngBuffer !== undefined ? buffers?.[p.pngBuffer] : undefined;
    if (p.pngBase64 === undefined && !frame)
      throw new KernelSessionError({
        reason: `the kernel's prepared input image #${i + 1} came without its bytes (binary frame ${p.pngBuffer} is missing)`,
        fix: 'restart the kernel; if it happens again, report it with the kernel log',
      });
    return {
      pngBase64: p.pngBase64 ?? frame!.toString('base64'),
      width: p.width,
      height: p.height,
      originalWidth: p.originalWidth,
      originalHeight: p.originalHeight,
    };
  });
}

/** The seed's order: last expression, then plt figures, then .show(), then other display() calls. */
const SOURCE_RANK: Record<OutputImage['source'], number> = { expression: 0, figure: 1, show: 2, display: 3, tool: 4 };

interface Collected {
  image: OutputImage;
  seq: number;
}

/** above this, an image's base64 is made at once (and a failure reported): near V8's longest string */
const LAZY_BASE64_MAX_BYTES = 256 * 1024 * 1024;

/**
 * An image whose `data` (base64) is made from its bytes when first read: a result nobody reads
 * as text never pays for the encoding (0.6 ms for a 512² PNG, on the cell's critical path
 * before), and whoever needs it (the model request) pays once. Reads, spreads, JSON and
 * structuredClone see an ordinary `data` string.
 */
function withLazyBase64(image: Omit<OutputImage, 'data'>, bytes: Buffer): OutputImage {
  let b64: string | undefined;
  return Object.defineProperty(image, 'data', {
    enumerable: true,
    configurable: true,
    get: () => (b64 ??= bytes.toString('base64')),
    set: (v: string) => {
      b64 = v;
    },
  }) as OutputImage;
}

/** width/height from a PNG's IHDR (undefined for anything else) */
export function pngSize(b64: string): { width: number; height: number } | undefined {
  return pngSizeOf(Buffer.from(b64.slice(0, 48), 'base64'));
}

function pngSizeOf(head: Buffer): { width: number; height: number } | undefined {
  if (head.length < 24 || head.readUInt32BE(0) !== 0x89504e47) return undefined;
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
}

/** the image's size as the prelude's tag says it, when it says both */
function taggedSize(tag: Record<string, any> | undefined): { width: number; height: number } | undefined {
  const w = typeof tag?.width === 'number' ? tag.width : undefined;
  const h = typeof tag?.height === 'number' ? tag.height : undefined;
  return w !== undefined && h !== undefined ? { width: w, height: h } : undefined;
}

export class CellCollector {
  stdout = '';
  stderr = '';
  /** bytes this side dropped (output that bypassed the prelude's cap, e.g. from C code) */
  readonly clientDropped = { stdout: 0, stderr: 0 };
  result: PreludeResult | undefined;
  /** the binary frames that came with the result (an `inputs` op's PNGs) */
  resultBuffers: Buffer[] | undefined;
  /** images that arrived but could not be taken (too large for a string here) */
  readonly imageFailures: ImageFailure[] = [];
  /** images that arrived past `maxImages` and were not kept (a kernel that did not apply the limit itself) */
  imagesOverLimit = 0;
  /** IPython's error message, if the wrapper itself raised (e.g. an interrupt at its very end) */
  ipythonError: { ename: string; evalue: string; traceback: string[] } | undefined;
  private readonly images: Collected[] = [];
  private untagged = 0;
  private readonly bytes = { stdout: 0, stderr: 0 };
  private readonly cap: number | undefined;

  constructor(
    maxOutputBytes: number | undefined,
    private readonly onOutput?: (ev: ExecutionOutputEvent) => void,
    /** images kept at most (the kernel applies the same limit first); undefined or 0: no limit */
    readonly maxImages?: number,
  ) {
    // the prelude caps Python-level writes exactly; this is the backstop for fd-level output,
    // with room for the prelude's own truncation marker
    this.cap = maxOutputBytes === undefined ? undefined : maxOutputBytes + 4096;
  }

  handle(msg: JupyterMessage): void {
    const c = msg.content as Record<string, any>;
    switch (msg.header.msg_type) {
      case 'stream':
        this.addStream(c.name === 'stderr' ? 'stderr' : 'stdout', String(c.text ?? ''));
        break;
      case 'display_data':
      case 'execute_result':
        this.addDisplay((c.data ?? {}) as Record<string, unknown>, (c.metadata ?? {}) as Record<string, any>, msg.buffers);
        break;
      case 'error':
        this.ipythonError = {
          ename: String(c.ename ?? 'Error'),
          evalue: String(c.evalue ?? ''),
          traceback: Array.isArray(c.traceback) ? c.traceback.map(String) : [],
        };
        break;
      default:
        break;
    }
  }

  /** output that came with the reply (after everything streamed) */
  addTail(name: 'stdout' | 'stderr', text: string | undefined): void {
    if (text) this.addStream(name, text);
  }

  /** the images that came with the reply (after everything streamed), in the order the cell made them */
  addReplyImages(tags: PreludeResult['images'], buffers: Buffer[] | undefined): void {
    if (!Array.isArray(tags) || !buffers?.length) return;
    for (const tag of tags) this.addDisplay({}, { codedance: tag }, buffers);
  }

  private addStream(name: 'stdout' | 'stderr', text: string): void {
    if (!text) return;
    let keep = text;
    if (this.cap !== undefined) {
      const n = Buffer.byteLength(text, 'utf8');
      const room = this.cap - this.bytes[name];
      if (room <= 0) {
        this.clientDropped[name] += n;
        return;
      }
      if (n > room) {
        keep = Buffer.from(text, 'utf8').subarray(0, room).toString('utf8');
        this.clientDropped[name] += n - room;
        this.bytes[name] = this.cap;
      } else {
        this.bytes[name] += n;
      }
    }
    this[name] += keep;
    this.onOutput?.({ kind: 'stream', name, text: keep });
  }

  private addDisplay(data: Record<string, unknown>, metadata: Record<string, any>, buffers: Buffer[] = []): void {
    const tag = metadata.codedance as Record<string, any> | undefined;
    if (data[RESULT_MIME] !== undefined) {
      this.result = data[RESULT_MIME] as PreludeResult;
      this.resultBuffers = buffers.length ? buffers : undefined;
      return;
    }
    // the prelude sends image bytes as a binary frame: metadata.codedance.{buffer, mime}
    const binary =
      tag && typeof tag.buffer === 'number' && buffers[tag.buffer] && (tag.mime === 'image/png' || tag.mime === 'image/jpeg')
        ? buffers[tag.buffer]
        : undefined;
    const mime: OutputImage['mime'] | undefined = binary
      ? tag!.mime
      : typeof data['image/png'] === 'string'
        ? 'image/png'
        : typeof data['image/jpeg'] === 'string'
          ? 'image/jpeg'
          : undefined;
    if (mime) return this.addImage(data, tag, binary, mime);
    // a display of something else (e.g. IPython's own display of a non-image): keep its text
    if (typeof data['text/plain'] === 'string') this.addStream('stdout', `${data['text/plain']}\n`);
  }

  /** An image output (binary frame or base64 in `data`), with what its tag says: source, size, the size before a resize. */
  private addImage(
    data: Record<string, unknown>,
    tag: Record<string, any> | undefined,
    binary: Buffer | undefined,
    mime: OutputImage['mime'],
  ): void {
    // the kernel sends at most maxImages (its seq counts them); this is the backstop
    const seq = typeof tag?.seq === 'number' ? tag.seq : 1e9 + ++this.untagged;
    if (this.maxImages && (seq < 1e9 ? seq > this.maxImages : this.images.length >= this.maxImages)) {
      this.imagesOverLimit++;
      return;
    }
    const source: OutputImage['source'] =
      tag?.kind === 'image' && typeof tag.source === 'string' && tag.source in SOURCE_RANK
        ? (tag.source as OutputImage['source'])
        : 'display';
    const tagged = taggedSize(tag);
    const image = this.imageOf(data, binary, mime, source, tagged);
    if (!image) return;
    const size = tagged ?? (mime === 'image/png' ? (binary ? pngSizeOf(binary) : pngSize(image.data)) : undefined);
    if (size) {
      image.width = size.width;
      image.height = size.height;
    }
    if (typeof tag?.originalWidth === 'number' && typeof tag.originalHeight === 'number')
      image.resizedFrom = { width: tag.originalWidth, height: tag.originalHeight };
    this.images.push({ image, seq });
    this.onOutput?.({ kind: 'image', image });
  }

  /** The image's bytes as base64 (a small binary frame encoded only when read); undefined, and said, when they are too large to take in. */
  private imageOf(
    data: Record<string, unknown>,
    binary: Buffer | undefined,
    mime: OutputImage['mime'],
    source: OutputImage['source'],
    size: { width: number; height: number } | undefined,
  ): OutputImage | undefined {
    if (binary && binary.length <= LAZY_BASE64_MAX_BYTES) return withLazyBase64({ mime, source }, binary);
    let text: string;
    try {
      text = binary ? binary.toString('base64') : String(data[mime]);
    } catch (e) {
      // beyond the longest string this runtime makes (hundreds of MB): say so, never drop it silently
      this.imageFailures.push({
        source,
        ...(size ?? {}),
        reason: `its ${binary?.length.toLocaleString('en-US') ?? 'encoded'} bytes are too large to take in (${(e as Error).message})`,
      });
      return undefined;
    }
    // base64 from Jupyter may be wrapped in lines: strip whitespace (only when there is any)
    return { mime, data: binary || !/\s/.test(text.slice(0, 200)) ? text : text.replace(/\s+/g, ''), source };
  }

  /** images in the seed's order */
  orderedImages(): OutputImage[] {
    return [...this.images].sort((a, b) => SOURCE_RANK[a.image.source] - SOURCE_RANK[b.image.source] || a.seq - b.seq).map((c) => c.image);
  }

  /** marks what this side dropped at the end of the kept text */
  finish(): void {
    for (const name of ['stdout', 'stderr'] as const) {
      const d = this.clientDropped[name];
      if (d > 0) {
        const marker = `\n[output truncated: ${d.toLocaleString('en-US')} more bytes of ${name} were not shown (limit: ${(this.cap! - 4096).toLocaleString('en-US')} bytes per cell)]\n`;
        this[name] += marker;
      }
    }
  }
}
