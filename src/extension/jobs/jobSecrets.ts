/**
 * The secrets a training job reads from its environment (WANDB_API_KEY, …): kept in
 * SecretStorage (or taken from the editor's environment), added to the job at submit time only —
 * never in the review document, the script, the job's metadata or the log.
 */
import type * as vscode from 'vscode';
import { TEMPLATES } from '../../core/jobs';

export const JOB_SECRET_PREFIX = 'codedance.jobs.env.';

/** The secret variables of the template a job was built from, from SecretStorage, else the environment. */
export async function jobSecretEnv(
  storage: vscode.SecretStorage,
  templateId: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, string>> {
  const names = TEMPLATES.find((t) => t.id === templateId)?.secretEnv ?? ['WANDB_API_KEY'];
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = (await storage.get(JOB_SECRET_PREFIX + n)) ?? env[n];
    if (v) out[n] = v;
  }
  return out;
}

export async function setJobSecret(storage: vscode.SecretStorage, name: string, value: string | undefined): Promise<void> {
  if (value) await storage.store(JOB_SECRET_PREFIX + name, value);
  else await storage.delete(JOB_SECRET_PREFIX + name);
}
