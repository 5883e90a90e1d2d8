/**
 * Image size and a perceptual hash (dHash, 64 bits: the image in grey at 9×8, each pixel brighter
 * than its right neighbour or not) computed by one long-lived Python process with Pillow, the
 * interpreter the kernels use (it has Pillow: a kernel requirement), over core/pyhelper's JSON
 * lines (ids, a timeout per image, a new process after a hang or a crash). JPEG and PNG decode
 * the same way the model's images were made, so a JPEG re-encode of the same picture hashes
 * within a few bits.
 *
 * The images it decodes were made by dataset code, so the process runs like a kernel: launched
 * through the kernel's own plan (sandbox.ts `planKernelLaunch`: bubblewrap where it works, the
 * same sandbox mode, the allow-listed environment, memory and process limits, no network), in
 * an empty working folder of its own that it cannot write to. It never sees CodeDance's
 * environment (API keys, tokens) or the user's files.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CodeDanceError } from '../errors';
import { planKernelLaunch, type LaunchPlan, type SandboxMode } from '../kernel/sandbox';
import { helperProgram, PythonHelper, PythonHelperError, type SpawnPlan } from '../pyhelper';

/** pyhelper setup: `handle(base64 image)` → [width, height, 16 hex digits] */
const SETUP = `
import base64, io
from PIL import Image
def handle(b64):
    im = Image.open(io.BytesIO(base64.b64decode(b64)))
    w, h = im.size
    px = list(im.convert('L').resize((9, 8), Image.BILINEAR).getdata())
    bits = 0
    for r in range(8):
        for c in range(8):
            bits = (bits << 1) | (1 if px[r * 9 + c] > px[r * 9 + c + 1] else 0)
    return [w, h, '%016x' % bits]
`;

export interface ImageSignature {
  width: number;
  height: number;
  /** 16 hex digits */
  hash: string;
}

export interface ImageHasherOptions {
  /** as the kernels' (`data verify --no-sandbox`: 'off'); default 'auto' */
  sandbox?: SandboxMode;
  /** address-space limit, MiB; undefined: the kernels' default; 0: none */
  memoryLimitMb?: number;
  /** the environment the allow-list picks from (default process.env) */
  hostEnv?: Record<string, string | undefined>;
  /** per image, ms (default 60000): a decode that takes longer fails, and the process starts again */
  timeoutMs?: number;
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

/** The spawn of a kernel launch plan: bwrap reports on fd 3 (`--info-fd`) and reads its seccomp filter from fd 4. */
function spawnPlan(plan: LaunchPlan, workdir: string): SpawnPlan {
  return {
    command: plan.command,
    args: plan.args,
    env: plan.env,
    cwd: workdir,
    extraFds: [plan.infoFd ? 'drain' : 'ignore', plan.seccomp ?? 'ignore'],
  };
}

export class ImageHasher {
  private constructor(
    private readonly helper: PythonHelper<string, [number, number, string]>,
    private readonly workdir: string,
    /** whether it runs in the bubblewrap sandbox */
    readonly sandboxed: boolean,
  ) {}

  /**
   * Starts the hasher's process, sandboxed as a kernel would be (throws SandboxUnavailableError
   * for 'on' where there is none), and waits until Pillow has imported.
   */
  static async open(python: string, o: ImageHasherOptions = {}): Promise<ImageHasher> {
    // its working folder: empty, and not writable by the sandboxed process (as root it runs as nobody)
    const workdir = mkdtempSync(path.join(os.tmpdir(), 'codedance-hash-'));
    let helper: PythonHelper<string, [number, number, string]> | undefined;
    try {
      chmodSync(workdir, 0o755);
      const plan = await planKernelLaunch({
        python,
        args: ['-c', helperProgram(SETUP)],
        hostEnv: o.hostEnv ?? process.env,
        env: {},
        workdir,
        sandbox: o.sandbox ?? 'auto',
        network: false,
        memoryLimitMb: o.memoryLimitMb,
      });
      helper = new PythonHelper({
        name: 'the image hasher',
        python,
        note: plan.sandboxed ? 'with Pillow, sandboxed' : 'with Pillow',
        launch: () => spawnPlan(plan, workdir),
        timeoutMs: o.timeoutMs ?? 60_000,
        fix: `check that ${python} runs and can import PIL (Pillow, which the kernels need too)`,
      });
      await helper.start();
      return new ImageHasher(helper, workdir, plan.sandboxed);
    } catch (e) {
      await helper?.dispose();
      rmSync(workdir, { recursive: true, force: true });
      throw e;
    }
  }

  /** the process started (bwrap when sandboxed), for tests */
  get pid(): number | undefined {
    return this.helper.pid;
  }

  async signature(bytes: Uint8Array): Promise<ImageSignature> {
    try {
      const [width, height, hash] = await this.helper.request(Buffer.from(bytes).toString('base64'));
      return { width, height, hash };
    } catch (e) {
      if (e instanceof PythonHelperError && e.code === 'raised')
        throw new CodeDanceError('dataset', `the image does not decode (${e.pythonError})`, { cause: e });
      throw e;
    }
  }

  /** Stops the process and, once it has exited, removes its (empty) working folder. */
  async dispose(): Promise<void> {
    await this.helper.dispose();
    rmSync(this.workdir, { recursive: true, force: true });
  }
}
