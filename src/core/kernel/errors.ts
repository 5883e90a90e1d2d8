/**
 * Errors of the kernel layer: one class per domain, each message saying what went wrong
 * (the cause) and what to do about it (the fix), so that the CLI and the extension can show
 * `error.message` as is.
 *
 *  - PythonEnvironmentError  no usable interpreter (missing, or lacking ipykernel/Pillow/numpy/matplotlib)
 *  - KernelLaunchError       the kernel process could not be started or did not become ready
 *  - KernelProtocolError     a Jupyter wire message was malformed or wrongly signed
 *  - KernelSessionError      a session was used wrongly (after dispose, bad input image, cannot restart)
 *
 * All are `CodeDanceError`s (src/core/errors.ts): the message is `reason` + "\nFix: " + `fix.text`.
 */
import { CodeDanceError, type ErrorFix, type ErrorKind } from '../errors';

export interface KernelErrorDetails {
  /** what went wrong, one sentence */
  reason: string;
  /** what to do about it, one sentence or a command (or the machine-readable form) */
  fix: string | ErrorFix;
  /** the underlying error, if any */
  error?: unknown;
  /** whether the same operation may succeed when tried again; default false */
  retryable?: boolean;
}

/** Base of the kernel layer's errors (kind `kernel`; `python-env` for PythonEnvironmentError). */
export abstract class KernelError extends CodeDanceError {
  declare readonly fix: ErrorFix;
  constructor(details: KernelErrorDetails, kind: ErrorKind = 'kernel') {
    super(kind, details.reason, { fix: details.fix, cause: details.error, retryable: details.retryable, separator: '\nFix: ' });
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
    super(details, 'python-env');
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
