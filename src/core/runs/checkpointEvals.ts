/**
 * Where "Evaluate this checkpoint" records its results, and where the run view reads them to put
 * a point on the chart at the checkpoint's step: one small JSON index beside the eval results
 * (`<eval save folder>/checkpoint-evals.json`, the save folder being the workspace's
 * `codedance-eval/` in the editor and `--save-path` in the CLI, so both see the same points):
 *
 *   { "kind": "codedance-checkpoint-evals", "version": 1,
 *     "runs": { "job:hpc:4242": [ { "step": 20, "accuracy": 0.61, "n": 300, "dataset": "vstar_val",
 *                                   "evalDir": "/ws/codedance-eval/exp-step20", … } ] } }
 *
 * A run is keyed as the run view keys a job (`job:<cluster>:<id>`, checkpointRunKey). One entry per
 * (step, dataset): evaluating again replaces it. Written whole or not at all (atomic rename);
 * entries that do not match the schema are dropped on read, never trusted.
 */
import { readFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import * as v from 'valibot';
import { writeFileAtomic } from '../files/atomicWrite';

export const CHECKPOINT_EVALS_FILE = 'checkpoint-evals.json';

/** One eval of one checkpoint on one dataset. */
export interface CheckpointEval {
  /** the checkpoint's training step (`global_step_<N>`) */
  step: number;
  /** the eval's mean accuracy, 0–1 (the seed's `avg_acc`) */
  accuracy: number;
  /** samples scored (the seed's `total_samples`) */
  n: number;
  /** the dataset's file stem: one chart series per dataset */
  dataset: string;
  /** the dataset as the run names it (a path on the cluster) or as it was picked */
  dataFile: string;
  /** the folder of the eval's results on this machine (result_*.jsonl, stats, manifest) */
  evalDir: string;
  /** the merged model that was served */
  model: string;
  /** scored by an LLM judge (else by normalized match: not comparable with judged numbers) */
  judged: boolean;
  /** ISO time the eval finished */
  finishedAt: string;
}

const entry = v.object({
  step: v.pipe(v.number(), v.integer(), v.minValue(0)),
  accuracy: v.pipe(v.number(), v.minValue(0), v.maxValue(1)),
  n: v.pipe(v.number(), v.integer(), v.minValue(0)),
  dataset: v.pipe(v.string(), v.minLength(1), v.maxLength(500)),
  dataFile: v.pipe(v.string(), v.maxLength(4096)),
  evalDir: v.pipe(v.string(), v.maxLength(4096)),
  model: v.pipe(v.string(), v.maxLength(4096)),
  judged: v.boolean(),
  finishedAt: v.pipe(v.string(), v.maxLength(64)),
});

interface IndexFile {
  kind: 'codedance-checkpoint-evals';
  version: 1;
  runs: Record<string, CheckpointEval[]>;
}

/** The index in an eval save folder. */
export function checkpointEvalsFile(saveDir: string): string {
  return path.join(path.resolve(saveDir), CHECKPOINT_EVALS_FILE);
}

/** The key of a job's run: the run view's own (`RunSource.key` of a job). */
export function checkpointRunKey(cluster: string, jobId: string): string {
  return `job:${cluster}:${jobId}`;
}

function byStep(a: CheckpointEval, b: CheckpointEval): number {
  return a.step - b.step || a.dataset.localeCompare(b.dataset);
}

/** Every run's evals in the index; none when the file is not there. Entries that are not evals are dropped. */
export async function readCheckpointEvalIndex(file: string): Promise<Record<string, CheckpointEval[]>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(
      `${file} is not JSON (${(e as Error).message}): delete it to start a new index (the eval results themselves are kept)`,
      {
        cause: e,
      },
    );
  }
  const runs = (raw as { runs?: unknown })?.runs;
  const out: Record<string, CheckpointEval[]> = {};
  if (!runs || typeof runs !== 'object') return out;
  for (const [key, list] of Object.entries(runs)) {
    if (!Array.isArray(list)) continue;
    const ok = list.map((x) => v.safeParse(entry, x)).flatMap((r) => (r.success ? [r.output] : []));
    if (ok.length) out[key] = ok.sort(byStep);
  }
  return out;
}

/** One run's evals, by step then dataset. */
export async function checkpointEvalsOf(file: string, runKey: string): Promise<CheckpointEval[]> {
  return (await readCheckpointEvalIndex(file))[runKey] ?? [];
}

type Listener = (e: { file: string; runKey: string; evals: CheckpointEval[] }) => void;
const listeners = new Set<Listener>();
/** one write at a time per index file in this process (read, change, write) */
const writing = new Map<string, Promise<unknown>>();

/** Tells `fn` each time an eval is recorded in this process (the run view redraws its points); returns the unsubscribe. */
export function onCheckpointEvalRecorded(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Records `e` for the run (replacing the entry of the same step and dataset); resolves with the run's evals. */
export function recordCheckpointEval(file: string, runKey: string, e: CheckpointEval): Promise<CheckpointEval[]> {
  const parsed = v.safeParse(entry, e);
  if (!parsed.success)
    return Promise.reject(new Error(`not a checkpoint eval (step ${e.step}, ${e.dataset}): ${v.summarize(parsed.issues)}`));
  const checked = parsed.output;
  // an earlier write's failure was its caller's to see: this one goes on after it either way
  const before = (writing.get(file) ?? Promise.resolve()).catch(() => undefined);
  const next = before.then(async () => {
    const index = await readCheckpointEvalIndex(file);
    const list = (index[runKey] ?? []).filter((x) => !(x.step === checked.step && x.dataset === checked.dataset));
    index[runKey] = [...list, checked].sort(byStep);
    const doc: IndexFile = { kind: 'codedance-checkpoint-evals', version: 1, runs: index };
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, JSON.stringify(doc, null, 2) + '\n');
    return index[runKey];
  });
  writing.set(file, next);
  const forget = () => {
    if (writing.get(file) === next) writing.delete(file);
  };
  next.then(forget, forget);
  return next.then((evals) => {
    for (const fn of listeners) fn({ file, runKey, evals });
    return evals;
  });
}

/** The chart's points: per dataset, [step, accuracy] in step order. */
export function checkpointEvalSeries(evals: readonly CheckpointEval[]): { dataset: string; points: [number, number][] }[] {
  const by = new Map<string, [number, number][]>();
  for (const e of [...evals].sort(byStep)) {
    const pts = by.get(e.dataset) ?? [];
    pts.push([e.step, e.accuracy]);
    by.set(e.dataset, pts);
  }
  return [...by].map(([dataset, points]) => ({ dataset, points }));
}
