/**
 * Secrets a job needs in its environment (WANDB_API_KEY, HF_TOKEN, …): passed at submit time —
 * Slurm: on sbatch's stdin into its environment (sbatch exports it to the job), Ray: in the
 * submission's runtime_env.env_vars — never written into a script file, the review document, job
 * metadata or a log line.
 */
import { CodeDanceError, isCodeDanceError } from '../errors';
import { processSecrets, redactSecrets } from '../secrets';
import { JobsError } from './errors';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The secret variables, checked: valid names, one-line values. Throws a config error naming the variable (never the value). */
export function checkSecretEnv(secretEnv: Record<string, string> | undefined): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(secretEnv ?? {})) {
    if (!ENV_NAME.test(k))
      throw new JobsError(
        'config',
        `secret '${k.replace(/[\r\n]/g, '⏎')}' is not a valid environment variable name: use letters, digits and _`,
      );
    if (typeof v !== 'string' || /[\r\n\0]/.test(v))
      throw new JobsError('config', `secret ${k}: its value holds a line break or NUL: store the single-line value again`);
    if (v) out.push([k, v]);
  }
  return out;
}

/**
 * Re-throws `e` with every secret value removed from its message. The values join the
 * process's secrets (core/secrets), whatever the variable's name: a later log or error of this
 * process redacts them too.
 */
export function redactingSecrets<T>(secretEnv: Record<string, string> | undefined, run: () => Promise<T>): Promise<T> {
  const values = Object.values(secretEnv ?? {}).filter((v) => v.length >= 4);
  processSecrets.add(...values);
  if (!values.length) return run();
  return run().catch((e: unknown) => {
    if (e instanceof JobsError) throw new JobsError(e.code, redactSecrets(e.message, values), e.status);
    // no `cause`: it would carry the secret; the kind is kept
    if (e instanceof Error) throw new CodeDanceError(isCodeDanceError(e) ? e.kind : 'internal', redactSecrets(e.message, values));
    throw e;
  });
}
