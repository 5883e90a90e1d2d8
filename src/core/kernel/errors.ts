/**
 * Errors of the kernel layer: one class per domain, each message saying what went wrong
 * (the cause) and what to do about it (the fix), so that the CLI and the extension can show
 * `error.message` as is.
 *
 *  - PythonEnvironmentError  no usable interpreter (missing, or lacking ipykernel/Pillow/numpy/matplotlib)
 *  - KernelLaunchError       the kernel process could not be started or did not become ready
 *  - KernelProtocolError     a Jupyter wire message was malformed or wrongly signed
 *  - KernelSessionError      a session was used wrongly (after dispose, bad input image, cannot restart)
 */

export interface KernelErrorDetails {
  /** what went wrong, one sentence */
  reason: string;
  /** what to do about it, one sentence or a command */
  fix: string;
  /** the underlying error, if any */
  error?: unknown;
}

export abstract class KernelError extends Error {
  /** what went wrong (the message's first part) */
  readonly reason: string;
  /** what to do about it (after "Fix: " in the message) */
  readonly fix: string;
  constructor(details: KernelErrorDetails) {
    super(`${details.reason}\nFix: ${details.fix}`, details.error !== undefined ? { cause: details.error } : undefined);
    this.reason = details.reason;
    this.fix = details.fix;
  }
}

/** One interpreter that was tried while resolving Python, and why it was rejected (if it was). */
export interface InterpreterProbe {
  /** the command as given (`python3`, `/usr/bin/python3`, a venv path) */
  command: string;
  /** sys.executable, when the interpreter ran */
  executable?: string;
  /** `3.11.2` */
  version?: string;
  /** where the candidate came from */
  origin: 'explicit' | 'env' | 'python-extension' | 'candidate';
  ok: boolean;
  /** import names that are missing: ipykernel, PIL, numpy, matplotlib */
  missing: string[];
  /** the interpreter could not be run at all (ENOENT, crash, too old) */
  failure?: string;
  /** Debian/Ubuntu system Python (PEP 668 externally managed): fix with apt, not pip */
  externallyManaged?: boolean;
  /** the shell command that installs what is missing */
  fixCommand?: string;
}

export class PythonEnvironmentError extends KernelError {
  override readonly name = 'PythonEnvironmentError';
  constructor(
    details: KernelErrorDetails,
    readonly tried: InterpreterProbe[],
  ) {
    super(details);
  }
}

export class KernelLaunchError extends KernelError {
  override readonly name = 'KernelLaunchError';
  constructor(
    details: KernelErrorDetails,
    /** the last lines the kernel process wrote to stderr, if any */
    readonly stderrTail = '',
  ) {
    super(details);
  }
}

export class KernelProtocolError extends KernelError {
  override readonly name = 'KernelProtocolError';
}

export class KernelSessionError extends KernelError {
  override readonly name = 'KernelSessionError';
}
