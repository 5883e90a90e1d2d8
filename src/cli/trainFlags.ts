/**
 * `codedance train`'s flags: the cluster (as `codedance jobs` takes it), what to read, and the
 * alarm thresholds (each a flag; the same settings as `codedance.runs.alarms.*` in the editor).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_THRESHOLDS, type AlarmThresholds } from '../core/runs';
import { CliError, EXIT } from './errors';

export const TRAIN_OPTIONS = {
  job: { type: 'string' },
  cluster: { type: 'string' },
  clusters: { type: 'string' },
  'workspace-profiles': { type: 'boolean', default: false },
  ray: { type: 'string' },
  ssh: { type: 'string' },
  identity: { type: 'string' },
  'jobs-dir': { type: 'string' },
  step: { type: 'string' },
  validation: { type: 'boolean', default: false },
  rows: { type: 'string' },
  'tool-collapse-ratio': { type: 'string' },
  'early-steps': { type: 'string' },
  'tool-success-drop': { type: 'string' },
  'format-drop': { type: 'string' },
  'clip-ratio': { type: 'string' },
  'hang-factor': { type: 'string' },
  follow: { type: 'boolean', short: 'f', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export type TrainFlags = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof TRAIN_OPTIONS }>>['values'];

/** flag → [threshold, whether a whole number] */
const THRESHOLD_FLAGS: Record<string, [keyof AlarmThresholds, boolean]> = {
  'tool-collapse-ratio': ['toolUseCollapseRatio', false],
  'early-steps': ['earlySteps', true],
  'tool-success-drop': ['toolSuccessDrop', false],
  'format-drop': ['formatDrop', false],
  'clip-ratio': ['clipRatio', false],
  'hang-factor': ['hangFactor', false],
};

/** A number flag: a non-negative number (a whole one when `whole`), else a usage error naming the flag. */
export function numberFlag(v: string | undefined, flag: string, whole = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || (whole && !Number.isInteger(n)))
    throw new CliError(`--${flag} must be ${whole ? 'a whole number' : 'a number'} >= 0, got '${v}'`, EXIT.usage);
  return n;
}

/** The alarm thresholds: the defaults, each changed by its flag. */
export function thresholdsFrom(v: TrainFlags): AlarmThresholds {
  const t: AlarmThresholds = { ...DEFAULT_THRESHOLDS };
  for (const [flag, [key, whole]] of Object.entries(THRESHOLD_FLAGS)) {
    const n = numberFlag(v[flag as keyof TrainFlags] as string | undefined, flag, whole);
    if (n !== undefined) t[key] = n;
  }
  return t;
}
