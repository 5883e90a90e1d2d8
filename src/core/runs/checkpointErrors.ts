/**
 * Errors of "Evaluate / Serve this checkpoint" (evaluateCheckpoint.ts): a subclass of the one
 * root (src/core/errors.ts) whose `code` says which step stopped the chain.
 */
import { CodeDanceError, type ErrorKind } from '../errors';

/**
 * `no-checkpoint`: the run has no such step saved; `no-data`: nothing to evaluate on;
 * `merge-failed`: the merge job failed (or merged nothing); `data-failed`: a dataset could not be
 * brought here; `serve-failed`, `eval-failed`: those steps ended without a result; `cancelled`.
 */
export type CheckpointErrorCode =
  'no-checkpoint' | 'no-data' | 'merge-failed' | 'data-failed' | 'serve-failed' | 'eval-failed' | 'cancelled';

const KIND: Record<CheckpointErrorCode, ErrorKind> = {
  'no-checkpoint': 'input',
  'no-data': 'input',
  'merge-failed': 'jobs',
  'data-failed': 'jobs',
  'serve-failed': 'jobs',
  'eval-failed': 'internal',
  cancelled: 'cancelled',
};

export class CheckpointError extends CodeDanceError {
  override readonly name = 'CheckpointError';
  declare readonly code: CheckpointErrorCode;
  constructor(code: CheckpointErrorCode, reason: string, fix?: string, cause?: unknown) {
    super(KIND[code], reason, { code, fix, cause, separator: ': ' });
  }
}

export function isCancelled(e: unknown): boolean {
  return e instanceof CodeDanceError && e.kind === 'cancelled';
}
