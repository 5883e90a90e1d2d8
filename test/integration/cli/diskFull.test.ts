/**
 * `codedance ask` on a full disk, for real: --out (or the kernels' TMPDIR) on a small tmpfs
 * (root only; skipped saying why elsewhere), the built CLI, the fixture model and a real kernel.
 * The model's code shows a 300×300 noise image (a 264 KiB PNG). Saved, it is on disk once:
 * trajectory.json and the notebook refer to it; not saved, both hold it inline (the JSON twice,
 * ~710 KiB, the notebook once). Whatever does not fit is not saved — never a cut PNG or JSON —,
 * the run still ends with its answer, what fits is kept whole, the message names the file, the
 * disk's mount point and the fix, and the exit code is 74. Before: exit 3 ("Python/kernel
 * problem") with a cut PNG and no trajectory.json, or exit 70 with a cut notebook.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, type CliRun, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { decodePng, encodePng } from '../../fixtures/images';
import { mountTmpfs, type SmallDisk } from '../../fixtures/tmpfs';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

const NOISE_QUESTION = `Run this and report what it prints:
\`\`\`python
import numpy as np
from PIL import Image
rng = np.random.default_rng(1)
Image.fromarray(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8)).show()
print("done")
\`\`\``;

/** every file in `dir` is whole: PNGs decode, JSON parses; and no temporary file is left */
function assertWholeFiles(dir: string): string[] {
  const names = readdirSync(dir).sort();
  for (const n of names) {
    const f = path.join(dir, n);
    assert.ok(!n.endsWith('.tmp'), `a temporary file is left: ${n}`);
    if (n.endsWith('.png')) assert.doesNotThrow(() => decodePng(readFileSync(f)), `${n} is a whole PNG`);
    if (n.endsWith('.json') || n.endsWith('.ipynb')) assert.doesNotThrow(() => JSON.parse(readFileSync(f, 'utf8')), `${n} is whole JSON`);
    if (n.endsWith('.jpg')) assert.deepEqual([...readFileSync(f).subarray(-2)], [0xff, 0xd9], `${n} is a whole JPEG`);
  }
  return names;
}

describe('codedance ask on a full disk (real tmpfs, fixture model, real kernel)', function () {
  this.timeout(120_000);
  let fm: FixtureModel;
  let tmp: string;
  let image: string;
  const disks: SmallDisk[] = [];
  const disk = (bytes: number, ctx: Mocha.Context): SmallDisk => {
    const m = mountTmpfs(bytes);
    if ('skip' in m) {
      console.log(`      (skipped: ${m.skip})`);
      ctx.skip();
    }
    disks.push(m as SmallDisk);
    return m as SmallDisk;
  };

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-fullcli-'));
    image = path.join(tmp, 'red.png');
    writeFileSync(image, encodePng(64, 64, new Uint8Array(64 * 64 * 3).fill(120)));
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm?.close();
    for (const d of disks) d.unmount();
    rmSync(tmp, { recursive: true, force: true });
  });

  const ask = (out: string, env: Record<string, string | undefined> = {}): Promise<CliRun> =>
    runCli(['ask', image, NOISE_QUESTION, '--base-url', fm.baseUrl, '--python', PYTHON, '--out', out], {
      CODEDANCE_BASE_URL: undefined,
      OPENAI_API_KEY: undefined,
      CODEDANCE_API_KEY: undefined,
      TMPDIR: tmp,
      ...env,
    });

  it('no room for the image: the run goes on to its answer, nothing cut is left, exit 74 naming the disk and --out', async function () {
    const d = disk(128 * 1024, this);
    const out = path.join(d.dir, 'out');
    const r = await ask(out);
    assert.equal(r.code, 74, r.stderr);
    assert.match(r.stdout, /Answer: done/, 'the answer is still printed');
    assert.match(
      r.stderr,
      new RegExp(
        `cannot write ${out}/t0-c0-i0\\.png \\(\\d+ KiB\\): no space left on the disk mounted at ${d.dir} \\(\\d+ KiB free\\) — free space on ${d.dir}, or write the output to a folder on another disk \\(--out\\); the run goes on`,
      ),
    );
    // the image not saved stays in the record (inline), so the record did not fit either
    assert.match(r.stderr, /^not saved: t0-c0-i0\.png, trajectory\.json, trajectory\.ipynb$/m);
    assert.deepEqual(assertWholeFiles(out), ['input_image.png']);
  });

  it('each image once: the image and both trajectory files fit where the record alone did not before (~1.3 MB then)', async function () {
    const d = disk(600 * 1024, this);
    const out = path.join(d.dir, 'out');
    const r = await ask(out);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(assertWholeFiles(out), ['input_image.png', 't0-c0-i0.png', 'trajectory.ipynb', 'trajectory.json']);
    const t = JSON.parse(readFileSync(path.join(out, 'trajectory.json'), 'utf8'));
    assert.equal(t.answer, 'done');
    assert.equal(t.turns[0].cells[0].images[0].data, 'codedance-file:t0-c0-i0.png');
  });

  it("the kernels' temporary folder full (TMPDIR): exit 74 with the TMPDIR fix, not 3 'Python/kernel problem'", async function () {
    const d = disk(64 * 1024, this);
    try {
      writeFileSync(path.join(d.dir, 'fill'), Buffer.alloc(64 * 1024));
    } catch {
      /* ENOSPC: full, as wanted */
    }
    const r = await ask(path.join(tmp, 'out-tmpdir'), { TMPDIR: d.dir }).catch((e: unknown) => ({
      code: -1,
      stdout: '',
      stderr: String(e),
    }));
    assert.equal(r.code, 74, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`no space left on the disk mounted at ${d.dir} .*— free space on ${d.dir}, or point TMPDIR at a folder on another disk`),
    );
  });
});
