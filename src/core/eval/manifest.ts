/**
 * The run manifest (`manifest_{model}_{dataset}.json`): what a run was — model, endpoints,
 * protocol, sampling, judge, math check, dataset hash — and every (resumed) run. A resumed run
 * must be the same experiment: `resumeManifest` refuses a different dataset, model, protocol or
 * scoring. Written atomically (a temporary file renamed over it), so a kill never leaves half a
 * manifest; a damaged one is reported with its cause and what to do.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CodeDanceError } from '../errors';
import { writeFileAtomicSync } from '../files/atomicWrite';
import { type CellHost, describeSandbox, isSandboxed, sandboxLabel } from '../kernel/sandboxNotice';
import { MAX_PIXELS, MIN_PIXELS } from '../kernel/smartResize';
import type { PrepareImageOptions } from '../kernel/types';
import { DEFAULT_MAX_REQUEST_IMAGES } from '../protocol/imageBudget';
import type { JudgeStyle } from '../reward/deepeyesJudge';
import type { BenchmarkRecord } from './benchmarkRecord';
import type { MathCheckInfo } from './mathCheck';

export interface EvalPaths {
  dir: string;
  results: string;
  stats: string;
  /** per-dataset copy of the stats (the seed's stats name is shared by every dataset of a model) */
  datasetStats: string;
  manifest: string;
  judgeCache: string;
}

export interface RunManifest {
  kind: 'codedance-eval-manifest';
  version: 1;
  model_name: string;
  eval_model_name: string;
  endpoints: string[];
  protocol: string;
  protocol_template_hash: string;
  sampling: Record<string, unknown>;
  max_turns: number;
  cell_timeout_ms: number;
  /** the limit on an observation's text, estimated tokens (0 = none); absent = the default 4096 */
  max_observation_tokens?: number;
  /** the images the model is sent (imageBudget); absent: a run written before it was recorded */
  image_budget?: ImageBudget;
  sample_timeout_ms: number;
  num_workers: number;
  limit?: number;
  data_source: string;
  /** where the Python cells ran (sandboxed, unsandboxed and why, a remote kernel); absent: not recorded */
  cells?: CellsEntry;
  judge: {
    mode: 'llm-judge' | 'no-judge';
    /** which judge scored (reward/deepeyesJudge.ts JudgeStyle); absent: a run from before it was recorded, the seed's */
    style?: JudgeStyle;
    model?: string;
    endpoints?: string[];
    prompt_hash: string;
    strict_verdict: boolean;
    cache?: 'sample' | 'shared';
  };
  /** the math rows' symbolic check (set once a math row was scored) */
  math_check?: MathCheckInfo;
  dataset: { file: string; stem: string; format: string; rows: number; sha256: string };
  /** the catalog set the dataset was converted from, as its parquet metadata names it (benchmarkRecord.ts); absent: not a converted set */
  benchmark?: BenchmarkRecord;
  extension_version: string;
  node: string;
  started_at: string;
  /** each run; `cells`: its sandboxLabel (a resumed run may have run elsewhere) */
  runs: { started_at: string; finished_at?: string; ran: number; skipped?: number; cancelled?: boolean; cells?: string }[];
}

/**
 * The images a run sends the model: how the question's image is sized (`qwen-smart`: the seed's
 * smart resize to at most `max_pixels`; `none`/`original`: as it is) and how many images one
 * request carries at most (the question's and the newest; core/protocol/imageBudget.ts).
 */
export interface ImageBudget {
  resize: PrepareImageOptions['resize'];
  min_pixels?: number;
  max_pixels?: number;
  max_request_images: number;
}

/** The manifest's image budget of a format's image preparation (the kernel's defaults filled in). */
export function imageBudget(prep: PrepareImageOptions, maxRequestImages = DEFAULT_MAX_REQUEST_IMAGES): ImageBudget {
  const pixels = prep.resize === 'qwen-smart' ? { min_pixels: prep.minPixels ?? MIN_PIXELS, max_pixels: prep.maxPixels ?? MAX_PIXELS } : {};
  return { resize: prep.resize, ...pixels, max_request_images: maxRequestImages };
}

