/**
 * The CLI's side of the one error model: exit codes and wording are decided here (never in
 * core). `exitCodeFor` maps an error's kind to the exit codes the README documents;
 * `describeError` words a CodeDanceError's fix with this command's flags and environment
 * variables instead of VS Code settings.
 */
import { errorKind, isCodeDanceError, type ErrorInfo, type ErrorKind, type SettingKey } from '../core/errors';
import { asDiskFull, localDiskFullCode } from '../core/files/diskFull';

/** Exit codes a person (and a script) can rely on. */
export const EXIT = {
  ok: 0,
  /** the run ended without an answer (turn limit) */
  noAnswer: 1,
  /** bad command line or input file */
  usage: 2,
  /** the Python interpreter or kernel cannot be used */
  environment: 3,
  /** the model endpoint failed (unreachable, HTTP errors after retries) */
  model: 4,
  /** a training cluster failed or refused (Ray dashboard, SSH, Slurm) */
  cluster: 5,
  /** no such job on the cluster */
  notFound: 6,
  /** an unexpected error (a bug): sysexits' EX_SOFTWARE */
  internal: 70,
  /** an output could not be written: the disk is full or the quota used up (sysexits' EX_IOERR);
   * what was written before is kept whole */
  diskFull: 74,
  /** interrupted (Ctrl+C) */
  cancelled: 130,
} as const;

/** An error the CLI reports as one line, with its cause and fix, and a specific exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** `--max-observation-tokens N` (ask, eval): a whole number >= 0 (0 = no limit); absent = the default. */
export function observationTokensFlag(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new CliError(`--max-observation-tokens must be a whole number of tokens >= 0 (0 = no limit), got '${v}'`, EXIT.usage);
  return n;
}

const EXIT_BY_KIND: Record<ErrorKind, number> = {
  'model-endpoint': EXIT.model,
  'model-auth': EXIT.model,
  'model-request': EXIT.model,
  'model-response': EXIT.model,
  'python-env': EXIT.environment,
  kernel: EXIT.environment,
  input: EXIT.usage,
  dataset: EXIT.usage,
  config: EXIT.usage,
  jobs: EXIT.cluster,
  'disk-full': EXIT.diskFull,
  cancelled: EXIT.cancelled,
  internal: EXIT.internal,
};

/**
 * The exit code for a thrown error or its plain-JSON form (`ErrorInfo`). A full disk has its own
 * code whatever reported it (a kernel error with Python's `[Errno 28]`, a Node ENOSPC).
 */
export function exitCodeFor(e: unknown): number {
  if (e instanceof CliError) return e.exitCode;
  const kind = errorKind(e);
  if (localDiskFullCode(e)) return EXIT.diskFull;
  if (kind === 'jobs' && (e as { code?: unknown }).code === 'notFound') return EXIT.notFound;
  return EXIT_BY_KIND[kind];
}

export type CliCommand = 'ask' | 'eval' | 'jobs' | 'data';

/** How each command lets a person change a setting (flags first, then the environment). */
const SETTING_WORDS: Record<CliCommand, Partial<Record<SettingKey, string>>> = {
  ask: {
    'model.endpoints': '--base-url (or $CODEDANCE_BASE_URL)',
    'model.name': '--model',
    'model.apiKey': 'the CODEDANCE_API_KEY environment variable',
    'model.protocol': '--protocol',
    sampling: '--temperature, --top-p, --max-tokens',
    'agent.maxTurns': '--max-turns',
    'python.interpreter': '--python (or $CODEDANCE_PYTHON)',
    'execution.timeoutSeconds': '--timeout',
    'kernel.jupyterToken': 'the JUPYTER_TOKEN environment variable',
    'output.folder': '--out',
  },
  eval: {
    'model.endpoints': '--api-url',
    'model.name': '--eval-model-name',
    'model.apiKey': 'the CODEDANCE_API_KEY environment variable (or --api-key)',
    'model.protocol': '--protocol',
    'agent.maxTurns': '--max-turns',
    'python.interpreter': '--python (or $CODEDANCE_PYTHON)',
    'execution.timeoutSeconds': '--timeout',
    'kernel.jupyterToken': 'the JUPYTER_TOKEN environment variable',
    'judge.endpoint': '--judge-url (or $LLM_AS_A_JUDGE_BASE), or --no-judge',
    'eval.numWorkers': '--num-workers',
    'eval.savePath': '--save-path',
    'output.folder': '--save-path',
  },
  jobs: {
    'jobs.clusters': '~/.codedance/clusters.json (or --clusters FILE)',
    'jobs.token': 'the CODEDANCE_RAY_TOKEN environment variable',
    'jobs.sshPassphrase': 'the CODEDANCE_SSH_PASSPHRASE environment variable',
  },
  data: {
    'python.interpreter': '--python (or $CODEDANCE_PYTHON)',
    'output.folder': '--out',
  },
};

/**
 * One message for the terminal: the reason, then the fix with this command's flag or
 * environment variable for `fix.setting` (none for a command without a map) and the shell
 * command, if any.
 */
export function describeError(e: unknown, command?: CliCommand): string {
  // a full disk reported by anything (Node, the kernel's Python, a saved trajectory's error): its own words
  const worded = (e as Partial<ErrorInfo> | null)?.kind === 'disk-full' && (e as Partial<ErrorInfo>).fix;
  if (!(e instanceof CliError) && !worded) e = asDiskFull(e) ?? e;
  const info: Partial<ErrorInfo> = isCodeDanceError(e)
    ? e
    : e instanceof Error
      ? { message: e.message }
      : typeof e === 'object' && e !== null
        ? (e as ErrorInfo)
        : { message: String(e) };
  if (!info.fix || info.reason === undefined) return info.message ?? String(e);
  const { fix } = info;
  const where = fix.setting && command ? SETTING_WORDS[command][fix.setting] : undefined;
  let text = fix.text;
  if (where) text += ` (${where})`;
  if (fix.command && !text.includes(fix.command)) text += `: ${fix.command}`;
  const sep = info.message?.startsWith(`${info.reason}\nFix: `) ? '\nFix: ' : ' — ';
  return `${info.reason}${sep}${text}`;
}
