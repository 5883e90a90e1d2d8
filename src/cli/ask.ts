/**
 * `codedance ask IMAGE "question"`: one agent run in the terminal. Streams the trajectory, saves
 * under --out each output image as it comes, the question's image as the model was sent it
 * (input_image.png), then trajectory.json and trajectory.ipynb, which refer to those files rather
 * than holding the images again (`codedance-file:NAME`, read back by `loadImages` from the
 * folder; an image that could not be saved stays inline). Each file is written whole or not at
 * all. A full disk does not stop the run: what fits is saved, the answer is printed, and the
 * files that could not be saved are named at the end (exit code EXIT.diskFull).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentEvent } from '../core/trajectory/events';
import type { AgentOptions } from '../core/agent/options';
import { runAgent } from '../core/agent/runAgent';
import { isCodeDanceError, type ErrorInfo } from '../core/errors';
import { writeFileAtomicSync } from '../core/files/atomicWrite';
import { asDiskFull, rethrowDiskFull, type DiskFullError } from '../core/files/diskFull';
import { imageExtension } from '../core/images/sniffImageMime';
import { resolvePython, startKernelSession, type ResolvedPython } from '../core/kernel';
import { displayUrl, startRemoteKernelSession } from '../core/kernel/remote';
import { createChatModel, resolveModelName } from '../core/model';
import { getProtocol, isProtocolId, protocolIds, templateHash } from '../core/protocol';
import { referToFiles } from '../core/trajectory/images';
import { toNotebook } from '../core/trajectory/notebook';
import type { Trajectory } from '../core/trajectory/types';
import { CliError, describeError, EXIT, exitCodeFor, observationTokensFlag } from './errors';
import { onInterrupt } from './interrupt';
import { SANDBOX_ARGS, SANDBOX_USAGE, sandboxFromFlags } from './sandbox';
import { TerminalRenderer } from './render';

export const ASK_USAGE = `usage: codedance ask IMAGE "QUESTION" [options]

options:
  --base-url URL[,URL]   OpenAI-compatible endpoint(s) (default $CODEDANCE_BASE_URL or http://127.0.0.1:8000/v1)
  --model NAME           model name (default: the first id of GET /models, as the CodeDance eval does)
  --protocol P           ${protocolIds.map((id, i) => (i ? id : `${id} (default)`)).join(' | ')}
  --option TEXT          an answer option, repeated in order (the deepeyes format letters them A., B., … under the question)
  --max-turns N          max model calls (default: the protocol's; codedance: 7, deepeyes: 11, pyvision: 30, thyme: 26)
  --temperature T --top-p P --max-tokens N   sampling (default: the protocol's; codedance: 0.01, 1, 2048)
  --timeout S            per-cell execution timeout in seconds (default 30)
  --max-observation-tokens N   the most the model is shown of one turn's cell output, in estimated
                         tokens; longer output is cut in the middle with a marker (default 4096; 0 = no limit)
  --python PATH          interpreter for the kernel (default $CODEDANCE_PYTHON, else python3 / /usr/bin/python3 with ipykernel)
  --jupyter-url URL      run the code on a Jupyter Server instead (token: $JUPYTER_TOKEN or ?token= in the URL)
  --kernel-name NAME     kernelspec on that server (default: the server's default)
${SANDBOX_USAGE}
  --out DIR              where to save images, trajectory.json and trajectory.ipynb (default ./codedance-out/<time>)
  --json                 print the trajectory JSON instead of the live transcript
  --quiet                print only the answer
API keys come from the environment: CODEDANCE_API_KEY or OPENAI_API_KEY (never a flag, so they stay out of shell history).

exit codes: 0 answered, 1 no answer within the turn limit, 2 bad usage or input, 3 Python/kernel problem, 4 model endpoint problem,
74 disk full (what fits is saved whole, the rest is named), 130 interrupted`;

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CliError(`--${name} must be a number, got '${v}'`, EXIT.usage);
  return n;
}

const ASK_OPTIONS = {
  'base-url': { type: 'string' },
  model: { type: 'string' },
  protocol: { type: 'string', default: 'codedance' },
  option: { type: 'string', multiple: true },
  'max-turns': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'max-tokens': { type: 'string' },
  timeout: { type: 'string', default: '30' },
  'max-observation-tokens': { type: 'string' },
  python: { type: 'string' },
  'jupyter-url': { type: 'string' },
  'kernel-name': { type: 'string' },
  ...SANDBOX_ARGS,
  out: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parseAskArgs(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: ASK_OPTIONS });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${ASK_USAGE}`, EXIT.usage);
  }
}

type AskFlags = ReturnType<typeof parseAskArgs>['values'];

/** What one run came to: its trajectory, the fatal error if any, the images saved per cell (paths) and whole (payload → file name). */
interface AskRun {
  trajectory: Trajectory;
  fatal?: ErrorInfo;
  saved: Map<string, string[]>;
  files: Map<string, string>;
}

