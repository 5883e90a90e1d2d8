/**
 * `codedance jobs submit`'s job: the template's parameters from its defaults, the profile's and
 * the flags, then --env, --entrypoint and --script applied; a bad value is a usage error.
 */
import { readFileSync } from 'node:fs';
import { buildJob, defaultParams, type ClusterProfile, type JobSpec, type TemplateId, type TemplateParams } from '../core/jobs';
import { CliError, EXIT } from './errors';
import type { JobsFlags } from './jobsFlags';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `--env KEY=VALUE` values → variables; a bad one is a usage error naming it. */
export function parseEnvArgs(list: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i < 1) throw new CliError(`--env: expected KEY=VALUE, got '${kv}'`, EXIT.usage);
    const key = kv.slice(0, i);
    if (!ENV_NAME.test(key))
      throw new CliError(
        `--env: '${key}' is not a variable name (letters, digits and _, not starting with a digit): fix --env '${kv}'`,
        EXIT.usage,
      );
    env[key] = kv.slice(i + 1);
  }
  return env;
}

/** `--set key=value` values → a map (the value may hold '='). */
function parseEnvLikePairs(list: readonly string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const i = kv.indexOf('=');
    if (i < 1) throw new CliError(`${flag}: expected KEY=VALUE, got '${kv}'`, EXIT.usage);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

/** The job of template `tid` with the submit fields, --env, --entrypoint and --script applied; a bad field is a usage error. */
export function jobSpec(v: JobsFlags, profile: ClusterProfile, tid: TemplateId): JobSpec {
  let spec: JobSpec;
  try {
    spec = buildJob(tid, submitParams(v, profile), profile.kind);
  } catch (e) {
    throw new CliError((e as Error).message, EXIT.usage);
  }
  Object.assign(spec.env, parseEnvArgs(v.env ?? []));
  if (v.entrypoint !== undefined) spec.entrypoint = v.entrypoint;
  if (v.script !== undefined) {
    if (profile.kind !== 'slurm') throw new CliError('--script is for Slurm clusters (Ray takes --entrypoint)', EXIT.usage);
    try {
      spec.script = readFileSync(v.script, 'utf8');
    } catch (e) {
      throw new CliError(
        `--script: cannot read ${v.script} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give the path of your batch script`,
        EXIT.usage,
      );
    }
  }
  return spec;
}

function wholeNumber(s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s)) throw new CliError(`--${name} must be a whole number, got '${s}'`, EXIT.usage);
  return Number(s);
}

/** The template's parameters: its defaults, then the profile's, then the flags given. */
function submitParams(v: JobsFlags, profile: ClusterProfile): TemplateParams {
  const profileDefaults = (profile as { defaults?: Record<string, unknown> }).defaults ?? {};
  return defaultParams({
    ...(profile.kind === 'ray' && profile.workingDir ? { repoDir: profile.workingDir } : {}),
    ...profileDefaults,
    ...(v.experiment !== undefined && { experimentName: v.experiment }),
    ...(v.model !== undefined && { modelPath: v.model }),
    ...(v['train-files'] !== undefined && { trainFiles: v['train-files'] }),
    ...(v['val-files'] !== undefined && { valFiles: v['val-files'] }),
    ...(v.nodes !== undefined && { nodes: wholeNumber(v.nodes, 'nodes') }),
    ...(v['gpus-per-node'] !== undefined && { gpusPerNode: wholeNumber(v['gpus-per-node'], 'gpus-per-node') }),
    ...(v['judge-url'] !== undefined
      ? { judgeUrl: v['judge-url'] }
      : process.env.LLM_AS_A_JUDGE_BASE
        ? { judgeUrl: process.env.LLM_AS_A_JUDGE_BASE }
        : {}),
    ...(v['repo-dir'] !== undefined && { repoDir: v['repo-dir'] }),
    ...(v['output-dir'] !== undefined && { outputDir: v['output-dir'] }),
    ...(v.time !== undefined && { timeLimit: v.time }),
    ...(v['data-root'] !== undefined && { dataRoot: v['data-root'] }),
    ...(v.rollout !== undefined && { rolloutName: v.rollout as 'sglang' | 'vllm' }),
    ...(v.set !== undefined && { overrides: parseEnvLikePairs(v.set, '--set') }),
    ...(v.override !== undefined && { extraOverrides: v.override }),
  });
}
