/**
 * Where exported trajectories come from, each as `ExportItem`s with what the source knows
 * besides the trajectory (the dataset's ground truth and data_source for an eval sample):
 *  - an eval results file (`result_*.jsonl`): every sample with a trajectory, optionally only
 *    the correct (acc 1) or the wrong ones, or chosen indexes; images from `images/` beside it;
 *  - a saved chat conversation (`conversation.json`, or its folder): each exchange;
 *  - a trajectory JSON file (one trajectory, or an array of them).
 */
import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { ResultRecord } from '../eval/record';
import { recordTrajectory } from '../eval/recordTrajectory';
import { readResults } from '../eval/resultsFile';
import { joinHistory } from '../conversation/storedHistory';
import { loadImages } from '../trajectory/imageFiles';
import { migrateTrajectory } from '../trajectory/migrate';
import type { Trajectory } from '../trajectory/types';
import { ExportError } from './rows';

export interface ExportItem {
  trajectory: Trajectory;
  /** for messages: "result_x.jsonl sample 12", "conversation 'title' question 2" */
  origin: string;
  /** the dataset's answer (eval), or the user's */
  groundTruth?: string;
  dataSource?: string;
  index?: number;
  /** eval: the sample was judged correct */
  correct?: boolean;
}

/** An item the source could not turn into a trajectory, with why. */
export interface SkippedItem {
  origin: string;
  reason: string;
}

export type EvalSelection = 'all' | 'correct' | 'wrong';

export interface EvalSourceOptions {
  select?: EvalSelection;
  /** only these sample indexes */
  indexes?: ReadonlySet<number>;
  onSkip?: (s: SkippedItem) => void;
}

export async function* evalResultItems(file: string, o: EvalSourceOptions = {}): AsyncGenerator<ExportItem> {
  const name = path.basename(file);
  await fs.access(file).catch(() => {
    throw new ExportError(`eval results file not found: ${file}`, 'give the result_<model>_<dataset>.jsonl an eval run wrote');
  });
  // each sample once, from its last line (a rerun appends; the stats count it so too: resultsScan.ts)
  const lines = new Map<number, number>();
  for await (const r of readResults<ResultRecord>(file)) lines.set(r.index, (lines.get(r.index) ?? 0) + 1);
  const seen = new Map<number, number>();
  for await (const r of readResults<ResultRecord>(file, (line) =>
    o.onSkip?.({ origin: `${name} line ${line}`, reason: 'not a JSON line' }),
  )) {
    const origin = `${name} sample ${r.index}`;
    const nth = (seen.get(r.index) ?? 0) + 1;
    seen.set(r.index, nth);
    if (nth < lines.get(r.index)!) {
      o.onSkip?.({ origin, reason: 'a later line of the same sample replaces it' });
      continue;
    }
    if (!selected(r, o)) continue;
    const item = await resultItem(r, file, origin, o);
    if (item) yield item;
  }
}

/** Whether the sample is asked for: its index, and correct or wrong. */
function selected(r: ResultRecord, o: EvalSourceOptions): boolean {
  if (o.indexes && !o.indexes.has(r.index)) return false;
  const correct = r.acc >= 1;
  return !((o.select === 'correct' && !correct) || (o.select === 'wrong' && correct));
}

/** A results line as an item; undefined (said through `onSkip`) when it holds no usable trajectory. */
async function resultItem(r: ResultRecord, file: string, origin: string, o: EvalSourceOptions): Promise<ExportItem | undefined> {
  let t: Trajectory | undefined;
  try {
    t = await recordTrajectory(r, file);
  } catch (e) {
    o.onSkip?.({ origin, reason: (e as Error).message });
    return undefined;
  }
  if (!t) {
    o.onSkip?.({
      origin,
      reason: r.codedance?.skipped
        ? `the sample was skipped by the eval (${r.codedance.error?.message ?? 'no reason'})`
        : 'the line has no trajectory (written by the seed or an old release)',
    });
    return undefined;
  }
  return { trajectory: t, origin, groundTruth: r.ground_truth, dataSource: r.codedance?.data_source, index: r.index, correct: r.acc >= 1 };
}

