/**
 * What a kernel we did not start is told before the model's first cell, and the input images:
 * the working folder made by the kernel on its own machine, the check that it has the packages
 * (the same error as a local interpreter without them), the prelude (the same code as the local
 * kernel's, incarnation.ts), and the question's images sent as bytes. Used for a kernel on a
 * Jupyter server (session.ts) and for the kernel of an open notebook (../notebook); nothing here
 * loads `@jupyterlab/services`.
 */
import { stripAnsi } from '../classify';
import { CellCollector, preparedImages } from '../collector';
import { KernelLaunchError, KernelSessionError, PythonEnvironmentError } from '../errors';
import { type FastPathReport, readFastPathReport } from '../fastPaths';
import { type PreludeConfig, preludeLoader } from '../incarnation';
import type { PreparedImage, PrepareImageOptions } from '../types';
import type { RequestOutcome } from '../request';
import type { JupyterMessage } from '../wire';

/** A kernel to set up, whatever reaches it. */
export interface SetupContext {
  /** runs setup code (not a model cell): its iopub messages in order, then how it ended */
  exec: (code: string, onMessage: (m: JupyterMessage) => void, timeoutMs: number) => Promise<RequestOutcome>;
  /** the kernel in words, e.g. `the kernel "python3" on the Jupyter server at URL` */
  where: string;
  /** the kernel in the interpreter list of an environment error, e.g. `python3@URL` */
  label: string;
  /** the other way out, ending a fix: "choose another kernelspec" */
  otherwise: string;
  startTimeoutMs: number;
  /** enter the working folder for good (a kernel of our own); a notebook's kernel keeps its cwd */
  chdir: boolean;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Runs setup code (not a model cell) and returns its stdout, or throws what went wrong. */
async function run(
  ctx: SetupContext,
  code: string,
  doing: string,
  timeoutMs = ctx.startTimeoutMs,
): Promise<{ stdout: string; col: CellCollector; reply?: Record<string, any> }> {
  const col = new CellCollector(undefined);
  const outcome = await ctx.exec(code, (m) => col.handle(m), timeoutMs);
  if (outcome.kind === 'exited') {
    throw new KernelLaunchError({
      reason: `${ctx.where} ended while ${doing}: ${outcome.info.description}`,
      fix: "check the kernel's log; it may be out of memory",
      retryable: true,
    });
  }
  if (outcome.kind === 'timeout') {
    throw new KernelLaunchError({
      reason: `${ctx.where} did not finish ${doing} within ${Math.round(timeoutMs / 1000)} s`,
      fix: 'the kernel may be busy or its machine overloaded; retry, or raise startTimeoutMs',
      retryable: true,
    });
  }
  col.finish();
  return { stdout: col.stdout, col, reply: outcome.reply?.content as Record<string, any> | undefined };
}

/**
 * Makes (or, after a restart, makes again) the working folder and a private folder for input
 * bytes on the kernel's machine, enters the working folder (ctx.chdir), and checks the packages.
 */
export async function setUpRemoteFolders(
  ctx: SetupContext,
  previous?: { workdir: string; runtimeDir: string },
): Promise<{ workdir: string; runtimeDir: string; pid: number }> {
  const code = [
    'import json as _cd_j, os as _cd_o, sys as _cd_s, tempfile as _cd_t',
    `_cd_p = _cd_j.loads(${JSON.stringify(JSON.stringify(previous ? { workdir: previous.workdir, runtimeDir: previous.runtimeDir } : null))})`,
    'if _cd_p:',
    '    for _cd_d in _cd_p.values(): _cd_o.makedirs(_cd_d, exist_ok=True)',
    'else:',
    '    _cd_p = {"workdir": _cd_t.mkdtemp(prefix="codedance-"), "runtimeDir": _cd_t.mkdtemp(prefix="codedance-rt-")}',
    ...(ctx.chdir ? ['_cd_o.chdir(_cd_p["workdir"])'] : []),
    '_cd_m = []',
    'for _cd_n in ("PIL", "numpy", "matplotlib"):',
    '    try:',
    '        __import__(_cd_n)',
    '    except Exception:',
    '        _cd_m.append(_cd_n)',
    '_cd_p.update(missing=_cd_m, executable=_cd_s.executable, version=_cd_s.version.split()[0], pid=_cd_o.getpid())',
    'print(_cd_j.dumps(_cd_p))',
    'del _cd_j, _cd_o, _cd_s, _cd_t, _cd_p, _cd_m, _cd_n',
  ].join('\n');
  const { stdout, reply } = await run(ctx, code, 'making its working folder');
  const line = stdout.trim().split('\n').pop() ?? '';
  let info: { workdir: string; runtimeDir: string; missing: string[]; executable: string; version: string; pid: number };
  try {
    info = JSON.parse(line);
  } catch {
    throw new KernelLaunchError({
      reason: `${ctx.where} could not make its working folder: ${reply?.ename ?? 'no answer'}: ${reply?.evalue ?? stdout.slice(0, 300)}`,
      fix: 'check that the kernel is a Python (ipykernel) kernel and that its user can write to its temporary folder',
    });
  }
  if (info.missing.length) {
    throw new PythonEnvironmentError(
      {
        reason: `The Python of ${ctx.where} cannot run the CodeDance kernel: ${info.executable} (Python ${info.version}): cannot import ${info.missing.join(', ')}.`,
        fix: `install them in that kernel's environment (\`${info.executable} -m pip install pillow numpy matplotlib\`, or \`%pip install pillow numpy matplotlib\` in a notebook on that kernel), or ${ctx.otherwise}`,
      },
      [{ command: ctx.label, executable: info.executable, version: info.version, origin: 'explicit', ok: false, missing: info.missing }],
    );
  }
  return { workdir: info.workdir, runtimeDir: info.runtimeDir, pid: info.pid };
}

/**
 * Loads the CodeDance prelude into the remote kernel (no parent to watch: the server owns it).
 * Returns what it says of its fast paths (undefined from a prelude that says nothing).
 */
export async function loadRemotePrelude(
  ctx: SetupContext,
  config: PreludeConfig & { notebook?: boolean; binaryImages?: boolean },
): Promise<FastPathReport | undefined> {
  const { reply, stdout } = await run(ctx, preludeLoader({ ...config, watchParent: false }), 'loading the CodeDance prelude');
  if (reply?.status !== 'ok') {
    const tb = Array.isArray(reply?.traceback) ? stripAnsi((reply!.traceback as string[]).join('\n')) : '';
    throw new KernelLaunchError({
      reason: `The CodeDance prelude failed in ${ctx.where}: ${reply?.ename ?? 'NoReply'}: ${reply?.evalue ?? 'no execute_reply'}\n${tb}`,
      fix: `reinstall the failing package in that kernel's environment, or ${ctx.otherwise}`,
    });
  }
  return readFastPathReport(stdout);
}

/** Sends the images as bytes, has the prelude prepare and save them in the working folder. */
export async function bindRemoteInputs(
  ctx: SetupContext,
  runtimeDir: string,
  images: Uint8Array[],
  opts: PrepareImageOptions,
): Promise<PreparedImage[]> {
  const files = images.map((_, i) => `${runtimeDir}/input-${i + 1}.bin`);
  const payload = b64(
    JSON.stringify({
      files,
      options: {
        resize: opts.resize,
        minPixels: opts.minPixels ?? 4 * 28 * 28,
        maxPixels: opts.maxPixels ?? 16384 * 28 * 28,
        namespace: opts.namespace,
        modelImage: opts.modelImage,
      },
    }),
  );
  const code = [
    'import base64 as _cd_b, os as _cd_o',
    ...images.map(
      (img, i) =>
        `with open(${JSON.stringify(files[i])}, "wb") as _cd_f: _cd_f.write(_cd_b.b64decode("${Buffer.from(img).toString('base64')}"))`,
    ),
    'try:',
    `    _codedance_set_inputs("${payload}")`,
    'finally:',
    `    for _cd_x in ${JSON.stringify(files)}:`,
    '        if _cd_o.path.exists(_cd_x): _cd_o.remove(_cd_x)',
    '    del _cd_b, _cd_o',
  ].join('\n');
  const { col, reply } = await run(ctx, code, 'preparing the input image(s)', Math.max(60000, ctx.startTimeoutMs));
  const res = col.result;
  if (!res || res.status !== 'ok' || !res.prepared) {
    const why = res?.error
      ? `${res.error.ename}: ${res.error.evalue}`
      : `the kernel answered ${String(reply?.status ?? 'nothing')}${reply?.ename ? ` (${reply.ename}: ${reply.evalue})` : ''} without a result`;
    throw new KernelSessionError({
      reason: `the input image could not be prepared: ${why}`,
      fix: 'pass a PNG, JPEG, GIF, BMP or WebP file that Pillow can open',
    });
  }
  return preparedImages(res, col.resultBuffers);
}

/** Deletes the session's folders on the kernel's machine (before the kernel is shut down). */
export async function removeRemoteFolders(ctx: SetupContext, folders: { workdir: string; runtimeDir: string }): Promise<void> {
  const code = `import shutil as _cd_sh, os as _cd_o\n${ctx.chdir ? '_cd_o.chdir(_cd_o.path.expanduser("~"))\n' : ''}for _cd_d in ${JSON.stringify([folders.workdir, folders.runtimeDir])}: _cd_sh.rmtree(_cd_d, ignore_errors=True)\ndel _cd_sh, _cd_o, _cd_d`;
  await ctx.exec(code, () => undefined, 3000);
}
