/**
 * `--protocol pyvision` end to end: the built CLI (dist/cli.js), a real kernel (sandboxed), the
 * fixture VLM on the real OpenAI wire protocol (it ends each reply at the request's stop string).
 *
 * 1. Golden: for two scripted samples our client sends exactly the requests PyVision's own
 *    evaluate_single_data() sent (test/fixtures/golden/pyvision.json, written by
 *    scripts/golden/pyvision_requests.py, which runs the repository's engine and executor): the
 *    prompt, the image file's own bytes, `</code>\n` after each code reply and the `<interpreter>`
 *    texts that its executor printed for the same code on the same image — so image_clue_0 holds
 *    the same pixels here, variables and its names persist, errors, refusals and the 400-character
 *    cut read the same. Only the figures' pixels differ (our kernel draws them: 150 dpi, tight box).
 * 2. The fixture model (test/fixtures/pyvisionBrain.ts) finds the square on image_clue_0, uses its
 *    turn-1 variables on turn 2, and answers the colour the interpreter printed.
 * 3. `codedance eval --protocol pyvision` with the fixture judge: right where the square is, wrong
 *    where there is none; the manifest and results name the protocol and its sampling.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { CLI, type CliRun, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { decodePng, smallObjectImage } from '../../fixtures/images';
import { startJudgeServer } from '../../fixtures/judgeServer';

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

/** A request body as the repository's client serialized it: without our streaming fields; a figure (a PNG the code drew) as "png". */
function comparable(body: unknown): unknown {
  const { stream: _s, stream_options: _o, ...rest } = body as Record<string, unknown>;
  return JSON.parse(JSON.stringify(rest), (_k, v: unknown) =>
    typeof v === 'string' && v.startsWith('data:image/jpeg;base64,iVBORw0KGgo') ? 'data:image/jpeg;base64,<a PNG figure>' : v,
  );
}

const ask = (fm: FixtureModel, image: string, question: string, extra: string[] = []) =>
  cli(['ask', image, question, '--protocol', 'pyvision', '--base-url', fm.baseUrl, '--python', PYTHON, '--json', ...extra]);

describe('codedance --protocol pyvision (CLI, real kernel, fixture model)', function () {
  this.timeout(180_000);
  let tmp: string;
  let fm: FixtureModel | undefined;
  const g = JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'pyvision.json'), 'utf8'));

  before(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-pyvision-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    await fm?.close();
    fm = undefined;
  });

  for (const name of ['sample', 'steps'] as const) {
    it(`sends, for the scripted ${name === 'sample' ? 'two-turn sample' : 'sample of errors, refusals and kept variables'}, exactly the requests PyVision’s engine sent (golden from its own code)`, async () => {
      const s = g[name];
      fm = await startFixtureModel({ models: [s.model], script: s.replies });
      const r = await ask(fm, path.join(GOLDEN_DIR, s.image), s.question, ['--out', path.join(tmp, name)]);
      assert.equal(r.code, 0, r.stderr);
      const bodies = fm.chatRequests.map((x) => x.body);
      assert.equal(bodies.length, s.requests.length);
      bodies.forEach((b, i) => assert.deepEqual(comparable(b), comparable(s.requests[i]), `request ${i + 1}`));
      const t = JSON.parse(r.stdout) as Trajectory;
      assert.equal(t.protocol, 'pyvision');
      assert.equal(t.status, 'answered');
      assert.equal(t.answer, s.final_response, "the repository's final_response");
      assert.deepEqual(comparable({ m: t.messages.at(-1) }), comparable({ m: s.messages.at(-1) }));
      const figures = t.turns.flatMap((x) => x.cells.flatMap((c) => c.images));
      assert.equal(figures.length, s.figureSizes.length, 'one figure per plt.show() the repository captured');
      for (const f of figures) {
        assert.equal(f.source, 'figure');
        const png = decodePng(Buffer.from(f.data, 'base64'));
        assert.deepEqual([png.width, png.height], [f.width, f.height]);
      }
    });
  }

  it('the fixture model finds the square on image_clue_0, keeps its box for the next turn and answers the colour printed', async () => {
    fm = await startFixtureModel();
    const sq = smallObjectImage({ color: 'green', seed: 5, width: 640, height: 480 });
    const img = path.join(tmp, 'square.png');
    writeFileSync(img, sq.png);
    const r = await ask(fm, img, sq.question, ['--out', path.join(tmp, 'brain')]);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as Trajectory;
    assert.match(t.answer ?? '', /<answer>\n\\boxed\{'green'\}\n<\/answer>$/);
    assert.equal(fm.chatRequests.length, 3);
    const [find, look] = t.turns.map((x) => x.cells[0]);
    assert.match(find.stdout, new RegExp(`square_bbox = \\(${sq.truth.x}, ${sq.truth.y}, `), 'measured on image_clue_0');
    assert.match(look.code, /^x0, y0, x1, y1 = box$/m);
    assert.equal(look.status, 'ok', 'turn 1’s variables were there on turn 2');
    assert.equal(look.images.length, 1);
    const third = JSON.stringify(fm.chatRequests[2].body);
    assert.match(third, /<image_clue_1>/);
    assert.match(third, /square_rgb = \(/);
    assert.equal(t.messages[0].role, 'user', 'no system message');
  });

  it('codedance eval --protocol pyvision: answers from what the code printed, judged; results and manifest name the protocol', async () => {
    fm = await startFixtureModel();
    const judge = await startJudgeServer();
    try {
      const rows = [
        { color: 'red', seed: 31 },
        { color: 'blue', seed: 32 },
        { color: undefined, seed: 33 },
      ].map(({ color, seed }) => {
        const sq = smallObjectImage({ color: (color ?? 'red') as 'red', seed, width: 480, height: 360, side: color ? 14 : 0 });
        return JSON.stringify({
          data_source: 'vstar',
          images: [{ bytes: sq.png.toString('base64'), path: null }],
          extra_info: { question: sq.question, answer: color ?? 'yellow' },
        });
      });
      const data = path.join(tmp, 'squares.jsonl');
      writeFileSync(data, rows.join('\n') + '\n');
      const save = path.join(tmp, 'save');
      const r = await cli([
        'eval',
        '--model_name',
        'pv',
        '--api_url',
        fm.baseUrl,
        '--data_path',
        data,
        '--save_path',
        save,
        '--num_workers',
        '2',
        '--protocol',
        'pyvision',
        '--judge-url',
        judge.baseUrl,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /^Protocol: pyvision$/m);
      const recs = readFileSync(path.join(save, 'pv', 'result_pv_squares.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .sort((a, b) => a.index - b.index);
      assert.deepEqual(
        recs.map((x) => x.judge_result.answer),
        ["\\boxed{'red'}", "\\boxed{'blue'}", "\\boxed{'unknown'}"],
      );
      assert.deepEqual(
        recs.map((x) => x.acc),
        [1, 1, 0],
      );
      const manifest = JSON.parse(readFileSync(path.join(save, 'pv', 'manifest_pv_squares.json'), 'utf8'));
      assert.equal(manifest.protocol, 'pyvision');
      assert.deepEqual(manifest.sampling, { temperature: 0.6, top_p: 1, max_tokens: 10000, stop: ['</code>'] });
      assert.equal(manifest.max_turns, 30);
      for (const x of recs) assert.equal(x.codedance.trajectory.protocol, 'pyvision');
    } finally {
      await judge.close();
    }
  });
});
