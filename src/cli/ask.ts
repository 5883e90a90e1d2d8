/**
 * `codedance ask IMAGE "question"`: one agent run in the terminal. Streams the trajectory, saves
 * the output images, trajectory.json and trajectory.ipynb (plus input_image.jpg so the notebook
 * re-runs) under --out.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { AgentEvent } from '../core/agent/events';
import { runAgent } from '../core/agent/runAgent';
import { isCodeDanceError, type ErrorInfo } from '../core/errors';
import { resolvePython, startKernelSession } from '../core/kernel';
import { displayUrl, startRemoteKernelSession } from '../core/kernel/remote';
import { createChatModel, resolveModelName } from '../core/model';
import { getProtocol, isProtocolId, protocolIds, templateHash } from '../core/protocol';
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
  --protocol P           ${'codedance'} (default) | codedance-tools | openai-tools
  --max-turns N          max model calls (default: the protocol's; codedance: 7)
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

exit codes: 0 answered, 1 no answer within the turn limit, 2 bad usage or input, 3 Python/kernel problem, 4 model endpoint problem, 130 interrupted`;

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CliError(`--${name} must be a number, got '${v}'`, EXIT.usage);
  return n;
}

export async function runAsk(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'base-url': { type: 'string' },
        model: { type: 'string' },
        protocol: { type: 'string', default: 'codedance' },
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
      },
    });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${ASK_USAGE}`, EXIT.usage);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    console.log(ASK_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 2) throw new CliError(`expected an image path and a question, got ${positionals.length} argument(s).\n\n${ASK_USAGE}`, EXIT.usage);
  const [imagePath, question] = positionals;
  if (!existsSync(imagePath)) throw new CliError(`image not found: ${imagePath}`, EXIT.usage);
  if (!isProtocolId(v.protocol!)) throw new CliError(`unknown --protocol '${v.protocol}': use one of ${protocolIds.join(', ')}`, EXIT.usage);
  const protocol = getProtocol(v.protocol!);
  const maxObservationTokens = observationTokensFlag(v['max-observation-tokens']);
  const image = readFileSync(imagePath);

  const endpoints = (v['base-url'] ?? process.env.CODEDANCE_BASE_URL ?? 'http://127.0.0.1:8000/v1').split(',').map((s) => s.trim()).filter(Boolean);
  const apiKey = process.env.CODEDANCE_API_KEY ?? process.env.OPENAI_API_KEY;
  // a bad URL (or one with a password in it) is a ModelConfigError: exit 2, worded by main
  const model = createChatModel({ endpoints, apiKey });

  const interrupt = onInterrupt('interrupting…');

  // errors from core keep their kind: main.ts words them and picks the exit code
  const modelName = v.model ?? (await resolveModelName(model, { signal: interrupt.signal }));

  const jupyterUrl = v['jupyter-url'];
  let python;
  try {
    python = jupyterUrl ? undefined : await resolvePython({ explicit: v.python ?? process.env.CODEDANCE_PYTHON });
  } catch (e) {
    throw isCodeDanceError(e) ? e : new CliError((e as Error).message, EXIT.environment);
  }
  if (!v.quiet && !v.json) process.stderr.write(python ? `python: ${python.python} (${python.reason})\n` : `kernel: ${v['kernel-name'] ?? "the server's default kernelspec"} on the Jupyter server at ${displayUrl(jupyterUrl!)}\n`);
  const sandbox = sandboxFromFlags(v, v.quiet || v.json);

  const outDir = path.resolve(v.out ?? path.join('codedance-out', new Date().toISOString().replace(/[:.]/g, '-')));
  mkdirSync(outDir, { recursive: true });

  const renderer = new TerminalRenderer(process.stdout, { quiet: v.quiet });
  const saved = new Map<string, string[]>();
  let trajectory: Trajectory | undefined;
  let fatal: ErrorInfo | undefined;
  try {
    // one run needs one kernel: start it directly (a pool would start a spare nobody uses)
    const kernel = python ? await startKernelSession({ python: python.python, ...sandbox }) : await startRemoteKernelSession({ url: jupyterUrl!, token: process.env.JUPYTER_TOKEN, kernelName: v['kernel-name'] });
    try {
      const events = runAgent(question, [image], {
        model,
        modelName,
        protocol,
        kernel,
        endpoints,
        protocolTemplateHash: templateHash(protocol),
        maxTurns: num(v['max-turns'], 'max-turns'),
        timeoutMs: (num(v.timeout, 'timeout') ?? 30) * 1000,
        maxObservationTokens,
        sampling: { temperature: num(v.temperature, 'temperature'), top_p: num(v['top-p'], 'top-p'), max_tokens: num(v['max-tokens'], 'max-tokens') },
        signal: interrupt.signal,
      });
      for await (const e of events) {
        if (e.type === 'exec_end') saved.set(e.cellId, saveImages(outDir, e));
        if (e.type === 'error' && e.fatal) fatal = e.error;
        if (e.type === 'done') trajectory = e.trajectory;
        if (!v.json && !v.quiet) renderer.handle(e, (id) => saved.get(id) ?? []);
      }
      // beside the notebook: input_image.jpg (the file the model's code may open) and
      // input_image.png (the exact pixels `input_image` held, lossless) so that it re-runs alike
      const input = path.join(kernel.workdir, 'input_image.jpg');
      if (existsSync(input)) copyFileSync(input, path.join(outDir, 'input_image.jpg'));
      const first = trajectory?.inputImages[0];
      if (first) writeFileSync(path.join(outDir, first.mime === 'image/png' ? 'input_image.png' : 'input_image_exact.jpg'), Buffer.from(first.data, 'base64'));
    } finally {
      await kernel.dispose();
    }
  } catch (e) {
    // the kernel could not start or broke: a CodeDanceError keeps its kind, anything else is the environment's
    throw isCodeDanceError(e) ? e : new CliError(`${(e as Error).message}`, EXIT.environment);
  } finally {
    interrupt.dispose();
  }
  if (!trajectory) throw new CliError('the run ended without a trajectory', EXIT.internal);

  writeFileSync(path.join(outDir, 'trajectory.json'), JSON.stringify(trajectory, null, 1));
  writeFileSync(path.join(outDir, 'trajectory.ipynb'), JSON.stringify(toNotebook(trajectory), null, 1));
  if (v.json) console.log(JSON.stringify(trajectory));
  else if (!v.quiet) process.stderr.write(`\nsaved: ${path.join(outDir, 'trajectory.json')}, trajectory.ipynb and ${[...saved.values()].flat().length} image(s) in ${outDir}\n`);
  else if (trajectory.answer !== undefined) console.log(trajectory.answer);

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
      if (!v.json) process.stderr.write(`codedance: no answer after ${trajectory.turns.length} model call(s) (limit ${trajectory.maxTurns})\n`);
      return EXIT.noAnswer;
  }
}

function saveImages(outDir: string, e: Extract<AgentEvent, { type: 'exec_end' }>): string[] {
  return e.cell.images.map((im) => {
    const file = path.join(outDir, `${im.id}.${im.mime === 'image/jpeg' ? 'jpg' : 'png'}`);
    writeFileSync(file, Buffer.from(im.data, 'base64'));
    return file;
  });
}
