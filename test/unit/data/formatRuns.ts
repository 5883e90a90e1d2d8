/**
 * Thyme and PyVision runs made by the real agent loop (runAgentToEnd, the formats' own adapters)
 * with a scripted model and an in-memory kernel, for the export, viewer and chat-render tests.
 * The golden samples' replies (written from the repositories' own loops: test/fixtures/golden
 * thyme.json, pyvision.json) are replayed with kernels that answer what the repositories'
 * executors answered (their printed text, errors; figures and crops as solid PNGs, one colour each).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { runAgentToEnd } from '../../../src/core/agent/runAgent';
import type { ExecuteOptions, ExecutionResult, OutputImage, PreparedImage } from '../../../src/core/kernel/types';
import { createPyvisionProtocol } from '../../../src/core/protocol/pyvision';
import { createThymeProtocol } from '../../../src/core/protocol/thyme';
import type { ChatMessage } from '../../../src/core/protocol/types';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { FakeKernel, ScriptedModel } from '../agent/fakes';
import { golden } from '../protocol/golden';
import { solidPng } from './exportFixtures';

export const GOLDEN_DIR = path.join(__dirname, '..', '..', 'fixtures', 'golden');

/** A kernel that reports the input's size and answers each cell with `answer(code)`. */
class ScriptKernel extends FakeKernel {
  constructor(
    private readonly size: [number, number],
    private readonly answer: (code: string, opts: ExecuteOptions) => ExecutionResult,
  ) {
    super();
  }
  override async setInputImages(images: Uint8Array[]): Promise<PreparedImage[]> {
    await super.setInputImages(images);
    const [width, height] = this.size;
    return images.map(() => ({ pngBase64: '', width, height, originalWidth: width, originalHeight: height }));
  }
  override async execute(code: string, opts: ExecuteOptions = {}): Promise<ExecutionResult> {
    this.executed.push(code);
    return this.answer(code, opts);
  }
}

export interface FormatRun {
  t: Trajectory;
  input: Buffer;
  /** every request the model was sent */
  requests: ScriptedModel['requests'];
  /** the images the kernel made, in order */
  made: Buffer[];
}

let shade = 0;
/** A PNG the kernel "made": its own colour, so that two are never the same bytes. */
function madeImage(made: Buffer[], source: OutputImage['source']): OutputImage {
  shade = (shade + 37) % 256;
  const png = solidPng(8 + made.length, 6, [shade, 255 - shade, 90]);
  made.push(png);
  return { mime: 'image/png', data: png.toString('base64'), width: 8 + made.length - 1, height: 6, source };
}

const ok = (stdout: string, images: OutputImage[] = []): ExecutionResult => ({ status: 'ok', stdout, stderr: '', images, durationMs: 1 });
const error = (ename: string, evalue: string, stdout = ''): ExecutionResult => ({
  status: 'error',
  stdout,
  stderr: '',
  images: [],
  error: { ename, evalue, traceback: [] },
  durationMs: 1,
});

// ---- Thyme ----

export const thymeGolden = golden<{
  sample: { question: string; options: string[] };
  twoTurns: { replies: string[]; calls: { prompt: string }[]; answer: string };
  neverAnswers: { replies: string[]; calls: { prompt: string }[]; answer: string };
}>('thyme');

/**
 * A Thyme run. The sandbox (ours, in the kernel) gives a crop for code that saves one, the printed
 * text for code that prints a size, nothing (ThymeSandboxError: the reply is dropped) for the rest.
 */
export async function thymeRun(replies: readonly string[]): Promise<FormatRun> {
  const made: Buffer[] = [];
  const kernel = new ScriptKernel([448, 336], (code, opts) => {
    if (opts.tool?.kind !== 'thyme') throw new Error(`a Thyme block runs through its sandbox, got ${JSON.stringify(opts.tool)}`);
    if (code.includes('.save(')) return ok('', [madeImage(made, 'tool')]);
    if (code.includes('print(')) return ok('  size 448x336\n');
    return error('ThymeSandboxError', "Sandbox for N/A: NameError: name 'crop_bbox' is not defined");
  });
  const input = readFileSync(path.join(GOLDEN_DIR, 'thyme-input.png'));
  const model = new ScriptedModel([...replies]);
  const t = await runAgentToEnd(thymeGolden.sample.question, [input], {
    model,
    modelName: 'thyme-fixture',
    protocol: createThymeProtocol(),
    kernel,
    choices: thymeGolden.sample.options,
  });
  return { t, input, requests: model.requests, made };
}