/** Where a run's cells ran: the host as data, and its label and notice as they were said. */
export interface CellsEntry {
  label: string;
  sandboxed: boolean;
  notice: string;
  host: CellHost;
}

/** The manifest's record of where cells run (undefined for an unknown host). */
export function cellsEntry(host: CellHost | undefined): CellsEntry | undefined {
  return host ? { label: sandboxLabel(host), sandboxed: isSandboxed(host), notice: describeSandbox(host), host } : undefined;
}

/** A manifest that cannot be used (damaged, or from another run): the message says what to do. */
export class EvalManifestError extends CodeDanceError {
  override name = 'EvalManifestError';
  constructor(
    reason: string,
    fix: string,
    readonly file: string,
  ) {
    super('input', reason, { fix, separator: ': ' });
  }
}

export function safeName(s: string): string {
  return s.replace(/[\\/:*?"<>|\s]+/g, '_');
}

export function evalPaths(saveDir: string, modelName: string, datasetStem: string): EvalPaths {
  const m = safeName(modelName);
  const dir = path.resolve(saveDir, m);
  return {
    dir,
    results: path.join(dir, `result_${m}_${datasetStem}.jsonl`),
    stats: path.join(dir, `stats_${m}.json`),
    datasetStats: path.join(dir, `stats_${m}_${datasetStem}.json`),
    manifest: path.join(dir, `manifest_${m}_${datasetStem}.json`),
    judgeCache: path.join(dir, 'judge_cache.jsonl'),
  };
}

/** Writes `value` as JSON to a temporary file beside `file`, flushed, then renamed over it (a full disk: DiskFullError, the old file kept). */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomicSync(file, JSON.stringify(value, null, 2), { fsync: true });
}

/** The manifest of an earlier run in `paths.dir`, or undefined; throws EvalManifestError when it is damaged. */
export function readManifest(paths: EvalPaths): RunManifest | undefined {
  const file = paths.manifest;
  if (!existsSync(file)) return undefined;
  const name = path.basename(file);
  const fix = `delete it to start over with the finished samples in ${path.basename(paths.results)} kept (they are resumed without checking that the settings match), or delete the folder (or choose another save folder or model name) to start from scratch`;
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new EvalManifestError(`${name} in ${paths.dir} is not valid JSON (${(e as Error).message})`, fix, file);
  }
  const m = v as Partial<RunManifest> | null;
  if (!m || typeof m !== 'object' || m.kind !== 'codedance-eval-manifest' || !Array.isArray(m.runs))
    throw new EvalManifestError(
      `${name} in ${paths.dir} is not a CodeDance eval manifest (no "kind": "codedance-eval-manifest" or no "runs" list)`,
      fix,
      file,
    );
  return m as RunManifest;
}

/**
 * The manifest for this run: `next` as is for a new run; on a resume, checked against the
 * earlier one (same dataset, prompts, model and scoring) and carrying its start and runs.
 */
export function resumeManifest(prev: RunManifest | undefined, next: RunManifest, paths: EvalPaths): RunManifest {
  if (!prev) return next;
  const clash: string[] = [];
  if (prev.dataset?.sha256 !== next.dataset.sha256) clash.push('the dataset file changed (sha256)');
  if (prev.protocol_template_hash !== next.protocol_template_hash) clash.push('the protocol prompts changed');
  if (prev.eval_model_name !== next.eval_model_name) clash.push(`the model changed (${prev.eval_model_name} -> ${next.eval_model_name})`);
  if (prev.judge?.mode !== next.judge.mode) clash.push(`the scoring changed (${prev.judge?.mode} -> ${next.judge.mode})`);
  const [was, now] = [prev.judge?.style ?? 'seed', next.judge.style ?? 'seed'];
  if (was !== now) clash.push(`the judge changed (${was} -> ${now}; --judge-style ${was} resumes it)`);
  if (clash.length)
    throw new EvalManifestError(
      `${paths.results} belongs to a different run: ${clash.join('; ')}`,
      'resume with the same settings, or choose another save folder or model name',
      paths.manifest,
    );
  return { ...next, started_at: prev.started_at, runs: prev.runs ?? [], math_check: prev.math_check };
}