export async function runAsk(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseAskArgs(argv);
  if (v.help) {
    console.log(ASK_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 2)
    throw new CliError(`expected an image path and a question, got ${positionals.length} argument(s).\n\n${ASK_USAGE}`, EXIT.usage);
  const [imagePath, question] = positionals;
  if (!existsSync(imagePath)) throw new CliError(`image not found: ${imagePath}`, EXIT.usage);
  if (!isProtocolId(v.protocol!))
    throw new CliError(`unknown --protocol '${v.protocol}': use one of ${protocolIds.join(', ')}`, EXIT.usage);
  const protocol = getProtocol(v.protocol!);
  const maxObservationTokens = observationTokensFlag(v['max-observation-tokens']);
  // number flags are checked before anything starts (a kernel's errors would word a typo as a Python problem)
  for (const f of ['max-turns', 'timeout', 'temperature', 'top-p', 'max-tokens'] as const) num(v[f], f);
  const image = readFileSync(imagePath);

  const endpoints = (v['base-url'] ?? process.env.CODEDANCE_BASE_URL ?? 'http://127.0.0.1:8000/v1')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const apiKey = process.env.CODEDANCE_API_KEY ?? process.env.OPENAI_API_KEY;
  // a bad URL (or one with a password in it) is a ModelConfigError: exit 2, worded by main
  const model = createChatModel({ endpoints, apiKey });

  const interrupt = onInterrupt('interrupting…');

  // errors from core keep their kind: main.ts words them and picks the exit code
  const modelName = v.model ?? (await resolveModelName(model, { signal: interrupt.signal }));
  const python = await askPython(v);
  const sandbox = sandboxFromFlags(v, v.quiet || v.json, v['jupyter-url']);
  const out = outputFiles(v);
  let run: Partial<AskRun> & Pick<AskRun, 'saved' | 'files'>;
  try {
    // one run needs one kernel: start it directly (a pool would start a spare nobody uses)
    const kernel = python
      ? await startKernelSession({ python: python.python, ...sandbox })
      : await startRemoteKernelSession({ url: v['jupyter-url']!, token: process.env.JUPYTER_TOKEN, kernelName: v['kernel-name'] });
    const options: AgentOptions = {
      model,
      modelName,
      protocol,
      kernel,
      endpoints,
      protocolTemplateHash: templateHash(protocol),
      ...(v.option?.length ? { choices: v.option } : {}),
      maxObservationTokens,
      signal: interrupt.signal,
    };
    run = await runAndSave(question, image, options, v, out);
  } catch (e) {
    // the kernel could not start or broke: a CodeDanceError keeps its kind, anything else is the environment's
    throw asDiskFull(e) ?? (isCodeDanceError(e) ? e : new CliError(`${(e as Error).message}`, EXIT.environment));
  } finally {
    interrupt.dispose();
  }
  const { trajectory } = run;
  if (!trajectory) throw new CliError('the run ended without a trajectory', EXIT.internal);
  out.running = false;
  const done: AskRun = { ...run, trajectory };
  await saveRecord(out, done);
  printResult(v, out, done);
  return exitCode(v, out, done);
}

/** The local interpreter (said on stderr), or none with --jupyter-url (the server's kernel is said instead). */
async function askPython(v: AskFlags): Promise<ResolvedPython | undefined> {
  const jupyterUrl = v['jupyter-url'];
  let python;
  try {
    python = jupyterUrl ? undefined : await resolvePython({ explicit: v.python ?? process.env.CODEDANCE_PYTHON });
  } catch (e) {
    throw isCodeDanceError(e) ? e : new CliError((e as Error).message, EXIT.environment);
  }
  if (!v.quiet && !v.json)
    process.stderr.write(
      python
        ? `python: ${python.python} (${python.reason})\n`
        : `kernel: ${v['kernel-name'] ?? "the server's default kernelspec"} on the Jupyter server at ${displayUrl(jupyterUrl!)}\n`,
    );
  return python;
}

/** --out, made; a full disk while the run goes on is said at once, and the files not saved are named at the end. */
function outputFiles(v: AskFlags): OutputFiles {
  const outDir = path.resolve(v.out ?? path.join('codedance-out', new Date().toISOString().replace(/[:.]/g, '-')));
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    rethrowDiskFull(e, outDir);
  }
  const out = new OutputFiles(outDir, (full) => {
    if (!out.running) return;
    out.told = true;
    process.stderr.write(`codedance: ${describeError(full, 'ask')}; the run goes on, and what is not saved is listed at the end\n`);
  });
  return out;
}

