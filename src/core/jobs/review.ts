/**
 * The text a user reviews and edits before a job is submitted, and back: for Ray the JSON body
 * of `POST /api/jobs/` (with working_dir still a local folder: it is uploaded on submit), for
 * Slurm the batch script itself.
 */
import { JobsError } from './errors';
import type { JobBackend, JobSpec } from './types';
import type { SlurmBackend } from './SlurmBackend';

export interface ReviewDocument {
  language: 'json' | 'shellscript';
  text: string;
}

export async function renderReview(backend: JobBackend, spec: JobSpec): Promise<ReviewDocument> {
  if (backend.kind === 'slurm') return { language: 'shellscript', text: await (backend as SlurmBackend).renderScript(spec) };
  const runtimeEnv: Record<string, unknown> = { env_vars: spec.env };
  if (spec.workingDir) runtimeEnv.working_dir = spec.workingDir;
  // JSON has no multi-line strings: shell line continuations become spaces (same command)
  const body: Record<string, unknown> = {
    entrypoint: spec.entrypoint.replace(/[ \t]*\\\n[ \t]*/g, ' '),
    runtime_env: runtimeEnv,
    metadata: { name: spec.name, ...spec.metadata },
  };
  if (spec.submissionId) body.submission_id = spec.submissionId;
  if (spec.entrypointNumGpus) body.entrypoint_num_gpus = spec.entrypointNumGpus;
  return { language: 'json', text: JSON.stringify(body, null, 2) + '\n' };
}

export function parseReview(kind: 'ray' | 'slurm', text: string, base: JobSpec): JobSpec {
  if (kind === 'slurm') return { ...base, script: text };
  let b: Record<string, unknown>;
  try {
    b = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new JobsError('config', `the reviewed Ray job is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof b.entrypoint !== 'string' || !b.entrypoint.trim())
    throw new JobsError('config', 'the reviewed Ray job has no "entrypoint" string');
  const re = (b.runtime_env ?? {}) as { env_vars?: Record<string, unknown>; working_dir?: unknown };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(re.env_vars ?? {})) env[k] = String(v);
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries((b.metadata ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
  return {
    ...base,
    name: metadata.name ?? base.name,
    entrypoint: b.entrypoint,
    env,
    workingDir: typeof re.working_dir === 'string' ? re.working_dir : undefined,
    metadata,
    submissionId: typeof b.submission_id === 'string' ? b.submission_id : undefined,
    entrypointNumGpus: typeof b.entrypoint_num_gpus === 'number' ? b.entrypoint_num_gpus : undefined,
  };
}
