/**
 * `codedance ask` end to end: the built CLI (dist/cli.js) as a user runs it, against the
 * fixture VLM server (real OpenAI wire protocol, SSE) and a real ipykernel. The fixture model
 * only knows what the executed code printed, so a right answer means the kernel really ran
 * the model's code on the real image.
 *
 * Also: server faults through the whole CLI (500s, a stream cut mid-way, malformed tool
 * JSON), exit codes a person can act on, and the saved .ipynb validated with nbformat and
 * re-run with nbclient.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, type CliRun, deadUrl, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { barChartImage, circlesImage, circlesQuestion, smallObjectImage } from '../../fixtures/images';
import { loadImages } from '../../../src/core/trajectory/imageFiles';
import type { Trajectory } from '../../../src/core/trajectory/types';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

/**
 * The temp folder of this file's CLI runs (their TMPDIR): each kernel's runtime folder, and so
 * its `-f <connection file>` argument, lies below it. That tells this file's kernels from any
 * other kernel on the machine (another test process, an open editor).
 */
let kernelTmp = '';

/** pids of the ipykernel processes started by this file's CLI runs */
function kernelPids(): number[] {
  const r = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => /ipykernel/.test(l) && l.includes(`-f ${kernelTmp}/`) && !/\bps\b/.test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Runs the CLI asynchronously (the fixture server lives in this process and must keep serving). */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCli(args, {
    CODEDANCE_BASE_URL: undefined,
    CODEDANCE_PYTHON: undefined,
    OPENAI_API_KEY: undefined,
    CODEDANCE_API_KEY: undefined,
    TMPDIR: kernelTmp,
    ...env,
  });
}

