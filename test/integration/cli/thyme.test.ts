/**
 * `--protocol thyme` end to end: the built CLI (dist/cli.js), a real kernel (the model's code runs
 * in it, through Thyme's sandbox rules: prelude thyme.py), the fixture VLM on the real OpenAI wire
 * protocol.
 *
 * 1. Golden: the prompts our requests make, rendered through the chat template as vLLM renders
 *    them (`continue_final_message` as transformers implements it), equal the prompts Thyme's
 *    own Thyme.generate_inner builds for two scripted samples (test/fixtures/golden/thyme.json,
 *    written by scripts/golden/thyme_requests.py): its sampling, its images (pixels), the
 *    dropped block, the generations at temperature 1.0, the plain prompt, the answer.
 * 2. The fixture model (test/fixtures/thymeBrain.ts) crops where the question says, with a wrong
 *    image path and a too-small box that only the sandbox's rewrites fix, and answers from what
 *    comes back: the saved crop, or the numbers its code printed.
 * 3. A block that fails is dropped and asked again; a reply with neither block nor answer starts
 *    a new generation at temperature 1.0.
 * 4. The sandbox in the kernel: its rewrites, its context across blocks, its rollback, its refusals.
 * 5. `codedance eval --protocol thyme`.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startKernelSession } from '../../../src/core/kernel';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { CLI, type CliRun, runCli } from '../../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { decodePng, smallObjectImage } from '../../fixtures/images';

const PYTHON = process.env.CODEDANCE_TEST_PYTHON ?? '/usr/bin/python3';
const GOLDEN_DIR = path.join(__dirname, '..', '..', 'fixtures', 'golden');

type Part = { type: string; text?: string; image_url?: { url: string } };
type Message = { role: string; content: string | Part[] };

function cli(args: string[]): Promise<CliRun> {
  return runCli(args, {
    CODEDANCE_BASE_URL: undefined,
    LLM_AS_A_JUDGE_BASE: undefined,
    OPENAI_API_KEY: undefined,
    CODEDANCE_API_KEY: undefined,
    CODEDANCE_PYTHON: PYTHON,
  });
}

/** The Qwen2-VL chat template (the golden script's `render`), as Jinja renders it. */
function render(messages: Message[], addGenerationPrompt: boolean): string {
  let out = messages[0]?.role !== 'system' ? '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' : '';
  for (const m of messages) {
    out += `<|im_start|>${m.role}\n`;
    if (typeof m.content === 'string') out += m.content + '<|im_end|>\n';
    else
      out +=
        m.content.map((c) => (c.type === 'image_url' ? '<|vision_start|><|image_pad|><|vision_end|>' : (c.text ?? ''))).join('') +
        '<|im_end|>\n';
  }
  return out + (addGenerationPrompt ? '<|im_start|>assistant\n' : '');
}

/** transformers' apply_chat_template(continue_final_message=True): the text cut after the last message's last text. */
function continueFinal(rendered: string, last: Message): string {
  const finalText = typeof last.content === 'string' ? last.content : [...last.content].reverse().find((p) => p.type !== 'image_url')?.text;
  if (finalText === undefined) throw new Error('no text to continue');
  const at = rendered.lastIndexOf(finalText.trim());
  assert.ok(at >= 0);
  const lstripped = finalText.trimStart();
  return rendered.slice(0, rendered.slice(at, at + lstripped.length) === finalText ? at + lstripped.length : at + finalText.trim().length);
}

/** A request body as the prompt vLLM makes of it, its sampling in the repository's terms, its images by their pixels. */
function asRepository(body: Record<string, unknown>, workdir: string) {
  const messages = body.messages as Message[];
  const cont = body.continue_final_message === true;
  const prompt = cont ? continueFinal(render(messages, false), messages.at(-1)!) : render(messages, body.add_generation_prompt !== false);
  const images = messages.flatMap((m) => (typeof m.content === 'string' ? [] : m.content.filter((p) => p.type === 'image_url')));
  return {
    prompt: prompt.split(workdir).join('{workdir}'),
    add_generation_prompt: !cont,
    generate: {
      max_new_tokens: body.max_tokens,
      top_p: body.top_p,
      top_k: body.top_k,
      temperature: body.temperature,
      repetition_penalty: body.repetition_penalty,
      ...(body.stop ? { stop_strings: body.stop } : {}),
    },
    images: images.map((p) => {
      const { width, height, data } = decodePng(Buffer.from(p.image_url!.url.slice(p.image_url!.url.indexOf(',') + 1), 'base64'));
      return `${width}x${height} sha256 ${createHash('sha256').update(data).digest('hex')}`;
    }),
  };
}

const workdirOf = (body: Record<string, unknown>): string => {
  const texts = (body.messages as Message[]).flatMap((x) =>
    typeof x.content === 'string' ? [x.content] : x.content.map((p) => p.text ?? ''),
  );
  const m = /### User Image Path:\*\* "(.*)\/thyme\/input_image\.png"/.exec(texts.join('\n'));
  assert.ok(m, 'the prompt names the image file');
  return m[1];
};

