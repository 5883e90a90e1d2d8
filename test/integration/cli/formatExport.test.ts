/**
 * Thyme and PyVision runs made by the built CLI (`codedance ask`, a real kernel running the code,
 * the fixture model replaying the golden samples' replies), exported by `codedance data export
 * --format sft`, and read back as the dataset viewer reads the file (DatasetView, rowTrajectory):
 * the row's text is the repository's own conversation (golden thyme.json / pyvision.json, written
 * from their loops), every image — the question's, each crop and figure the real code made — byte
 * for byte, and the viewer gives back each call's code and images.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toSftMessages } from '../../../src/core/training-data';
import { DatasetView } from '../../../src/core/training-data/datasetView';
import { rowTrajectory } from '../../../src/core/training-data/rowTrajectory';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { CLI, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { GOLDEN_DIR, pyvisionGolden, repositoryMessages, thymeGolden } from '../../unit/data/formatRuns';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';

function cli(args: string[]) {
  return runCli(args, {
    CODEDANCE_BASE_URL: undefined,
    LLM_AS_A_JUDGE_BASE: undefined,
    OPENAI_API_KEY: undefined,
    CODEDANCE_API_KEY: undefined,
    CODEDANCE_PYTHON: PYTHON,
  });
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const calls = (t: Trajectory) => t.turns.flatMap((x) => x.cells.map((c) => ({ code: c.code, images: c.images.map((i) => i.data) })));

describe('Thyme and PyVision runs: codedance ask → codedance data export → the dataset viewer (real kernel)', function () {
  this.timeout(180_000);
  let tmp: string;
  let fm: FixtureModel | undefined;

  before(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-format-export-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    await fm?.close();
    fm = undefined;
  });

  /** Runs `ask` with the golden replies, exports its trajectory, reads the row back. */
  async function roundTrip(protocol: string, model: string, replies: string[], image: string, question: string, extra: string[]) {
    fm = await startFixtureModel({ models: [model], script: replies });
    const dir = path.join(tmp, protocol);
    const r = await cli([
      'ask',
      image,
      question,
      '--protocol',
      protocol,
      '--base-url',
      fm.baseUrl,
      '--python',
      PYTHON,
      '--json',
      '--out',
      dir,
      ...extra,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as Trajectory;
    const out = path.join(tmp, `${protocol}.parquet`);
    const e = await cli(['data', 'export', '--format', 'sft', '--out', out, path.join(dir, 'trajectory.json')]);
    assert.equal(e.code, 0, e.stderr);
    const [row] = await (await DatasetView.open(out)).raw(0, 1);
    const text = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v);
    const messages = (row.messages as { role: unknown; content: unknown }[]).map((m) => ({ role: text(m.role), content: text(m.content) }));
    return { t, row, messages, images: (row.images as Uint8Array[]).map(b64), back: rowTrajectory(row, 0, out) };
  }

  it('thyme: the row is the repository’s last prompt and reply, the sandbox’s crop inside the assistant message', async () => {
    const s = thymeGolden.twoTurns;
    const image = path.join(GOLDEN_DIR, 'thyme-input.png');
    const options = thymeGolden.sample.options.flatMap((o) => ['--option', o]);
    const { t, messages, images, back } = await roundTrip('thyme', 'thyme-fixture', s.replies, image, thymeGolden.sample.question, options);
    const workdir = /User Image Path:\*\* "(.*)\/thyme\/input_image\.png"/.exec(String(messages[1].content))?.[1];
    assert.ok(workdir, 'the prompt names the kernel’s image path');
    const theirs = repositoryMessages(s.calls.at(-1)!.prompt.split('{workdir}').join(workdir));
    theirs[theirs.length - 1].content += s.replies.at(-1);
    assert.deepEqual(messages, theirs);
    const crops = t.turns.flatMap((x) => x.cells.flatMap((c) => c.images.map((i) => i.data)));
    assert.equal(crops.length, 1);
    assert.deepEqual(
      images,
      [b64(readFileSync(image)), ...crops],
      'the question’s file and the crop the real sandbox saved, byte for byte',
    );
    assert.equal(back.protocol, 'thyme');
    assert.equal(back.answer, t.answer);
    assert.deepEqual(calls(back), calls(t));
  });

  it('pyvision: the row is the engine’s own messages (cut output, error, refusal), every figure the real code drew', async () => {
    const s = pyvisionGolden.steps;
    const image = path.join(GOLDEN_DIR, s.image);
    const { t, messages, images, back } = await roundTrip('pyvision', 'pyvision-fixture', s.replies, image, s.question, []);
    const theirs = toSftMessages(s.messages);
    assert.deepEqual(messages, theirs.messages, 'the interpreter texts the engine printed for the same code');
    const figures = t.turns.flatMap((x) => x.cells.flatMap((c) => c.images.map((i) => i.data)));
    assert.equal(figures.length, theirs.images.length - 1, 'as many figures as the engine sent');
    assert.deepEqual(images, [b64(readFileSync(image)), ...figures], 'the question’s file and each figure, byte for byte');
    assert.equal(back.protocol, 'pyvision');
    assert.equal(back.answer, s.final_response);
    assert.deepEqual(calls(back), calls(t));
    assert.deepEqual(
      back.turns.map((x) => x.malformed.length),
      t.turns.map((x) => x.malformed.length),
      'the refused call',
    );
  });
});
