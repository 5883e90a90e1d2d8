/**
 * `codedance eval` (the built CLI, real kernels, one worker): what one sample's code changes in
 * its kernel never reaches the next sample (issue #21). Sample 0 patches `PIL.Image.Image.crop`,
 * marks a module, writes `~/note` and leaves a child process running; samples 1-3 must see a
 * kernel indistinguishable from a fresh one. With one worker, a kernel reused between samples
 * would hand them all of it (it did: 1x1 crops and the note).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage } from '../../fixtures/images';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

const POISON = [
  'import os, json, subprocess, sys, PIL.Image',
  'PIL.Image.Image.crop = (lambda new: lambda self, box=None: new("RGB", (1, 1)))(PIL.Image.new)',
  'json.codedance_mark = "sample 0 was here"',
  'open(os.path.expanduser("~/note"), "w").write("from sample 0")',
  'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)',
  'print("poisoned")',
].join('\n');

const PROBE = [
  'import os, json, subprocess',
  'w = input_image.crop((0, 0, 10, 10)).size[0]',
  'note = os.path.exists(os.path.expanduser("~/note"))',
  'mark = hasattr(json, "codedance_mark")',
  'print(f"crop={w} note={note} mark={mark}")',
].join('\n');

describe('codedance eval: no state reaches the next sample (CLI, real kernels, one worker)', function () {
  this.timeout(240_000);
  let fm: FixtureModel;
  let tmp: string;
  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-eval-iso-'));
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("sample 0's patched module, home file and marks are gone for samples 1-3", async () => {
    const img = circlesImage({ red: 2, blue: 1, seed: 5 });
    const row = (code: string, answer: string) =>
      JSON.stringify({
        data_source: 'vstar',
        images: [{ bytes: img.png.toString('base64') }],
        extra_info: { question: `Run this:\n\`\`\`python\n${code}\n\`\`\``, answer },
      });
    const fresh = 'crop=10 note=False mark=False';
    const data = path.join(tmp, 'iso.jsonl');
    writeFileSync(data, [row(POISON, 'poisoned'), row(PROBE, fresh), row(PROBE, fresh), row(PROBE, fresh)].join('\n') + '\n');
    const save = path.join(tmp, 'save');
    const r = await runCli(
      [
        'eval',
        '--model-name',
        'iso',
        '--api-url',
        fm.baseUrl,
        '--data-path',
        data,
        '--save-path',
        save,
        '--num-workers',
        '1',
        '--no-judge',
      ],
      {
        CODEDANCE_BASE_URL: undefined,
        LLM_AS_A_JUDGE_BASE: undefined,
        OPENAI_API_KEY: undefined,
        CODEDANCE_PYTHON: PYTHON,
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const recs = readFileSync(path.join(save, 'iso', 'result_iso_iso.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { index: number; acc: number; pred_ans?: string; prediction?: string });
    assert.equal(recs.length, 4);
    for (const rec of recs.sort((a, b) => a.index - b.index))
      assert.equal(rec.acc, 1, `sample ${rec.index}: ${JSON.stringify(rec).slice(0, 400)}`);
  });
});
