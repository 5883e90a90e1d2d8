/**
 * Errors of the runs layer (a subclass of the one root, src/core/errors.ts): a run folder or file
 * that is missing or cannot be read, a dump that is not what the trainer writes.
 */
import { CodeDanceError, type ErrorFix, type ErrorKind } from '../errors';

/** `notFound`: the folder or file is not there (yet); `unreadable`: it is, but cannot be read; `format`: not what verl writes */
export type RunsErrorCode = 'notFound' | 'unreadable' | 'format';

export class RunsError extends CodeDanceError {
  override readonly name = 'RunsError';
  declare readonly code: RunsErrorCode;
  constructor(code: RunsErrorCode, reason: string, fix?: ErrorFix | string) {
    const kind: ErrorKind = code === 'format' ? 'dataset' : 'input';
    super(kind, reason, { code, fix, separator: ': ' });
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof RunsError && e.code === 'notFound';
}
