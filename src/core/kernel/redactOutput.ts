/**
 * Secret values never leave the kernel layer: every text a cell produces (stdout, stderr, the
 * error's value and traceback, streamed chunks) goes through the session's SecretSet
 * (core/secrets) before anyone sees it — the trajectory, the notebook, eval results, the next
 * model request. The set holds the secret-looking variables of the host environment, the
 * credentials in its URL-valued ones, the caller's values, and every secret of the process
 * (`processSecrets`: keys from the editor's secret store, a key given as a flag, a Jupyter
 * token), whatever the variable's name; URL passwords, tokens in query strings, bearer tokens
 * and `sk-` keys are masked by their shape. The kernel's environment is an allow-list
 * (sandbox.ts), so this is a second line; it cannot catch a secret the code encodes (base64,
 * reversed, drawn in an image) before printing it.
 */
import { processSecrets, SecretSet, secretValuesFromEnv } from '../secrets';
import type { ExecutionOutputEvent, ExecutionResult, RedactOptions } from './types';

export type { RedactOptions } from './types';

/** The secrets a session redacts: the environment's and the explicit values, plus the process's; `false`: none (nothing is redacted). */
export function sessionSecrets(opts: RedactOptions | false | undefined): SecretSet | undefined {
  if (opts === false) return undefined;
  const env = opts?.env === undefined ? process.env : opts.env;
  return new SecretSet([...(env ? secretValuesFromEnv(env) : []), ...(opts?.values ?? [])], processSecrets);
}

/** A copy of the result with every text field redacted (images are left as they are). */
export function redactResult(r: ExecutionResult, secrets: SecretSet | undefined): ExecutionResult {
  if (!secrets) return r;
  const red = (t: string) => secrets.redact(t);
  const out: ExecutionResult = { ...r, stdout: red(r.stdout), stderr: red(r.stderr) };
  if (r.error) out.error = { ...r.error, ename: red(r.error.ename), evalue: red(r.error.evalue), traceback: r.error.traceback.map(red) };
  return out;
}

/** Wraps a live-output listener so streamed text is redacted too (a secret split across two chunks is caught only in the final result). */
export function redactingListener(
  fn: ((ev: ExecutionOutputEvent) => void) | undefined,
  secrets: SecretSet | undefined,
): ((ev: ExecutionOutputEvent) => void) | undefined {
  if (!fn || !secrets) return fn;
  return (ev) => fn(ev.kind === 'stream' ? { ...ev, text: secrets.redact(ev.text) } : ev);
}