describe('codedance ask (CLI, fixture model, real kernel)', function () {
  this.timeout(120_000);
  let fm: FixtureModel;
  let tmp: string;

  before(function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-cli-'));
    kernelTmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-cli-kernels-'));
  });
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(kernelTmp, { recursive: true, force: true });
  });
  beforeEach(async () => (fm = await startFixtureModel()));
  afterEach(async () => fm.close());

  const writeImage = (name: string, png: Buffer) => {
    const p = path.join(tmp, name);
    writeFileSync(p, png);
    return p;
  };
  const ask = (image: string, question: string, extra: string[] = [], env: Record<string, string | undefined> = {}) => {
    const out = path.join(tmp, `out-${Math.random().toString(36).slice(2)}`);
    return cli(['ask', image, question, '--base-url', fm.baseUrl, '--out', out, ...extra], env).then((r) => ({ ...r, out }));
  };
  const trajectoryOf = (out: string) => JSON.parse(readFileSync(path.join(out, 'trajectory.json'), 'utf8'));

  const circles = circlesImage({ red: 5, blue: 3, green: 2, seed: 11 });

  for (const protocol of ['codedance', 'codedance-tools', 'openai-tools']) {
    it(`${protocol}: counts red circles right, through the real kernel`, async () => {
      const img = writeImage(`circles-${protocol}.png`, circles.png);
      const r = await ask(img, circlesQuestion('red'), ['--protocol', protocol, '--python', PYTHON]);
      assert.equal(r.code, 0, r.stderr);
      const t = trajectoryOf(r.out);
      assert.equal(t.status, 'answered');
      assert.equal(t.answer, '5');
      assert.equal(t.protocol, protocol);
      assert.equal(t.model, 'codedance-fixture-7b');
      assert.match(t.turns[0].cells[0].stdout, /red_count = 5/);
      // the transcript streamed to the terminal ends with the answer
      assert.match(r.stdout, /5/);
      assert.ok(existsSync(path.join(r.out, 'trajectory.ipynb')));
      // the question's image once, as the model was sent it: the JSON refers to it
      assert.ok(existsSync(path.join(r.out, 'input_image.png')));
      assert.equal(t.inputImages[0].data, 'codedance-file:input_image.png');
    });
  }

  it('total circles, with the interpreter found on its own (no --python)', async () => {
    const img = writeImage('circles-total.png', circles.png);
    const r = await ask(img, circlesQuestion());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^python: \S+ \(/m, 'says which interpreter it chose and why');
    assert.equal(trajectoryOf(r.out).answer, '10');
  });

  it('bar chart: the value of the tallest bar, read off gridlines by code', async () => {
    const bars = barChartImage([30, 70, 50, 20], { gridStep: 10 });
    const img = writeImage('bars.png', bars.png);
    const r = await ask(img, bars.questions.value, ['--python', PYTHON]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(trajectoryOf(r.out).answer, String(bars.truth.tallestValue));
  });

  it('bar chart: which bar is tallest, by label', async () => {
    const bars = barChartImage([40, 20, 60, 10, 50], { labels: ['A', 'B', 'C', 'D', 'E'] });
    const img = writeImage('bars-which.png', bars.png);
    const r = await ask(img, bars.questions.which, ['--python', PYTHON, '--quiet']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'C', '--quiet prints only the answer');
  });

  it('a small object in a large image (smart-resized for the model, found by code)', async () => {
    const so = smallObjectImage({ color: 'blue', seed: 3 });
    const img = writeImage('small.png', so.png);
    const r = await ask(img, so.question, ['--python', PYTHON]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(trajectoryOf(r.out).answer, 'blue');
  });

  it('--json prints the whole trajectory as JSON on stdout', async () => {
    const img = writeImage('circles-json.png', circles.png);
    const r = await ask(img, circlesQuestion('green'), ['--python', PYTHON, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout);
    assert.equal(t.answer, '2');
    assert.equal(t.turns.length, 2);
  });

  it('server faults (a 500, then a stream cut mid-way) are retried and do not change the answer', async () => {
    fm.setFaults([
      { kind: 'http', status: 500 },
      { kind: 'cut', afterChunks: 3 },
    ]);
    const img = writeImage('circles-faults.png', circles.png);
    const r = await ask(img, circlesQuestion('blue'), ['--python', PYTHON]);
    assert.equal(r.code, 0, r.stderr);
    const t = trajectoryOf(r.out);
    assert.equal(t.answer, '3');
    assert.equal(t.turns[0].retries, 2);
    assert.equal(fm.chatRequests.length, 4);
  });

  it('malformed tool JSON becomes an error observation; the run goes on and ends honestly', async () => {
    fm.setFaults(['malformed-tool-json']);
    const img = writeImage('circles-malformed.png', circles.png);
    const r = await ask(img, circlesQuestion('red'), ['--python', PYTHON, '--protocol', 'codedance-tools']);
    assert.equal(r.code, 0, r.stderr);
    const t = trajectoryOf(r.out);
    assert.equal(t.turns[0].malformed.length, 1);
    assert.equal(t.turns[0].cells.length, 0);
    // the model saw no measurement, so it does not pretend to know
    assert.equal(t.answer, 'unknown');
    const toolMsg = (fm.chatRequests[1].body!.messages as { role: string; content: unknown }[]).find((m) => m.role === 'tool');
    assert.match(JSON.stringify(toolMsg), /JSON/);
  });

  it('the .ipynb is valid nbformat 4 and re-runs in Jupyter with the same printed result', async function () {
    const probe = spawnSync(PYTHON, ['-c', 'import nbformat, nbclient'], { encoding: 'utf8' });
    if (probe.status !== 0) this.skip();
    const img = writeImage('circles-nb.png', circles.png);
    const r = await ask(img, circlesQuestion('red'), ['--python', PYTHON]);
    assert.equal(r.code, 0, r.stderr);
    const script = `
import json, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
nbformat.validate(nb)
saved = [''.join(o.get('text', '')) for c in nb.cells if c.cell_type == 'code' for o in c.outputs if o.get('output_type') == 'stream']
NotebookClient(nb, timeout=60, kernel_name='python3', resources={'metadata': {'path': sys.argv[2]}}).execute()
rerun = [''.join(o.get('text', '')) for c in nb.cells if c.cell_type == 'code' for o in c.outputs if o.get('output_type') == 'stream']
print(json.dumps({'saved': saved, 'rerun': rerun, 'cells': [c.cell_type for c in nb.cells]}))
`;
    const res = spawnSync(PYTHON, ['-c', script, path.join(r.out, 'trajectory.ipynb'), r.out], { encoding: 'utf8', timeout: 90_000 });
    assert.equal(res.status, 0, res.stderr);
    const { saved, rerun, cells } = JSON.parse(res.stdout.trim().split('\n').pop()!);
    assert.ok(cells.includes('markdown') && cells.includes('code'));
    assert.match(saved.join(''), /red_count = 5/);
    assert.deepEqual(rerun, saved);
  });

  it('saves the images the code produced, referenced in the transcript', async () => {
    const img = writeImage('circles-img.png', circles.png);
    const r = await ask(
      img,
      'Run this code:\n```python\nfrom PIL import Image\nimg = input_image.crop((0, 0, 100, 100))\nimg.show()\nprint(img.size)\n```',
      ['--python', PYTHON],
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(trajectoryOf(r.out).answer, '(100, 100)');
    const images = readdirSync(r.out).filter((f) => /\.(png|jpg)$/.test(f) && !f.startsWith('input_image'));
    assert.equal(images.length, 1);
    // each image on disk once: trajectory.json and the notebook refer to the files, never hold them
    assert.deepEqual(readdirSync(r.out).sort(), ['input_image.png', images[0], 'trajectory.ipynb', 'trajectory.json'].sort());
    const stored = trajectoryOf(r.out) as Trajectory;
    assert.equal(stored.turns[0].cells[0].images[0].data, `codedance-file:${images[0]}`);
    const nbText = readFileSync(path.join(r.out, 'trajectory.ipynb'), 'utf8');
    const outputPng = readFileSync(path.join(r.out, images[0]));
    assert.ok(!nbText.includes(outputPng.toString('base64').slice(0, 200)), 'the notebook does not hold the image');
    assert.match(nbText, new RegExp(`\\]\\(${images[0]}\\)`));
    // read back whole from the folder: the images, and the model's messages with them
    const t = await loadImages(stored, r.out);
    assert.deepEqual(Buffer.from(t.turns[0].cells[0].images[0].data, 'base64'), outputPng);
    assert.deepEqual(Buffer.from(t.inputImages[0].data, 'base64'), readFileSync(path.join(r.out, 'input_image.png')));
    assert.ok(JSON.stringify(t.messages).includes(`base64,${t.inputImages[0].data}`));
  });

  describe('errors a person can act on', () => {
    it('exit 2: image that does not exist', async () => {
      const r = await cli(['ask', path.join(tmp, 'nope.png'), 'q', '--base-url', fm.baseUrl]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /image not found: .*nope\.png/);
    });
    it('exit 2: unknown protocol, listing the known ones', async () => {
      const img = writeImage('p.png', circles.png);
      const r = await cli(['ask', img, 'q', '--protocol', 'pyvision-x', '--base-url', fm.baseUrl]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown --protocol 'pyvision-x'.*codedance.*codedance-tools.*openai-tools/);
    });
    it('exit 2: --max-observation-tokens that is not a whole number >= 0', async () => {
      const img = writeImage('mot.png', circles.png);
      for (const bad of ['-5', '1e9.5', 'x', '']) {
        const r = await cli(['ask', img, 'q', `--max-observation-tokens=${bad}`, '--base-url', fm.baseUrl]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /--max-observation-tokens must be a whole number of tokens >= 0 \(0 = no limit\)/);
      }
    });
    it('exit 2: a number flag that is not a number, said before any kernel starts', async () => {
      const img = writeImage('num.png', circles.png);
      const r = await cli(['ask', img, 'q', '--max-turns', 'abc', '--base-url', fm.baseUrl]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /--max-turns must be a number, got 'abc'/);
      assert.doesNotMatch(r.stderr, /^python:/m, 'no interpreter was looked for');
    });
    it('exit 3: an interpreter without ipykernel names itself and the install command', async () => {
      const img = writeImage('py.png', circles.png);
      const r = await cli(['ask', img, circlesQuestion(), '--base-url', fm.baseUrl, '--python', process.execPath]);
      assert.equal(r.code, 3);
      assert.ok(r.stderr.includes(process.execPath), r.stderr);
    });
    it('exit 4: no server at the endpoint, worded with the CLI flag (not a VS Code setting)', async () => {
      const img = writeImage('ep.png', circles.png);
      const dead = await deadUrl();
      const r = await cli(['ask', img, circlesQuestion(), '--base-url', dead, '--python', PYTHON]);
      assert.equal(r.code, 4);
      assert.ok(r.stderr.includes(`cannot reach ${dead}: connection refused`), r.stderr);
      assert.match(
        r.stderr,
        / — is the model server \(e\.g\. vLLM\) running there\? Check the endpoint URL \(--base-url \(or \$CODEDANCE_BASE_URL\)\)/,
      );
      assert.doesNotMatch(r.stderr, /codedance\.model\./);
    });
    it('exit 4: the endpoint goes down during the run (the model name given, so the first chat request fails)', async () => {
      const img = writeImage('ep2.png', circles.png);
      const dead = await deadUrl();
      const r = await cli([
        'ask',
        img,
        circlesQuestion(),
        '--base-url',
        dead,
        '--model',
        'm',
        '--python',
        PYTHON,
        '--out',
        path.join(tmp, 'out-down'),
      ]);
      assert.equal(r.code, 4, r.stderr);
      assert.ok(r.stderr.includes(`codedance: cannot reach ${dead}: connection refused`), r.stderr);
      const t = trajectoryOf(path.join(tmp, 'out-down'));
      assert.equal(t.status, 'error');
      assert.equal(t.error.kind, 'model-endpoint', 'the trajectory keeps the error whole');
      assert.equal(t.error.retryable, true);
      assert.equal(t.error.fix.setting, 'model.endpoints');
    });
    it('exit 3: a file that is not an image (the kernel cannot prepare it)', async () => {
      const bad = path.join(tmp, 'not-an-image.png');
      writeFileSync(bad, 'this is text, not a PNG\n');
      const r = await ask(bad, 'What is in the image?', ['--python', PYTHON]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /the input image could not be prepared/);
      assert.match(r.stderr, /Fix: pass a PNG, JPEG, GIF, BMP or WebP file/);
      const t = trajectoryOf(r.out);
      assert.equal(t.status, 'error');
      assert.equal(t.error.kind, 'kernel');
      assert.equal(fm.chatRequests.length, 0, 'the model was never asked');
    });
    it('exit 1: no answer within the turn limit', async () => {
      const img = writeImage('turns.png', circles.png);
      const r = await ask(img, circlesQuestion('red'), ['--python', PYTHON, '--max-turns', '1']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /no answer after 1 model call\(s\) \(limit 1\)/);
      assert.equal(trajectoryOf(r.out).status, 'max_turns');
    });
    it('exit 3: an interpreter that lacks the packages names them and the install command', async () => {
      // the system Python without its site-packages: it runs, but cannot import ipykernel, PIL, numpy, matplotlib
      const bare = path.join(tmp, 'bare-python');
      writeFileSync(bare, `#!/bin/sh\nexec ${PYTHON} -S "$@"\n`, { mode: 0o755 });
      const img = writeImage('bare.png', circles.png);
      const r = await cli(['ask', img, circlesQuestion(), '--base-url', fm.baseUrl, '--python', bare]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /cannot import [^\n]*ipykernel/);
      assert.match(r.stderr, /--python/, 'the fix names the CLI flag');
      assert.doesNotMatch(r.stderr, /codedance\.python\.interpreter/);
    });
    it('exit 2: an endpoint URL with user:password@ is refused before anything is saved; the password is never echoed', async () => {
      const img = writeImage('pw.png', circles.png);
      const out = path.join(tmp, 'out-pw');
      const url = fm.baseUrl.replace('http://', 'http://alice:hunter2secret@');
      const r = await cli(['ask', img, circlesQuestion(), '--base-url', url, '--python', PYTHON, '--out', out]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /has a user name or password in the URL/);
      assert.match(r.stderr, /API key store instead \(the CODEDANCE_API_KEY environment variable\)/);
      assert.ok(!r.stderr.includes('hunter2secret') && !r.stdout.includes('hunter2secret'));
      assert.ok(!existsSync(out), 'nothing was written');
      assert.equal(fm.requests.length, 0);
    });
    it('no kernel process is left behind by any run', () => {
      assert.ok(kernelTmp.length > 0);
      assert.deepEqual(kernelPids(), []);
    });
  });
});
