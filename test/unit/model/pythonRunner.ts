/**
 * Test helper: runs model-written code in a fresh `/usr/bin/python3` process with
 * `input_image` bound (optionally after a JPEG round trip or the seed's smart resize), the way
 * the real kernel would; and a minimal `KernelSession` on top of it for loop tests. Tests that
 * need it skip when python3 lacks PIL/numpy.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type {
  ExecuteOptions,
  ExecutionResult,
  KernelSession,
  KernelState,
  PreparedImage,
  PrepareImageOptions,
} from '../../../src/core/kernel/types';

export const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

let available: boolean | undefined;
export function pythonAvailable(): boolean {
  available ??= spawnSync(PYTHON, ['-c', 'import PIL, numpy'], { encoding: 'utf8' }).status === 0;
  return available;
}

const PRELUDE = `
import io, sys, math
from PIL import Image
_img = Image.open(sys.argv[1]).convert('RGB')
_mode = sys.argv[2]
if _mode == 'jpeg':
    _b = io.BytesIO(); _img.save(_b, format='JPEG'); _b.seek(0); _img = Image.open(_b).convert('RGB')
elif _mode.startswith('resize:'):
    _w, _h = map(int, _mode[7:].split('x')); _img = _img.resize((_w, _h), resample=Image.BICUBIC)
input_image = _img
`;

export interface RunOptions {
  mode?: 'png' | 'jpeg' | `resize:${number}x${number}`;
  timeoutMs?: number;
}

/** Runs `code` once; stdout/stderr and an error shaped like the kernel's. */
export function runPython(png: Uint8Array, code: string, opts: RunOptions = {}): ExecutionResult {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-py-'));
  try {
    const img = path.join(dir, 'input.png');
    const script = path.join(dir, 'cell.py');
    writeFileSync(img, png);
    const wrapped = `${PRELUDE}
_code = ${JSON.stringify(code)}
try:
    exec(compile(_code, '<cell>', 'exec'), globals())
except SyntaxError as e:
    print('__ERR__SyntaxError|' + str(e.msg) + '|' + str(e.lineno), file=sys.stderr); sys.exit(3)
except Exception as e:
    print('__ERR__' + type(e).__name__ + '|' + str(e) + '|', file=sys.stderr); sys.exit(3)
`;
    writeFileSync(script, wrapped);
    const t0 = Date.now();
    const r = spawnSync(PYTHON, [script, img, opts.mode ?? 'png'], { encoding: 'utf8', cwd: dir, timeout: opts.timeoutMs ?? 30_000 });
    const durationMs = Date.now() - t0;
    const errLine = /__ERR__([^|]*)\|([^|\n]*)\|(\d*)/.exec(r.stderr);
    const stderr = r.stderr.replace(/__ERR__.*\n?/, '');
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT')
      return {
        status: 'timeout',
        stdout: r.stdout ?? '',
        stderr,
        images: [],
        durationMs,
        error: { ename: 'TimeoutError', evalue: '', traceback: [] },
      };
    if (errLine)
      return {
        status: 'error',
        stdout: r.stdout,
        stderr,
        images: [],
        durationMs,
        error: { ename: errLine[1], evalue: errLine[2], lineno: errLine[3] ? Number(errLine[3]) : undefined, traceback: [] },
      };
    return { status: 'ok', stdout: r.stdout, stderr, images: [], durationMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A KernelSession that runs each cell in a fresh python3 (no persistent namespace: enough for one-cell tasks). */
export class SubprocessKernel implements KernelSession {
  readonly id = 'subprocess';
  readonly workdir = os.tmpdir();
  readonly python = PYTHON;
  state: KernelState = 'idle';
  readonly cells: string[] = [];
  private image?: Uint8Array;
  constructor(private readonly mode: RunOptions['mode'] = 'png') {}
  async setInputImages(images: Uint8Array[], _opts: PrepareImageOptions): Promise<PreparedImage[]> {
    this.image = images[0];
    return images.map((b) => ({ pngBase64: Buffer.from(b).toString('base64'), width: 0, height: 0, originalWidth: 0, originalHeight: 0 }));
  }
  async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    this.cells.push(code);
    if (!this.image) throw new Error('SubprocessKernel: no input image');
    return runPython(this.image, code, { mode: this.mode, timeoutMs: opts.timeoutMs });
  }
  onStateChange(): () => void {
    return () => {};
  }
  async interrupt(): Promise<void> {}
  async dispose(): Promise<void> {
    this.state = 'disposed';
  }
}