/** The agent run on `options.kernel` (disposed after it): streamed to the terminal, each cell's images saved as they come. */
async function runAndSave(
  question: string,
  image: Buffer,
  options: AgentOptions,
  v: AskFlags,
  out: OutputFiles,
): Promise<Partial<AskRun> & Pick<AskRun, 'saved' | 'files'>> {
  const renderer = new TerminalRenderer(process.stdout, { quiet: v.quiet });
  const saved = new Map<string, string[]>();
  const files = new Map<string, string>();
  let trajectory: Trajectory | undefined;
  let fatal: ErrorInfo | undefined;
  const { kernel } = options;
  try {
    const events = runAgent(question, [image], {
      ...options,
      maxTurns: num(v['max-turns'], 'max-turns'),
      timeoutMs: (num(v.timeout, 'timeout') ?? 30) * 1000,
      sampling: {
        temperature: num(v.temperature, 'temperature'),
        top_p: num(v['top-p'], 'top-p'),
        max_tokens: num(v['max-tokens'], 'max-tokens'),
      },
    });
    for await (const e of events) {
      if (e.type === 'exec_end') saved.set(e.cellId, saveImages(out, e, files));
      if (e.type === 'error' && e.fatal) fatal = e.error;
      if (e.type === 'done') trajectory = e.trajectory;
      if (!v.json && !v.quiet) renderer.handle(e, (id) => saved.get(id) ?? []);
    }
  } finally {
    await kernel.dispose();
  }
  return { trajectory, fatal, saved, files };
}

/**
 * The question's image as the model was sent it (input_image.png: the exact pixels `input_image`
 * held; the notebook's setup cell makes input_image.jpg from it, as the kernel did), then the
 * run's record and its notebook, each image in them a reference to its file beside them: every
 * image is on disk once. An image that could not be saved stays inline in both.
 */
async function saveRecord(out: OutputFiles, { trajectory, files }: AskRun): Promise<void> {
  const first = trajectory.inputImages[0];
  if (first) {
    const name = first.mime === 'image/png' ? 'input_image.png' : `input_image_exact.${imageExtension(first.mime)}`;
    if (out.write(name, Buffer.from(first.data, 'base64'))) files.set(first.data, name);
  }
  const stored = await referToFiles(trajectory, files);
  out.write('trajectory.json', JSON.stringify(stored, null, 1));
  out.write('trajectory.ipynb', JSON.stringify(toNotebook(stored), null, 1));
}

function printResult(v: AskFlags, out: OutputFiles, { trajectory, saved }: AskRun): void {
  if (v.json) console.log(JSON.stringify(trajectory));
  else if (!v.quiet && !out.diskFull)
    process.stderr.write(
      `\nsaved: ${path.join(out.dir, 'trajectory.json')}, trajectory.ipynb and ${[...saved.values()].flat().length} image(s) in ${out.dir}\n`,
    );
  else if (v.quiet && trajectory.answer !== undefined) console.log(trajectory.answer);
}

/** Disk full (naming what was not saved), else the trajectory's status as the exit code (said on stderr when it is not an answer). */
function exitCode(v: AskFlags, out: OutputFiles, { trajectory, fatal }: AskRun): number {
  if (out.diskFull) {
    if (!out.told) process.stderr.write(`codedance: ${describeError(out.diskFull, 'ask')}\n`);
    process.stderr.write(
      `not saved: ${out.unsaved.join(', ')}\nsaved whole in ${out.dir}: ${out.saved.length ? out.saved.join(', ') : 'nothing'}\n`,
    );
    return EXIT.diskFull;
  }
  switch (trajectory.status) {
    case 'answered':
      return EXIT.ok;
    case 'cancelled':
      return EXIT.cancelled;
    case 'error': {
      const error = fatal ?? trajectory.error;
      process.stderr.write(`codedance: ${error ? describeError(error, 'ask') : 'the run failed'}\n`);
      return error ? exitCodeFor(error) : EXIT.internal;
    }
    default:
      if (!v.json)
        process.stderr.write(`codedance: no answer after ${trajectory.turns.length} model call(s) (limit ${trajectory.maxTurns})\n`);
      return EXIT.noAnswer;
  }
}

/** Saves a cell's images as `<id>.png|jpg`; `files` learns each one saved whole (payload → name). */
function saveImages(out: OutputFiles, e: Extract<AgentEvent, { type: 'exec_end' }>, files: Map<string, string>): string[] {
  return e.cell.images.flatMap((im) => {
    const name = `${im.id}.${imageExtension(im.mime)}`;
    const file = out.write(name, Buffer.from(im.data, 'base64'));
    if (file) files.set(im.data, name);
    return file ?? [];
  });
}

/**
 * The run's files under --out, each written whole or not at all (a temporary file renamed into
 * place). A full disk is remembered, not thrown: the run goes on, later (smaller) files are still
 * tried, and `unsaved` names what is missing. Other write errors are thrown.
 */
class OutputFiles {
  diskFull: DiskFullError | undefined;
  /** while the run goes on (a full disk is said at once then) */
  running = true;
  /** a full disk was said while the run went on */
  told = false;
  readonly saved: string[] = [];
  readonly unsaved: string[] = [];
  constructor(
    readonly dir: string,
    private readonly onFirstDiskFull: (e: DiskFullError) => void,
  ) {}

  /** Writes `name`; its path, or undefined when the disk is full. */
  write(name: string, data: string | Uint8Array): string | undefined {
    const file = path.join(this.dir, name);
    try {
      writeFileAtomicSync(file, data);
    } catch (e) {
      const full = asDiskFull(e, { file });
      if (!full) throw e;
      if (!this.diskFull) this.onFirstDiskFull(full);
      this.diskFull ??= full;
      this.unsaved.push(name);
      return undefined;
    }
    this.saved.push(name);
    return file;
  }
}
