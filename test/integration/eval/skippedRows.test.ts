/**
 * `codedance eval` (the built CLI, a real kernel) on a JSONL file with rows it cannot use: a
 * line that is not JSON, a row without its answer, an image that is a text file (Pillow's
 * verdict, in the kernel). Each is a recorded, skipped sample; the run finishes; the summary
 * counts them. Math rows go through the evaluating Python's `math_verify` (a recording stand-in
 * on PYTHONPATH). A damaged manifest is reported with its cause and its fix (exit 2).
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, type CliRun, ROOT, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../../fixtures/images';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';
const STANDIN = path.join(ROOT, 'test/fixtures/mathVerifyStandIn');

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCli(args, {
    CODEDANCE_BASE_URL: undefined,
    LLM_AS_A_JUDGE_BASE: undefined,
    OPENAI_API_KEY: undefined,
    CODEDANCE_API_KEY: undefined,
    CODEDANCE_PYTHON: PYTHON,
    PYTHONDONTWRITEBYTECODE: '1',
    ...env,
  });
}

describe('codedance eval: unusable rows are skipped and counted; math_verify; a damaged manifest (CLI, real kernel)', function () {
  this.timeout(240_000);
  let fm: FixtureModel;
  let tmp: string;

  before(async function () {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-eval-skip-'));
    fm = await startFixtureModel();
  });
  after(async () => {
    await fm?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('records each bad row with its index and reason, finishes the run, and says how many were skipped', async () => {
    const img = circlesImage({ red: 4, blue: 2, seed: 3 });
    writeFileSync(path.join(tmp, 'notes.txt'), 'meeting notes, not a picture\n');
    const row = (dataSource: string, images: unknown, answer?: string) =>
      JSON.stringify({
        data_source: dataSource,
        images,
        extra_info: { question: circlesQuestion('red'), ...(answer !== undefined ? { answer } : {}) },
      });
    const data = path.join(tmp, 'mixed.jsonl');
    writeFileSync(
      data,
      [
        row('vstar', [{ bytes: img.png.toString('base64') }], '4'),
        '{"data_source": "vstar", "images": [', // cut line
        row('vstar', [{ bytes: img.png.toString('base64') }]), // no answer
        row('vstar', ['notes.txt'], '4'), // a text file as the image
        row('xince', [{ bytes: img.png.toString('base64') }], '4'), // math: math_verify decides
      ].join('\n') + '\n',
    );
    const save = path.join(tmp, 'save');
    const log = path.join(tmp, 'math_verify_calls.jsonl');
    const args = [
      'eval',
      '--model-name',
      'skip',
      '--api-url',
      fm.baseUrl,
      '--data-path',
      data,
      '--save-path',
      save,
      '--num-workers',
      '2',
      '--no-judge',
    ];
    const r = await cli(args, { PYTHONPATH: STANDIN, MATH_VERIFY_STANDIN_LOG: log });
    assert.equal(r.code, 0, r.stderr);
    const recs = readFileSync(path.join(save, 'skip', 'result_skip_mixed.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const at = (i: number) => recs.find((x) => x.index === i);
    assert.equal(recs.length, 5);
    assert.match(at(1).codedance.error.message, /mixed\.jsonl: row 1: line 2 is not valid JSON/);
    assert.match(at(2).codedance.error.message, /row 2: no answer/);
    assert.equal(at(3).codedance.error.name, 'ImageLoadError');
    assert.match(
      at(3).codedance.error.message,
      new RegExp(
        `^image ${path.join(tmp, 'notes.txt').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} could not be loaded: UnidentifiedImageError`,
      ),
    );
    for (const i of [1, 2, 3]) assert.equal(at(i).codedance.skipped, true, `row ${i} skipped`);
    assert.equal(at(0).acc, 1, 'the good row ran on the real kernel');
    assert.equal(at(4).acc, 1);
    assert.equal(at(4).codedance.score_method, 'symbolic');
    const stats = JSON.parse(readFileSync(path.join(save, 'skip', 'stats_skip.json'), 'utf8'));
    assert.equal(stats.total_samples, 2);
    assert.equal(stats.codedance.skipped_samples, 3);
    assert.match(stats.codedance.math_check, /^math check: math_verify 0\.0-standin/);
    assert.match(r.stderr, /Skipped rows: 3 \(BadRow 2, ImageLoadError 1\)/);
    assert.match(r.stderr, /math check: math_verify 0\.0-standin/);
    assert.equal(JSON.parse(r.stdout.trim().split('\n').pop()!).skipped_samples, 3);
    const calls = readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      calls.map((c) => [c.fn, c.args]),
      [
        ['parse', ['4']],
        ['parse', [at(4).judge_result.answer]],
        ['verify', [{ parsed: '4' }, { parsed: at(4).judge_result.answer }]],
      ],
    );

    // a resume has nothing left to run: the skipped rows are finished samples
    const again = await cli(args, { PYTHONPATH: STANDIN });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /resuming: 5 of 5 samples/);

    // a damaged manifest: the cause and the fix, exit 2, no stack trace
    writeFileSync(path.join(save, 'skip', 'manifest_skip_mixed.json'), '{"kind": "codedance-eval-manifest", "ru');
    const broken = await cli(args);
    assert.equal(broken.code, 2, broken.stderr);
    assert.match(broken.stderr, /manifest_skip_mixed\.json in .*skip is not valid JSON \(.*\): delete it to start over/);
    assert.doesNotMatch(broken.stderr, /unexpected error|SyntaxError|    at /);
  });
});
