/**
 * The checkpoints of a run: verl saves `<trainer.default_local_dir>/global_step_<N>/` every
 * `save_freq` steps (FSDP shards under `actor/`); serving one needs a Hugging Face model merged
 * from them (`python -m verl.model_merger merge`). Facts: ../shared/docs/codedance-rl-runs.md §3.
 *
 * The convention for a merged model (ours; verl has none): `<global_step_N>/merged_hf/` holding a
 * `config.json` (the merger writes one, with the weights, into its `--target_dir`).
 */
import { shQuote } from '../jobs/slurmText';
import { isNotFound } from './errors';
import type { RunFiles } from './runFiles';
import type { Checkpoint } from './types';

export const MERGED_DIR = 'merged_hf';
const STEP_DIR = /^global_step_(\d+)$/;

/** The folder a checkpoint's merged model goes to (the convention above). */
export function mergedDirOf(checkpointPath: string): string {
  return `${checkpointPath.replace(/\/+$/, '')}/${MERGED_DIR}`;
}

/** Relative paths under `dir` down to `<step>/merged_hf/config.json`, in one call when the files can. */
async function tree(files: RunFiles, dir: string): Promise<string[]> {
  if (files.listDeep) return files.listDeep(dir, 3);
  const out: string[] = [];
  for (const name of await files.list(dir)) {
    out.push(name);
    if (!STEP_DIR.test(name)) continue;
    const inStep = await files.list(`${dir}/${name}`);
    out.push(...inStep.map((n) => `${name}/${n}`));
    if (inStep.includes(MERGED_DIR))
      out.push(...(await files.list(`${dir}/${name}/${MERGED_DIR}`)).map((n) => `${name}/${MERGED_DIR}/${n}`));
  }
  return out;
}

/** The `global_step_N` folders of `dir`, ascending; none when the folder is not there yet. */
export async function listCheckpoints(files: RunFiles, dir: string): Promise<Checkpoint[]> {
  const base = dir.replace(/\/+$/, '');
  let paths: string[];
  try {
    paths = await tree(files, base);
  } catch (e) {
    if (isNotFound(e)) return []; // no checkpoint saved yet
    throw e;
  }
  const have = new Set(paths);
  const out: Checkpoint[] = [];
  for (const p of paths) {
    const m = STEP_DIR.exec(p);
    if (!m) continue;
    const path = `${base}/${p}`;
    const merged = have.has(`${p}/${MERGED_DIR}/config.json`);
    out.push({ step: Number(m[1]), path, ...(merged && { mergedPath: mergedDirOf(path) }) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/** The command that merges a checkpoint's FSDP shards (`<global_step_N>/actor`) into a Hugging Face model in `targetDir`. */
export function mergeCommand(actorDir: string, targetDir: string): string {
  return `python -m verl.model_merger merge --backend fsdp --local_dir ${shQuote(actorDir)} --target_dir ${shQuote(targetDir)}`;
}