/** The path's stat, undefined when nothing is there; any other failure (EACCES…) is said as such. */
async function statIfExists(p: string): Promise<Stats | undefined> {
  try {
    return await fs.stat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ExportError(`${p} cannot be read (${code ?? (e as Error).message})`, 'check that the path is readable');
  }
}

interface StoredConversation {
  id: string;
  title: string;
  exchanges: unknown[];
}

/** A saved conversation: `conversation.json` (or the folder holding it) with `images/` beside it. */
export async function* conversationItems(fileOrDir: string): AsyncGenerator<ExportItem> {
  const stat = await statIfExists(fileOrDir);
  if (!stat)
    throw new ExportError(`conversation not found: ${fileOrDir}`, 'give a conversation.json (or its folder) from the chat history');
  const file = stat.isDirectory() ? path.join(fileOrDir, 'conversation.json') : fileOrDir;
  let c: StoredConversation;
  try {
    c = JSON.parse(await fs.readFile(file, 'utf8')) as StoredConversation;
  } catch (e) {
    throw new ExportError(
      `${file} cannot be read as a conversation (${(e as Error).message})`,
      'give a conversation.json saved by the chat',
    );
  }
  if (!Array.isArray(c.exchanges))
    throw new ExportError(`${file} is not a conversation (no 'exchanges')`, 'give a conversation.json saved by the chat');
  const images = path.join(path.dirname(file), 'images');
  // follow-ups stored with their own messages only are joined back (conversation/storedHistory.ts)
  for (const [i, raw] of joinHistory(c.exchanges).entries()) {
    const t = await loadImages(migrateTrajectory(raw), images);
    // a question asked with a known answer (an eval sample, a dataset row) keeps it
    yield {
      trajectory: t,
      origin: `conversation '${c.title ?? c.id}' question ${i + 1}`,
      groundTruth: t.reference?.groundTruth,
      dataSource: t.reference?.dataSource,
    };
  }
}

/** In-memory trajectories (the extension's selection). */
export async function* trajectoryItems(list: readonly ExportItem[]): AsyncGenerator<ExportItem> {
  for (const x of list) yield { ...x };
}

/**
 * A JSON file of one trajectory or an array of them: images inline, or `codedance-file:` refs to
 * files in its folder (`codedance ask` writes its trajectory.json so).
 */
export async function* trajectoryFileItems(file: string): AsyncGenerator<ExportItem> {
  let v: unknown;
  try {
    v = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new ExportError(`${file} cannot be read (${(e as Error).message})`, 'give a trajectory JSON file');
  }
  const list = Array.isArray(v) ? v : [v];
  for (const [i, raw] of list.entries()) {
    const t = await loadImages(migrateTrajectory(raw), path.dirname(file));
    yield {
      trajectory: t,
      origin: `${path.basename(file)}${list.length > 1 ? ` #${i}` : ''}`,
      groundTruth: t.reference?.groundTruth,
      dataSource: t.reference?.dataSource,
    };
  }
}

/** Items from a path, by its kind: a results .jsonl, a conversation (folder or conversation.json), a trajectory .json. */
export async function* itemsFromPath(p: string, o: EvalSourceOptions = {}): AsyncGenerator<ExportItem> {
  const stat = await statIfExists(p);
  if (!stat)
    throw new ExportError(
      `not found: ${p}`,
      'give an eval results .jsonl, a conversation folder or conversation.json, or a trajectory .json',
    );
  if (stat.isDirectory() || path.basename(p) === 'conversation.json') yield* conversationItems(p);
  else if (/\.jsonl$/i.test(p)) yield* evalResultItems(p, o);
  else if (/\.json$/i.test(p)) yield* trajectoryFileItems(p);
  else
    throw new ExportError(
      `${p}: unknown source type`,
      'give an eval results .jsonl, a conversation folder or conversation.json, or a trajectory .json',
    );
}