const ask = (fm: FixtureModel, image: string, question: string, extra: string[] = []) =>
  cli(['ask', image, question, '--protocol', 'thyme', '--base-url', fm.baseUrl, '--python', PYTHON, '--json', ...extra]);

describe('codedance --protocol thyme (CLI, real kernel, fixture model)', function () {
  this.timeout(240_000);
  let tmp: string;
  let fm: FixtureModel | undefined;
  const g = JSON.parse(readFileSync(path.join(GOLDEN_DIR, 'thyme.json'), 'utf8'));

  before(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' first (npm test does it)`);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-thyme-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  afterEach(async () => {
    await fm?.close();
    fm = undefined;
  });

  for (const key of ['twoTurns', 'neverAnswers'] as const) {
    it(`sends the prompts Thyme's own loop builds (${key}: golden from the repository's code)`, async () => {
      fm = await startFixtureModel({ models: [g.sample.model], script: g[key].replies });
      const args = ['--out', path.join(tmp, key), ...g.sample.options.flatMap((o: string) => ['--option', o])];
      const r = await ask(fm, path.join(GOLDEN_DIR, g.sample.image), g.sample.question, args);
      assert.equal(r.code, 0, r.stderr);
      const bodies = fm.chatRequests.map((x) => x.body!);
      const workdir = workdirOf(bodies[0]);
      assert.equal(bodies.length, g[key].calls.length);
      bodies.forEach((b, i) => assert.deepEqual(asRepository(b, workdir), g[key].calls[i], `call ${i + 1}`));
      for (const b of bodies)
        assert.equal(b.include_stop_str_in_output, true, 'the stop string stays in the reply, as transformers keeps it');
      const t = JSON.parse(r.stdout) as Trajectory;
      assert.equal(t.protocol, 'thyme');
      assert.equal(t.status, 'answered');
      assert.equal(t.answer, g[key].answer, "the repository's answer");
    });
  }

  it('the fixture model crops where the question says and answers from the saved crop, or from what its code printed', async () => {
    fm = await startFixtureModel();
    const sq = smallObjectImage({ color: 'blue', seed: 11, width: 1120, height: 840 });
    const img = path.join(tmp, 'square.png');
    writeFileSync(img, sq.png);
    const { x, y, side } = sq.truth;
    const box = `[${x - 3}, ${y - 3}, ${x + side + 3}, ${y + side + 3}]`;
    const r = await ask(fm, img, `What color is the small square? It is inside ${box}.`, ['--option', 'red', '--option', 'blue']);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as Trajectory;
    assert.equal(t.answer, 'B. blue');
    const cell = t.turns[0].cells[0];
    assert.equal(cell.status, 'ok');
    assert.equal(cell.images.length, 1, 'the saved crop came back');
    assert.deepEqual([cell.images[0].width, cell.images[0].height], [56, 56], 'a 20-px box grown to 64 px by the sandbox, smart-resized');
    assert.match(cell.stderr, /image_path = '.*\/thyme\/input_image\.png'/, 'the wrong image path was fixed');
    const second = fm.chatRequests[1].body!;
    assert.equal(second.continue_final_message, true);
    assert.equal((second.messages as Message[]).at(-1)!.role, 'assistant');

    const measured = await ask(fm, img, `What color is the small square? It is inside ${box}. Measure it.`);
    assert.equal(measured.code, 0, measured.stderr);
    const m = JSON.parse(measured.stdout) as Trajectory;
    assert.equal(m.answer, 'blue');
    assert.match(m.turns[0].cells[0].stdout, /^saturated pixels: \d+ median RGB: \d+ \d+ \d+$/);

    // a box beside the square: the crop shows none, and the answer says so
    const beside = `What color is the small square? It is inside [${x > 400 ? 20 : 700}, 20, ${x > 400 ? 40 : 720}, 40]. Measure it.`;
    const r3 = await ask(fm, img, beside);
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal((JSON.parse(r3.stdout) as Trajectory).answer, 'no square', 'the answer depends on what the code printed');
  });

  it('a failing block is dropped and asked again; a reply with neither block nor answer starts a new generation at temperature 1.0', async () => {
    fm = await startFixtureModel({ faults: ['missing-code', undefined, 'malformed-tool-json'] });
    const sq = smallObjectImage({ color: 'red', seed: 3, width: 560, height: 420 });
    const img = path.join(tmp, 'retry.png');
    writeFileSync(img, sq.png);
    const { x, y, side } = sq.truth;
    const q = `What color is the small square? It is inside [${x - 2}, ${y - 2}, ${x + side + 2}, ${y + side + 2}].`;
    const r = await ask(fm, img, q);
    assert.equal(r.code, 0, r.stderr);
    const t = JSON.parse(r.stdout) as Trajectory;
    assert.equal(t.answer, 'red');
    assert.equal(t.turns[0].cells[0].status, 'error');
    assert.match(t.turns[0].cells[0].error!.evalue, /Code execution failed: name 'crop_bbox' is not defined/);
    const bodies = fm.chatRequests.map((x) => x.body!);
    assert.deepEqual(bodies[1].messages, bodies[0].messages, 'the failed block is not part of the next request');
    assert.equal(
      bodies[1].continue_final_message,
      true,
      'but the question is continued (the repository cuts <|im_end|> after the first call)',
    );
    assert.equal(bodies[1].temperature, 0.01);

    // a block left open: neither a block nor an answer, so the generation ends and the next starts over
    await fm.close();
    fm = await startFixtureModel({ faults: ['malformed-tool-json'] });
    const r2 = await ask(fm, img, q);
    assert.equal(r2.code, 0, r2.stderr);
    const b2 = fm.chatRequests.map((x) => x.body!);
    assert.equal((JSON.parse(r2.stdout) as Trajectory).answer, 'red');
    assert.equal(b2[1].temperature, 1.0, 'the second generation at temperature 1.0');
    assert.equal(b2[1].continue_final_message, undefined, 'a new generation asks for a new reply');
    assert.deepEqual(b2[1].messages, b2[0].messages);
  });

  it('the sandbox in the kernel: rewrites, context across blocks, rollback, refusals', async () => {
    const k = await startKernelSession({ python: PYTHON });
    try {
      await k.setInputImages([readFileSync(path.join(GOLDEN_DIR, 'thyme-input.png'))], { resize: 'original' });
      const imagePath = `${k.workdir}/thyme/input_image.png`;
      const run = (code: string, generation = 0) => k.execute(code, { tool: { kind: 'thyme', run: 'r', generation, imagePath } });
      const a = await run('image = Image.open(image_path)\nx1, y1, x2, y2 = 10, 10, 20, 20\nprint(image.size, x2 - x1, f"{1/3:.2f}")');
      assert.equal(a.status, 'ok');
      assert.equal(a.stdout, '(448, 336) 64 0.33333333', 'the box grown to 64 px; one-digit formats widened to 8');
      const b = await run('print(x2 - x1, image.size[0])');
      assert.equal(b.stdout, '64 448', 'the generation keeps its variables');
      const c = await run('x1 = 5\nundefined_name');
      assert.equal(c.status, 'error');
      assert.equal(c.error?.ename, 'ThymeSandboxError');
      assert.equal((await run('print(x1)')).stdout, '10', 'a failed block leaves the context as it was');
      assert.equal((await run('print(len(set([1])))')).error?.evalue, "Sandbox for N/A: Code execution failed: name 'set' is not defined");
      assert.match((await run('import subprocess\nsubprocess.run(["id"])')).error!.evalue, /dangerous system operations/);
      assert.equal(
        (await run('print(x1)', 1)).error?.evalue,
        "Sandbox for N/A: Code execution failed: name 'x1' is not defined",
        'a new generation starts afresh',
      );
      const ns = await k.execute('print(sorted(k for k in globals() if not k.startswith("__")))');
      assert.equal(ns.stdout.trim(), "['input_image', 'input_image_path', 'input_images', 'plt']", 'the code ran in its own namespace');
    } finally {
      await k.dispose();
    }
  });

  it('codedance eval --protocol thyme: answers from the code’s output; results and manifest name the protocol', async () => {
    fm = await startFixtureModel();
    const rows = [
      { color: 'red', seed: 21, hit: true },
      { color: 'green', seed: 22, hit: false },
    ].map(({ color, seed, hit }) => {
      const sq = smallObjectImage({ color: color as 'red', seed, width: 840, height: 630 });
      const { x, y, side } = sq.truth;
      const box = hit ? [x - 4, y - 4, x + side + 4, y + side + 4] : [x > 300 ? 10 : 500, 10, x > 300 ? 30 : 520, 30];
      return JSON.stringify({
        data_source: 'vstar',
        images: [{ bytes: sq.png.toString('base64'), path: null }],
        extra_info: {
          question: `What color is the small square? It is inside [${box.join(', ')}].`,
          answer: color,
          options: [color, 'purple'],
        },
      });
    });
    const data = path.join(tmp, 'vstar_thyme.jsonl');
    writeFileSync(data, rows.join('\n') + '\n');
    const save = path.join(tmp, 'save');
    const r = await cli([
      'eval',
      '--model_name',
      'th',
      '--api_url',
      fm.baseUrl,
      '--data_path',
      data,
      '--save_path',
      save,
      '--protocol',
      'thyme',
      '--no-judge',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Protocol: thyme$/m);
    const recs = readFileSync(path.join(save, 'th', 'result_th_vstar_thyme.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .sort((a, b) => a.index - b.index);
    assert.deepEqual(
      recs.map((x) => x.judge_result.answer),
      ['A. red', 'no square'],
    );
    const manifest = JSON.parse(readFileSync(path.join(save, 'th', 'manifest_th_vstar_thyme.json'), 'utf8'));
    assert.equal(manifest.protocol, 'thyme');
    assert.equal(manifest.max_turns, 26);
  });
});
