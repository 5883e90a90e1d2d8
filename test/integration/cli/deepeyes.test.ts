/**
 * `--protocol deepeyes` end to end: the built CLI (dist/cli.js), a real kernel (the crop runs in
 * it, sandboxed), the fixture VLM on the real OpenAI wire protocol.
 *
 * 1. Golden: the requests our client sends for a scripted two-turn sample equal the requests
 *    DeepEyes' own eval/eval_vstar.py builds for it (test/fixtures/golden/deepeyes.json, written
 *    by scripts/golden/deepeyes_requests.py, which runs the repository's process() as written),
 *    the crop included (its pixels; its PNG bytes too when the two Pillows agree).
 * 2. The fixture model (test/fixtures/deepeyesBrain.ts) zooms where the question says and answers
 *    from the crop it gets back: a box on the square gives its colour, a box beside it "no square".
 * 3. A malformed call ends the run as the repository's loop does: no crop, nothing sent back, the
 *    reply the answer, the call recorded as failed.
 * 4. The crop in the kernel fails where the repository's does, with its errors, and leaves the
 *    code's namespace alone.
 * 5. `codedance eval --protocol deepeyes`: options from the rows, the results, stats, manifest and
 *    report name the protocol, and comparing it with a codedance run is flagged.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { comparisonWarnings, loadRun } from '../../../src/core/eval';
import { startKernelSession } from '../../../src/core/kernel';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { CLI, type CliRun, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { decodePng, smallObjectImage } from '../../fixtures/images';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';
const GOLDEN_DIR = path.join(__dirname, '..', '..', 'fixtures', 'golden');

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCli(args, {
    CODEDANCE_BASE_URL: undefined,
    LLM_AS_A_JUDGE_BASE: undefined,
    OPENAI_API_KEY: undefined,
    CODEDANCE_API_KEY: undefined,
    CODEDANCE_PYTHON: PYTHON,
    ...env,
  });
}

/** A request body as the repository's client would serialize it: without our streaming fields, each PNG by its pixels. */
function comparable(body: unknown): unknown {
  const { stream: _s, stream_options: _o, ...rest } = body as Record<string, unknown>;
  return JSON.parse(JSON.stringify(rest), (_k, v: unknown) => {
    if (typeof v !== 'string' || !v.startsWith('data:image/')) return v;
    const bytes = Buffer.from(v.slice(v.indexOf(',') + 1), 'base64');
    if (bytes.subarray(1, 4).toString('latin1') !== 'PNG') return v; // the input JPEG: its own bytes, exactly
    const { width, height, data } = decodePng(bytes);
    return `${v.slice(0, v.indexOf(',') + 1)}png ${width}x${height} pixels sha256 ${createHash('sha256').update(data).digest('hex')}`;
  });
}

const ask = (fm: FixtureModel, image: string, question: string, extra: string[] = []) =>
  cli(['ask', image, question, '--protocol', 'deepeyes', '--base-url', fm.baseUrl, '--python', PYTHON, '--json', ...extra]);