const FENCE = '```';
const block = (think: string, code: string) => `${think}\n<code>\n${FENCE}python\n${code}\n${FENCE}\n</code>`;

/**
 * Thyme's loop at work: generation 1's block gives nothing (dropped), then a reply with neither block
 * nor answer ends it; generation 2 prints a size (a text sandbox output), crops (an image), answers.
 */
export const THYME_RETRY_REPLIES = [
  block('<think>First a look.', 'cropped = image.crop(crop_bbox)'),
  '<think>Let me think about the image.</think>',
  block('<think>How large is it?', 'print("size", Image.open(image_path).size)'),
  block(
    '\nNow the square.',
    'image = Image.open(image_path)\nimage.crop((296, 196, 316, 216)).save(processed_path)\nprint(processed_path)',
  ),
  '\nThe crop is red.</think>\n<answer>A. red</answer>',
];

/** The repository's prompt of one call (Qwen2-VL's template rendered) as the messages of a training row: each image `<image>`. */
export function repositoryMessages(prompt: string): { role: string; content: string }[] {
  const VISION = '<|vision_start|><|image_pad|><|vision_end|>';
  return prompt
    .split('<|im_start|>')
    .slice(1)
    .map((chunk) => {
      const nl = chunk.indexOf('\n');
      // the eval puts the image, then the text `<image>\n{question}`: in a training row they are one token (Thyme's SFT data)
      const content = chunk
        .slice(nl + 1)
        .replace(/<\|im_end\|>\n$/, '')
        .replaceAll(`${VISION}<image>`, '<image>')
        .replaceAll(VISION, '<image>');
      return { role: chunk.slice(0, nl), content };
    });
}

// ---- PyVision ----

type PyGolden = { image: string; question: string; replies: string[]; messages: ChatMessage[]; final_response: string };
export const pyvisionGolden = golden<{ sample: PyGolden; steps: PyGolden }>('pyvision');

/** What PyVision's executor answered for the golden samples' cells (their `<interpreter>` messages), as our kernel's results. */
function pyvisionCell(code: string, made: Buffer[]): ExecutionResult {
  const figures = (n: number) => Array.from({ length: n }, () => madeImage(made, 'figure'));
  if (code.includes('square_rgb'))
    return ok('image: (448, 336) RGB\nsquare_bbox = (300, 200, 311, 211)\nsquare_rgb = (220, 41, 44)\n', figures(1));
  if (code.includes("s = 'pyvision ' * 60")) return ok(`${'pyvision '.repeat(60)}\n540\n`, figures(1));
  if (code.includes('undefined_name')) return error('NameError', "name 'undefined_name' is not defined", '540\n');
  if (code.includes('globals()'))
    return ok("540 Image None RGB\n['Image', 'base64', 'image_clue_0', 'io', 'matplotlib', 'np', 'plt']\n", figures(2));
  throw new Error(`no scripted result for ${code}`);
}

/** A golden PyVision sample replayed: the replies as a server returns them (cut before the stop string `</code>`). */
export async function pyvisionRun(name: 'sample' | 'steps'): Promise<FormatRun> {
  const s = pyvisionGolden[name];
  const made: Buffer[] = [];
  const input = readFileSync(path.join(GOLDEN_DIR, s.image));
  const model = new ScriptedModel(s.replies.map((r) => r.split('</code>')[0]));
  const t = await runAgentToEnd(s.question, [input], {
    model,
    modelName: 'pyvision-fixture',
    protocol: createPyvisionProtocol(),
    kernel: new ScriptKernel([448, 336], (code) => pyvisionCell(code, made)),
  });
  return { t, input, requests: model.requests, made };
}
