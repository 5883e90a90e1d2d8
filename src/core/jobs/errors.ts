/**
 * Errors of the jobs layer, subclasses of the one root `CodeDanceError` (src/core/errors.ts).
 * Each message says which cluster, the cause and the fix; secrets are never in it
 * (redactSecrets runs over every message).
 */
import { CodeDanceError, type ErrorFix } from '../errors';
import { redactSecrets } from '../secrets';

export type JobsErrorKind = 'config' | 'connection' | 'auth' | 'notFound' | 'rejected' | 'server' | 'remote';

/**
 * Base of every jobs-layer error. `kind` is `config` for a bad cluster profile and `jobs`
 * otherwise; `code` says how the cluster failed, for the CLI's exit code and the UI's wording.
 */
export class JobsError extends CodeDanceError {
  override readonly name: string = 'JobsError';
  declare readonly code: JobsErrorKind;
  constructor(
    code: JobsErrorKind,
    message: string,
    readonly status?: number,
    secrets: readonly (string | undefined)[] = [],
    /** what the user can do; its `setting` is worded by the adapters (the VS Code command, the CLI's variable) */
    fix?: ErrorFix,
  ) {
    super(code === 'config' ? 'config' : 'jobs', redactSecrets(message, secrets), {
      code,
      retryable: code === 'connection' || code === 'server',
      fix,
      separator: ': ',
    });
  }
}

/**
 * Thrown when a job id is unknown to the cluster.
 * Cause: a typo, or the job was deleted (Ray) / aged out of slurmctld (MinJobAge).
 * Handled by: the tree drops the job; the CLI exits with EXIT.notFound.
 */
export class JobNotFoundError extends JobsError {
  override readonly name = 'JobNotFoundError';
  constructor(
    readonly id: string,
    where: string,
    serverMessage?: string,
  ) {
    super('notFound', `job ${id} not found on ${where}${serverMessage ? `: ${serverMessage.trim()}` : ''}`, 404);
  }
}

/** Thrown when a cluster refuses the credentials (Ray 401/403, SSH auth failure). */
export class JobsAuthError extends JobsError {
  override readonly name = 'JobsAuthError';
  constructor(message: string, status?: number, fix?: ErrorFix) {
    super('auth', message, status, [], fix);
  }
}
