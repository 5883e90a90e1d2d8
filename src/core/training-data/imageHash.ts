/**
 * Image size and a perceptual hash (dHash, 64 bits: the image in grey at 9×8, each pixel brighter
 * than its right neighbour or not) computed by one Python process with Pillow, the interpreter
 * the kernels use (it has Pillow: a kernel requirement). One line in (base64), one line out
 * (`W H HASH` or `ERR reason`), in order. JPEG and PNG decode the same way the model's
 * images were made, so a JPEG re-encode of the same picture hashes within a few bits.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CodeDanceError } from '../errors';

const SCRIPT = `
import sys, base64, io
from PIL import Image
for line in sys.stdin:
    try:
        im = Image.open(io.BytesIO(base64.b64decode(line.strip())))
        w, h = im.size
        px = list(im.convert('L').resize((9, 8), Image.BILINEAR).getdata())
        bits = 0
        for r in range(8):
            for c in range(8):
                bits = (bits << 1) | (1 if px[r * 9 + c] > px[r * 9 + c + 1] else 0)
        sys.stdout.write('%d %d %016x\\n' % (w, h, bits))
    except Exception as e:
        sys.stdout.write(('ERR %s: %s' % (type(e).__name__, e)).replace('\\n', ' ') + '\\n')
    sys.stdout.flush()
`;

export interface ImageSignature {
  width: number;
  height: number;
  /** 16 hex digits */
  hash: string;
}

/** Hamming distance of two dHashes (0..64). */
export function hashDistance(a: string, b: string): number {
  let x = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let n = 0;
  while (x) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}

export class ImageHasher {
  private proc: ChildProcessWithoutNullStreams;
  private waiting: { resolve: (s: ImageSignature) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | undefined;

  constructor(python: string) {
    this.proc = spawn(python, ['-c', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    this.proc.stderr.on('data', (d) => (stderr = (stderr + String(d)).slice(-2000)));
    const fail = (why: string) => {
      this.failed = new CodeDanceError('python-env', `the image hasher (${python} with Pillow) stopped: ${why}${stderr ? `: ${stderr.trim()}` : ''}`, {
        fix: `check that ${python} runs and can import PIL (Pillow, which the kernels need too)`,
      });
      for (const w of this.waiting.splice(0)) w.reject(this.failed);
    };
    this.proc.on('error', (e) => fail(e.message));
    this.proc.on('exit', (code, sig) => fail(`exit ${code ?? sig}`));
    this.proc.stdin.on('error', () => undefined);
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      const w = this.waiting.shift();
      if (!w) return;
      if (line.startsWith('ERR ')) w.reject(new CodeDanceError('dataset', `the image does not decode (${line.slice(4)})`));
      else {
        const [width, height, hash] = line.split(' ');
        w.resolve({ width: Number(width), height: Number(height), hash });
      }
    });
  }

  signature(bytes: Uint8Array): Promise<ImageSignature> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.proc.stdin.write(Buffer.from(bytes).toString('base64') + '\n');
    });
  }

  dispose(): void {
    this.proc.stdin.end();
    this.proc.kill();
  }
}