describe('codedance --protocol deepeyes (CLI, real kernel, fixture model)', function () {
  this.timeout(180_000);
  let tmp: string;
  let fm: FixtureModel | undefined;

  before(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-deepeyes-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    await fm?.close();
    fm = undefined;
  });

  it('sends, for a scripted two-turn sample, exactly the requests eval_vstar.py builds (golden from the repository’s own code)', async () => {
    const g = JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'deepeyes.json'), 'utf8'));
    fm = await startFixtureModel({ models: [g.sample.model], script: g.sample.replies });
    const r = await ask(fm, path.join(GOLDEN_DIR, g.sample.image), g.sample.question, [
      '--out',
      path.join(tmp, 'golden'),
      ...g.sample.options.flatMap((o: string) => ['--option', o]),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const bodies = fm.chatRequests.map((x) => x.body);
    assert.equal(bodies.length, g.requests.length);
    bodies.forEach((b, i) => assert.deepEqual(comparable(b), comparable(g.requests[i]), `request ${i + 1}`));
    const t = JSON.parse(r.stdout) as Trajectory;
    assert.equal(t.protocol, 'deepeyes');
    assert.equal(t.status, 'answered');
    assert.equal(t.answer, g.result.pred_ans, "the repository's pred_ans");
    const cell = t.turns[0].cells[0];
    assert.equal(cell.status, 'ok');
    assert.deepEqual(cell.tool, {
      name: 'image_zoom_in_tool',
      arguments: { bbox_2d: [280.5, 180, 340, 236], label: 'the small square' },
      region: { imageIndex: 0, bbox: [280.5, 180, 340, 236] },
    });
    assert.equal(cell.images[0].source, 'tool');
    assert.deepEqual([cell.images[0].width, cell.images[0].height], [56, 56], 'smart_resize(59.5, 56) of a 60x56 crop');
  });

  it('the fixture model zooms on the box the question names and answers from the crop it gets back', async () => {
    fm = await startFixtureModel();
    const sq = smallObjectImage({ color: 'blue', seed: 11, width: 1120, height: 840 });
    const img = path.join(tmp, 'square.png');
    writeFileSync(img, sq.png);
    const { x, y, side } = sq.truth;
    const onIt = `What color is the small square? It is inside [${x - 30}, ${y - 20}, ${x + side + 30}, ${y + side + 20}].`;
    const r = await ask(fm, img, onIt, ['--out', path.join(tmp, 'on'), '--option', 'blue', '--option', 'red']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as Trajectory;
    assert.equal(t.answer, 'A. blue');
    assert.deepEqual(
      t.turns[0].cells[0].tool?.arguments.bbox_2d,
      [x - 30, y - 20, x + side + 30, y + side + 20],
      'the box the question named',
    );
    assert.equal(fm.chatRequests.length, 2);

    // the same question with a box beside the square: the crop shows none, and the answer says so
    const beside = `What color is the small square? It is inside [${x > 400 ? 20 : 700}, 20, ${x > 400 ? 120 : 800}, 120].`;
    const r2 = await ask(fm, img, beside, ['--out', path.join(tmp, 'beside')]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal((JSON.parse(r2.stdout) as Trajectory).answer, 'no square', 'the answer depends on what the tool returned');
  });

  it('a malformed call ends the run as the repository’s loop does: recorded as failed, nothing sent back, the reply its answer', async () => {
    fm = await startFixtureModel({ faults: ['malformed-tool-json'] });
    const sq = smallObjectImage({ color: 'red', seed: 3, width: 560, height: 420 });
    const img = path.join(tmp, 'bad.png');
    writeFileSync(img, sq.png);
    const r = await ask(fm, img, `What color is the small square? It is inside [10, 10, 200, 200].`, ['--out', path.join(tmp, 'bad')]);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as Trajectory;
    assert.equal(fm.chatRequests.length, 1, 'no second request');
    assert.equal(t.turns[0].cells.length, 0, 'no crop ran');
    assert.equal(t.turns[0].malformed.length, 1);
    assert.match(t.turns[0].malformed[0].message, /^SyntaxError: '\{' was never closed/);
    assert.equal(t.answer, t.turns[0].content, 'pred_ans: the whole reply');

    // a call with `bbox` (the schema's own `required`) instead of bbox_2d: KeyError in the repository
    await fm.close();
    fm = await startFixtureModel({ faults: ['missing-code'] });
    const r2 = await ask(fm, img, `What color is the small square? It is inside [10, 10, 200, 200].`, ['--out', path.join(tmp, 'bad2')]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal((JSON.parse(r2.stdout) as Trajectory).turns[0].malformed[0].message, "KeyError: 'bbox_2d'");
  });

  it('the crop runs in the kernel as eval_vstar.py runs it: its sizes, its errors, nothing added to the namespace', async () => {
    const k = await startKernelSession({ python: PYTHON });
    try {
      await k.setInputImages([readFileSync(path.join(GOLDEN_DIR, 'deepeyes-input.jpg'))], { resize: 'original' });
      const zoom = async (bbox: string) => {
        const r = await k.execute(bbox, { tool: { kind: 'deepeyes-zoom', bbox } });
        return r.status === 'ok'
          ? r.images.map((i) => `${i.source} ${i.mime} ${i.width}x${i.height}`).join()
          : `${r.error?.ename}: ${r.error?.evalue}`;
      };
      assert.equal(await zoom('[280.5, 180, 340, 236]'), 'tool image/png 56x56');
      assert.equal(await zoom('(0, 0, 448, 336)'), 'tool image/png 448x336');
      assert.equal(await zoom('[-50, -50, 20, 20]'), 'tool image/png 56x56', 'no clamping: PIL pads outside the image');
      assert.equal(await zoom('[100, 0, 10, 50]'), "ValueError: Coordinate 'right' is less than 'left'");
      assert.equal(await zoom('[1, 2, 3]'), 'ValueError: not enough values to unpack (expected 4, got 3)');
      assert.match(await zoom('["1", "2", "3", "4"]'), /^TypeError: /);
      const ns = await k.execute('print(sorted(k for k in globals() if not k.startswith("__")))');
      assert.equal(ns.stdout.trim(), "['input_image', 'input_image_path', 'input_images', 'plt']");
    } finally {
      await k.dispose();
    }
  });

  it('codedance eval --protocol deepeyes: the rows’ options, answers from the crops; results, stats, manifest and report name the protocol', async () => {
    fm = await startFixtureModel();
    const rows = [
      { color: 'red', seed: 21, hit: true },
      { color: 'green', seed: 22, hit: true },
      { color: 'blue', seed: 23, hit: false },
    ].map(({ color, seed, hit }) => {
      const sq = smallObjectImage({ color: color as 'red', seed, width: 840, height: 630 });
      const { x, y, side } = sq.truth;
      const box = hit ? [x - 25, y - 25, x + side + 25, y + side + 25] : [x > 300 ? 10 : 500, 10, x > 300 ? 110 : 600, 110];
      const options = [color, ...['yellow', 'purple', 'cyan'].filter((c) => c !== color)];
      return JSON.stringify({
        data_source: 'vstar',
        images: [{ bytes: sq.png.toString('base64'), path: null }],
        extra_info: { question: `What color is the small square? It is inside [${box.join(', ')}].`, answer: color, options },
      });
    });
    const data = path.join(tmp, 'vstar_mini.jsonl');
    writeFileSync(data, rows.join('\n') + '\n');
    const save = path.join(tmp, 'save');
    const r = await cli([
      'eval',
      '--model_name',
      'de',
      '--api_url',
      fm.baseUrl,
      '--data_path',
      data,
      '--save_path',
      save,
      '--num_workers',
      '2',
      '--protocol',
      'deepeyes',
      '--no-judge',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Protocol: deepeyes$/m);
    const summary = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.protocol, 'deepeyes');
    const results = path.join(save, 'de', 'result_de_vstar_mini.jsonl');
    const recs = readFileSync(results, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .sort((a, b) => a.index - b.index);
    assert.deepEqual(
      recs.map((x) => x.acc),
      [1, 1, 0],
      'the box on the square: right; the box beside it: wrong',
    );
    assert.deepEqual(
      recs.map((x) => x.judge_result.answer),
      ['A. red', 'A. green', 'no square'],
    );
    // the options reached the model lettered under the question, as eval_vstar.py writes them
    const first = fm.chatRequests.find((q) =>
      JSON.stringify(q.body).includes('Options: \\nA. red\\nB. yellow\\nC. purple\\nD. cyan\\n\\n'),
    );
    assert.ok(first, 'a request with the options of row 0');
    const manifest = JSON.parse(readFileSync(path.join(save, 'de', 'manifest_de_vstar_mini.json'), 'utf8'));
    assert.equal(manifest.protocol, 'deepeyes');
    assert.deepEqual(manifest.sampling, { temperature: 0, max_tokens: 10240, stop: ['<|im_end|>'] });
    assert.equal(manifest.max_turns, 11);
    // scored by DeepEyes' judge unless told otherwise (--no-judge: its rule check, then the normalized match)
    assert.equal(manifest.judge.style, 'deepeyes');
    assert.match(r.stderr, /^Judge: DeepEyes' eval\/judge_result\.py \(--judge-style deepeyes\)$/m);
    assert.deepEqual(
      recs.map((x) => [x.codedance.scorer, x.codedance.score_method, x.judge_result.ground_truth]),
      [
        ['deepeyes', 'rule', 'A. red'],
        ['deepeyes', 'rule', 'A. green'],
        ['deepeyes', 'normalized-match', 'A. blue'],
      ],
    );
    for (const x of recs) assert.equal(x.codedance.trajectory.protocol, 'deepeyes');
    const a = (await loadRun(results, 'A')).run;
    assert.equal(a.protocol, 'deepeyes');

    // the same rows in CodeDance's format: the report flags the comparison
    const r2 = await cli([
      'eval',
      '--model_name',
      'cd',
      '--api_url',
      fm.baseUrl,
      '--data_path',
      data,
      '--save_path',
      save,
      '--num_workers',
      '2',
      '--no-judge',
      '--limit',
      '1',
    ]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(JSON.parse(readFileSync(path.join(save, 'cd', 'manifest_cd_vstar_mini.json'), 'utf8')).judge.style, 'seed');
    const bad = await cli(['eval', '--api_url', fm.baseUrl, '--data_path', data, '--judge-style', 'lenient', '--no-judge']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--judge-style must be one of seed, deepeyes, got 'lenient'/);
    const b = (await loadRun(path.join(save, 'cd', 'result_cd_vstar_mini.jsonl'), 'B')).run;
    assert.equal(b.protocol, 'codedance');
    assert.deepEqual(comparisonWarnings(a, b), [
      'the runs use different protocols (A: deepeyes, B: codedance): each model was asked in a different format',
    ]);
  });
});
