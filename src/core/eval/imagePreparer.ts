/**
 * The question's images as the model is sent them (resized the seed's way, as PNG), made without
 * the sample's kernel, so that a sample takes a kernel only when its first cell runs
 * (kernel/lazySession.ts). The code is the prelude's own (prelude/inputs.py: `_prepare_one`,
 * `smart_resize`, the same Pillow calls), run by a few long-lived Python processes with Pillow
 * (core/pyhelper), so the PNG is the one the kernel would have made; the kernel prepares the
 * images again from the same bytes when it is taken, for `input_image` and `input_image.jpg`.
 *
 * These processes decode dataset images and never run the model's code, so one serves every
 * sample; still, the images come from a dataset, so they run like a kernel: launched through
 * the kernel's own plan (sandbox.ts `planKernelLaunch`: bubblewrap where it works, the same
 * sandbox mode, the allow-listed environment, the memory limit, no network) in an empty working
 * folder they cannot write to.
 *
 * An image Pillow cannot read fails as it fails in the kernel (the same words: eval/rows.ts
 * `imageLoadFailure` records the row as skipped). A process that dies or hangs on an image, or
 * cannot start, is not the sample's fault: `prepare` then answers undefined and the sample
 * prepares its images in its own kernel, as before (the lazy session takes it at once).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { KernelSessionError } from '../kernel/errors';
import { PRELUDE_INPUTS_PY } from '../kernel/prelude';
import { planKernelLaunch, type LaunchPlan, type SandboxMode } from '../kernel/sandbox';
import type { PreparedImage, PrepareImageOptions } from '../kernel/types';
import { helperProgram, PythonHelper, PythonHelperError, type SpawnPlan } from '../pyhelper';

/** pyhelper setup: `handle({images: [base64…], options})` → PreparedImage[] (inputs.py's set_inputs, without the binding) */
const SETUP = `
import base64, io
from PIL import Image as _Image
exec(compile(${JSON.stringify(PRELUDE_INPUTS_PY)}, "<codedance-inputs>", "exec"))
def handle(p):
    opts = p["options"]
    out = []
    for i, b64 in enumerate(p["images"]):
        try:
            img, ow, oh = _prepare_one(base64.b64decode(b64), opts)
        except Exception as e:
            raise ValueError(f"input image #{i + 1} could not be read: {type(e).__name__}: {e}")
        png = io.BytesIO()
        if opts.get("resize") != "original":
            img.save(png, format="PNG")
        out.append({"pngBase64": base64.b64encode(png.getvalue()).decode("ascii"),
                    "width": img.size[0], "height": img.size[1], "originalWidth": ow, "originalHeight": oh})
    return out
`;

export interface ImagePreparerOptions {
  /** the kernels' interpreter (it has Pillow: a kernel requirement) */
  python: string;
  /** processes (each prepares one sample's images at a time); default 1 */
  processes?: number;
  /** as the kernels' */
  sandbox?: SandboxMode;
  /** address-space limit, MiB; undefined: the kernels' default; 0: none */
  memoryLimitMb?: number;
  /** per sample, ms (default 60000, as the kernel's binding) */
  timeoutMs?: number;
  /** why a sample's images went to its kernel instead (a process that died, hung, or did not start) */
  log?: (line: string) => void;
}

interface Worker {
  helper: PythonHelper<{ images: string[]; options: Record<string, unknown> }, PreparedImage[]>;
  busy: number;
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

export class ImagePreparer {
  private readonly workers: Worker[];
  private readonly workdir: string;
  private plan: Promise<LaunchPlan> | undefined;
  /** samples whose images were prepared here, and those sent to their kernel instead */
  readonly stats = { prepared: 0, toKernel: 0 };

  /** Processes start on the first request. */
  constructor(private readonly o: ImagePreparerOptions) {
    // its working folder: empty, and not writable by the sandboxed process (as root it runs as nobody)
    this.workdir = mkdtempSync(path.join(os.tmpdir(), 'codedance-prep-'));
    chmodSync(this.workdir, 0o755);
    this.workers = Array.from({ length: Math.max(1, Math.floor(o.processes ?? 1)) }, () => ({
      busy: 0,
      helper: new PythonHelper({
        name: 'the image preparer',
        python: o.python,
        note: 'with Pillow',
        launch: async () => spawnPlan(await this.launchPlan(), this.workdir),
        timeoutMs: o.timeoutMs ?? 60_000,
        fix: `check that ${o.python} runs and can import PIL (Pillow, which the kernels need too)`,
      }),
    }));
  }

  private launchPlan(): Promise<LaunchPlan> {
    this.plan ??= planKernelLaunch({
      python: this.o.python,
      args: ['-c', helperProgram(SETUP)],
      env: {},
      workdir: this.workdir,
      sandbox: this.o.sandbox ?? 'auto',
      network: false,
      memoryLimitMb: this.o.memoryLimitMb,
    });
    return this.plan;
  }

  /**
   * The images prepared for the model, or undefined when this preparer could not do it (the
   * sample's kernel then does). An image Pillow cannot read throws the kernel's error for it.
   */
  async prepare(images: Uint8Array[], opts: PrepareImageOptions): Promise<PreparedImage[] | undefined> {
    const w = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    w.busy++;
    try {
      const prepared = await w.helper.request({
        images: images.map((b) => Buffer.from(b).toString('base64')),
        options: { resize: opts.resize, minPixels: opts.minPixels ?? 4 * 28 * 28, maxPixels: opts.maxPixels ?? 16384 * 28 * 28 },
      });
      this.stats.prepared++;
      return prepared;
    } catch (e) {
      if (e instanceof PythonHelperError && e.code === 'raised')
        throw new KernelSessionError({
          reason: `the input image could not be prepared: ${e.pythonError}`,
          fix: 'pass a PNG, JPEG, GIF, BMP or WebP file that Pillow can open',
        });
      this.stats.toKernel++;
      this.o.log?.(`image preparer: ${(e as Error).message.split('\n')[0]}; the sample prepares its images in its own kernel`);
      return undefined;
    } finally {
      w.busy--;
    }
  }

  /** Stops the processes and, once they have exited, removes their (empty) working folder. */
  async dispose(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.helper.dispose()));
    rmSync(this.workdir, { recursive: true, force: true });
  }
}
