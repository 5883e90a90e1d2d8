/**
 * The one error root of CodeDance. Every error core throws on purpose is a `CodeDanceError`
 * (directly, or a domain subclass: ModelError, KernelError, JobsError, DatasetError, DiskFullError) with
 *
 *  - `kind`      a closed union: what part of the system failed, so that adapters choose the
 *                wording and the exit code without reading the message;
 *  - `retryable` whether the same operation may succeed when tried again;
 *  - `reason`    the cause, one sentence (the message's first part);
 *  - `fix`       what to do, machine-readable: a neutral sentence, and optionally the setting
 *                it concerns (a neutral key, see `SettingKey`) and a shell command. Core never
 *                names a VS Code setting or a CLI flag: src/cli/errors.ts and
 *                src/extension/errors.ts word `fix.setting` for their users;
 *  - `cause`     the underlying error (the standard `Error.cause`).
 *
 * `toErrorInfo` gives the plain-JSON form that travels in the agent's event stream, the
 * webview messages and saved trajectories (`ErrorInfo`).
 */

export type ErrorKind =
  /** the model server cannot be reached or fails: refused, timed out, 5xx, 429, a dropped stream, a wrong URL or model name (404) */
  | 'model-endpoint'
  /** the model server rejects the API key (401/403) */
  | 'model-auth'
  /** the model server refuses the request itself (400/413/422: context too long, sampling values, images too large) */
  | 'model-request'
  /** the model server's answer cannot be used (not JSON, no choices) */
  | 'model-response'
  /** no usable Python interpreter (missing, or lacking ipykernel/Pillow/numpy/matplotlib) */
  | 'python-env'
  /** the Jupyter kernel cannot start, breaks its protocol, or cannot take the input (a bad image) */
  | 'kernel'
  /** a bad input file or value given by the user */
  | 'input'
  /** a dataset file or row that cannot be used */
  | 'dataset'
  /** a configuration that cannot be used (endpoint URLs, format ids, missing judge) */
  | 'config'
  /** a training cluster failed or refused (JobsError.code says how) */
  | 'jobs'
  /** a file cannot be written: its disk is full (ENOSPC) or the user's quota on it is used up (EDQUOT); see diskFull.ts */
  | 'disk-full'
  /** the user cancelled */
  | 'cancelled'
  /** a bug or an unexpected failure */
  | 'internal';

export const ERROR_KINDS: readonly ErrorKind[] = [
  'model-endpoint',
  'model-auth',
  'model-request',
  'model-response',
  'python-env',
  'kernel',
  'input',
  'dataset',
  'config',
  'jobs',
  'disk-full',
  'cancelled',
  'internal',
];

/**
 * A setting a fix concerns, by a neutral key (the VS Code setting is `codedance.<key>`, the CLI
 * has its own flag or environment variable for it; the adapters hold those maps).
 */
export type SettingKey =
  | 'model.endpoints'
  | 'model.name'
  | 'model.apiKey'
  | 'model.protocol'
  | 'sampling'
  | 'agent.maxTurns'
  | 'python.interpreter'
  | 'execution.timeoutSeconds'
  | 'execution.memoryLimitMb'
  /** the token of the Jupyter server the code runs on */
  | 'kernel.jupyterToken'
  | 'judge.endpoint'
  | 'eval.numWorkers'
  | 'eval.savePath'
  /** the folder a command writes its results to (an ask's output folder, an eval's save folder, a verify's results file) */
  | 'output.folder'
  | 'jobs.clusters'
  /** a cluster's secret token (Ray dashboard) */
  | 'jobs.token'
  /** the passphrase of a cluster's SSH key */
  | 'jobs.sshPassphrase';

export interface ErrorFix {
  /** what to do, in words that name no VS Code setting and no CLI flag */
  text: string;
  /** the setting to change, if the fix is a setting */
  setting?: SettingKey;
  /** a shell command that fixes it (e.g. an install command) */
  command?: string;
}

/** The plain-JSON form of an error (events, webview messages, trajectories, eval records). */
export interface ErrorInfo {
  name: string;
  /** the whole message: reason and fix text */
  message: string;
  /** absent only in files written before kinds existed */
  kind?: ErrorKind;
  retryable?: boolean;
  reason?: string;
  fix?: ErrorFix;
  /** a finer, domain-specific code: ECONNREFUSED, a jobs error code, … */
  code?: string;
  /** an HTTP status, when one was received */
  status?: number;
}

