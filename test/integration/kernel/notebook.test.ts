/**
 * Integration (issue 12 §2): a KernelSession in the kernel of an open notebook, through the
 * Jupyter extension's public `Kernel` API, here backed by a REAL ipykernel (test/fixtures/
 * apiKernel.ts, shaped as vscode-jupyter shapes its outputs). The model's cells run next to the
 * user's variables, the prelude and the input image go through executeCode, images come back as
 * display data; the user's kernel is never restarted nor shut down by the session.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NotebookKernelSession, startNotebookKernelSession } from '../../../src/core/kernel/notebook';
import { ApiKernel, type ApiOutput, tokenSource } from '../../fixtures/apiKernel';
import { encodePng, Raster } from '../../fixtures/images';
import { PYTHON } from './helpers';

/** what a notebook cell the user runs printed */
async function userCell(kernel: ApiKernel, code: string): Promise<string> {
  let out = '';
  for await (const o of kernel.runCell(code, tokenSource().token) as AsyncIterable<ApiOutput>) {
    for (const i of o.items) out += new TextDecoder().decode(i.data);
  }
  return out;
}

describe('notebook kernel session: the Jupyter extension API over a real ipykernel', function () {
  this.timeout(120_000);
  let kernel: ApiKernel;
  let session: NotebookKernelSession<unknown>;
  let notebookDir: string;

  before(async () => {
    notebookDir = mkdtempSync(path.join(os.tmpdir(), 'cd-notebook-'));
    kernel = await ApiKernel.start(PYTHON, notebookDir);
    await userCell(kernel, 'threshold = 7\nimport os');
    session = await startNotebookKernelSession({ kernel, notebook: 'analysis.ipynb', cancellation: tokenSource, interruptGraceMs: 3000 });
  });
  after(async () => {
    await session?.dispose();
    await kernel?.dispose();
    rmSync(notebookDir, { recursive: true, force: true });
  });

  it("runs the model's cells next to the user's variables, says where, and leaves the notebook's cwd alone", async () => {
    assert.equal(session.python, 'the kernel of analysis.ipynb');
    const r = await session.execute('print("threshold is", threshold)\nimport os\nprint(os.getcwd())');
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.match(r.stdout, /^threshold is 7\n/);
    assert.equal(r.stdout.trim().split('\n')[1], session.workdir, 'a cell runs in its own working folder');
    assert.equal((await userCell(kernel, 'print(os.getcwd())')).trim(), notebookDir, "the notebook's cwd is unchanged");
    // a name the model defines is the user's too
    await session.execute('answer_from_model = threshold * 6');
    assert.equal((await userCell(kernel, 'print(answer_from_model)')).trim(), '42');
  });

  it('sends the input image as bytes and gets figures back as display data (PNG)', async () => {
    const r = new Raster(64, 48, [200, 30, 30]);
    const [prepared] = await session.setInputImages([encodePng(r.width, r.height, r.data)], { resize: 'none' });
    assert.deepEqual([prepared.width, prepared.height], [64, 48]);
    const res = await session.execute(
      'import matplotlib.pyplot as plt\nprint(input_image.size, os.path.basename(input_image_path))\nplt.figure(figsize=(2, 1))\nplt.plot([1, 2, 3])\nplt.show()',
    );
    assert.equal(res.status, 'ok', JSON.stringify(res.error));
    assert.equal(res.stdout.trim(), '(64, 48) input_image.jpg');
    assert.equal(res.images.length, 1);
    assert.equal(res.images[0].mime, 'image/png');
    assert.equal(res.images[0].source, 'figure');
    assert.ok(res.images[0].data.startsWith('iVBORw0KGgo'), 'PNG bytes, base64');
    assert.ok(
      res.images[0].width! > 200 && res.images[0].height! > 100,
      `a 2×1 in figure at 150 dpi (tight): ${res.images[0].width}×${res.images[0].height}`,
    );
    assert.equal(
      (await userCell(kernel, 'print(type(input_image).__module__.split(".")[0])')).trim(),
      'PIL',
      'the input image is in the notebook too',
    );
  });

  it('reports errors and timeouts as the other kernels do; the variables survive a timeout', async () => {
    const e = await session.execute('1/0');
    assert.equal(e.status, 'error');
    assert.equal(e.error?.ename, 'ZeroDivisionError');
    const t = await session.execute('import time\nprint("start", flush=True)\ntime.sleep(30)', { timeoutMs: 1500 });
    assert.equal(t.status, 'timeout');
    assert.equal(t.error?.ename, 'TimeoutError');
    assert.match(t.stdout, /start/);
    const after = await session.execute('print(threshold)');
    assert.equal(after.stdout.trim(), '7');
    assert.equal(after.restarted, undefined);
  });

  it('after the user restarts the kernel: prelude and input image loaded again, the result says restarted', async () => {
    await kernel.restart();
    assert.equal(session.state, 'dead');
    const r = await session.execute('print(input_image.size)\nprint("threshold" in globals())');
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.equal(r.stdout.trim(), '(64, 48)\nFalse');
    assert.equal(r.restarted, true);
    assert.equal((await session.execute('print(1)')).restarted, undefined);
  });

  it('a %reset in the notebook that removed the prelude is noticed: it is loaded again and the cell runs', async () => {
    await userCell(kernel, '%reset -f');
    const r = await session.execute('print(input_image.size)');
    assert.equal(r.status, 'ok', JSON.stringify(r.error));
    assert.equal(r.stdout.trim(), '(64, 48)');
    assert.equal(r.restarted, true);
  });

  it('dispose removes the working folder and leaves the kernel and its variables running', async () => {
    await userCell(kernel, 'kept = "yes"');
    const workdir = session.workdir;
    assert.ok(existsSync(workdir));
    await session.dispose();
    assert.equal(existsSync(workdir), false);
    assert.equal(kernel.status, 'idle');
    assert.equal((await userCell(kernel, 'print(kept)')).trim(), 'yes');
    await assert.rejects(session.execute('1'), /disposed/);
  });
});
