/**
 * Thrown by a `PythonHelper` request or start.
 * Cause (`code`): 'start' the process could not start or its setup raised (an import failed);
 * 'timeout' one request took too long (the process was stopped; the next request starts a new
 * one); 'exited' the process died while working on the request; 'raised' the helper's
 * `handle()` raised (the process goes on); 'disposed' the helper was stopped.
 * Handled by: the helper's users, who word 'raised' for their domain (an image that does not
 * decode, an answer math_verify cannot parse) and pass the others on or fall back.
 */
import { CodeDanceError, type ErrorFix } from '../errors';

export type PythonHelperFailure = 'start' | 'timeout' | 'exited' | 'raised' | 'disposed';

export class PythonHelperError extends CodeDanceError {
  override readonly name = 'PythonHelperError';
  declare readonly code: PythonHelperFailure;
  /** the interpreter */
  readonly python: string;
  /** the cause without the helper's name: "python3 could not be started (spawn python3 ENOENT)" */
  readonly detail: string;
  /** what Python raised, "TypeName: message" ('raised', or a setup that raised) */
  readonly pythonError?: string;

  constructor(
    code: PythonHelperFailure,
    reason: string,
    o: { python: string; detail: string; pythonError?: string; fix?: ErrorFix | string },
  ) {
    const kind = code === 'raised' ? 'internal' : code === 'disposed' ? 'cancelled' : 'python-env';
    super(kind, reason, { code, fix: o.fix, retryable: code === 'exited' || code === 'timeout' });
    this.python = o.python;
    this.detail = o.detail;
    this.pythonError = o.pythonError;
  }
}