export interface CodeDanceErrorOptions {
  fix?: ErrorFix | string;
  retryable?: boolean;
  cause?: unknown;
  code?: string;
  /** between the reason and the fix text in `message`; default ' — ' */
  separator?: string;
}

/** Base of every error CodeDance throws on purpose. */
export class CodeDanceError extends Error {
  override name = 'CodeDanceError';
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  /** what went wrong (the message's first part) */
  reason: string;
  readonly fix?: ErrorFix;
  readonly code?: string;
  private readonly separator: string;

  constructor(kind: ErrorKind, reason: string, options: CodeDanceErrorOptions = {}) {
    const fix = typeof options.fix === 'string' ? { text: options.fix } : options.fix;
    const separator = options.separator ?? ' — ';
    super(composeMessage(reason, fix, separator), options.cause !== undefined ? { cause: options.cause } : undefined);
    this.kind = kind;
    this.reason = reason;
    this.fix = fix;
    this.retryable = options.retryable ?? false;
    this.code = options.code;
    this.separator = separator;
  }

  /** Replaces the reason (the message follows), e.g. to add "(after 3 retries)". */
  protected setReason(reason: string): void {
    this.reason = reason;
    this.message = composeMessage(reason, this.fix, this.separator);
  }

  toJSON(): ErrorInfo {
    return toErrorInfo(this);
  }
}

function composeMessage(reason: string, fix: ErrorFix | undefined, separator: string): string {
  return fix?.text ? `${reason}${separator}${fix.text}` : reason;
}

export function isCodeDanceError(e: unknown): e is CodeDanceError {
  return e instanceof CodeDanceError;
}

/** What says a disk is full, in Node's, Python's and the C library's words. */
const DISK_FULL_TEXT: [RegExp, DiskFullCode][] = [
  [/\bENOSPC\b|No space left on device|\[Errno 28\]/i, 'ENOSPC'],
  [/\bEDQUOT\b|Disk quota exceeded|\[Errno 122\]/i, 'EDQUOT'],
];

export type DiskFullCode = 'ENOSPC' | 'EDQUOT';

/**
 * 'ENOSPC' or 'EDQUOT' when a thrown value (or its plain-JSON form, or one of its causes) says
 * that a write failed for want of disk space: Node's error code, or the words of Node, Python
 * (`OSError: [Errno 28] No space left on device`) or the C library in its message.
 */
export function diskFullCode(e: unknown): DiskFullCode | undefined {
  let x: unknown = e;
  for (let depth = 0; depth < 5 && x !== null && typeof x === 'object'; depth++) {
    const { code, message } = x as { code?: unknown; message?: unknown };
    if (code === 'ENOSPC' || code === 'EDQUOT') return code;
    if (typeof message === 'string') for (const [re, c] of DISK_FULL_TEXT) if (re.test(message)) return c;
    x = (x as { cause?: unknown }).cause;
  }
  return typeof e === 'string' ? DISK_FULL_TEXT.find(([re]) => re.test(e))?.[1] : undefined;
}

/** The plain-JSON form of any thrown value; what is not a CodeDanceError is `internal` (`disk-full` when it says the disk is full). */
export function toErrorInfo(e: unknown): ErrorInfo {
  if (e instanceof CodeDanceError) {
    const status = (e as { status?: unknown }).status;
    return {
      name: e.name,
      message: e.message,
      kind: e.kind,
      retryable: e.retryable,
      reason: e.reason,
      ...(e.fix ? { fix: { ...e.fix } } : {}),
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(typeof status === 'number' ? { status } : {}),
    };
  }
  if (e instanceof Error) {
    const full = diskFullCode(e);
    return {
      name: e.name || 'Error',
      message: e.message,
      kind: full ? 'disk-full' : 'internal',
      retryable: false,
      ...(full ? { code: full } : {}),
    };
  }
  return { name: 'Error', message: String(e), kind: 'internal', retryable: false };
}

/** The kind of a thrown value or of its plain-JSON form (old files without one: `internal`). */
export function errorKind(e: unknown): ErrorKind {
  if (e instanceof CodeDanceError) return e.kind;
  const k = (e as { kind?: unknown } | null)?.kind;
  return typeof k === 'string' && (ERROR_KINDS as readonly string[]).includes(k) ? (k as ErrorKind) : 'internal';
}
