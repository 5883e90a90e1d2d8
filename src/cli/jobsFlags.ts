/**
 * `codedance jobs`' flags, apart from jobs.ts so that jobSpec.ts can name their type without
 * importing jobs.ts, which imports it (no import cycle, type-only ones included:
 * scripts/lint/cycles.mjs).
 */
import type { parseArgs } from 'node:util';

export const JOBS_OPTIONS = {
  cluster: { type: 'string' },
  clusters: { type: 'string' },
  'workspace-profiles': { type: 'boolean', default: false },
  ray: { type: 'string' },
  ssh: { type: 'string' },
  identity: { type: 'string' },
  'jobs-dir': { type: 'string' },
  template: { type: 'string', default: 'codedance-rl' },
  experiment: { type: 'string' },
  model: { type: 'string' },
  'train-files': { type: 'string' },
  'val-files': { type: 'string' },
  nodes: { type: 'string' },
  'gpus-per-node': { type: 'string' },
  'judge-url': { type: 'string' },
  'repo-dir': { type: 'string' },
  'output-dir': { type: 'string' },
  time: { type: 'string' },
  env: { type: 'string', multiple: true },
  'data-root': { type: 'string' },
  rollout: { type: 'string' },
  set: { type: 'string', multiple: true },
  override: { type: 'string', multiple: true },
  'secret-env': { type: 'string', multiple: true },
  entrypoint: { type: 'string' },
  script: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  follow: { type: 'boolean', short: 'f', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** The parsed flags, as `parseArgs({ args, allowPositionals: true, options: JOBS_OPTIONS })` returns them. */
export type JobsFlags = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof JOBS_OPTIONS }>>['values'];
