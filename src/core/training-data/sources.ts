/**
 * Where exported trajectories come from, each as `ExportItem`s with what the source knows
 * besides the trajectory (the dataset's ground truth and data_source for an eval sample):
 *  - an eval results file (`result_*.jsonl`): every sample with a trajectory, optionally only
 *    the correct (acc 1) or the wrong ones, or chosen indexes; images from `images/` beside it;
 *  - a saved chat conversation (`conversation.json`, or its folder): each exchange;
 *  - a trajectory JSON file (one trajectory, or an array of them).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ResultRecord } from '../eval/record';
import { recordTrajectory } from '../eval/recordTrajectory';
import { readResults } from '../eval/resultsFile';
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
  for await (const r of readResults<ResultRecord>(file, (line) => o.onSkip?.({ origin: `${name} line ${line}`, reason: 'not a JSON line' }))) {
    const origin = `${name} sample ${r.index}`;
    if (o.indexes && !o.indexes.has(r.index)) continue;
    const correct = r.acc >= 1;
    if ((o.select === 'correct' && !correct) || (o.select === 'wrong' && correct)) continue;
    let t: Trajectory | undefined;
    try {
      t = await recordTrajectory(r, file);
    } catch (e) {
      o.onSkip?.({ origin, reason: (e as Error).message });
      continue;
    }
    if (!t) {
      o.onSkip?.({ origin, reason: r.codedance?.skipped ? `the sample was skipped by the eval (${r.codedance.error?.message ?? 'no reason'})` : 'the line has no trajectory (written by the seed or an old release)' });
      continue;
    }
    yield { trajectory: t, origin, groundTruth: r.ground_truth, dataSource: r.codedance?.data_source, index: r.index, correct };
  }
}

interface StoredConversation {
  id: string;
  title: string;
  exchanges: unknown[];
}

/** A saved conversation: `conversation.json` (or the folder holding it) with `images/` beside it. */
export async function* conversationItems(fileOrDir: string): AsyncGenerator<ExportItem> {
  const stat = await fs.stat(fileOrDir).catch(() => undefined);
  if (!stat) throw new ExportError(`conversation not found: ${fileOrDir}`, 'give a conversation.json (or its folder) from the chat history');
  const file = stat.isDirectory() ? path.join(fileOrDir, 'conversation.json') : fileOrDir;
  let c: StoredConversation;
  try {
    c = JSON.parse(await fs.readFile(file, 'utf8')) as StoredConversation;
  } catch (e) {
    throw new ExportError(`${file} cannot be read as a conversation (${(e as Error).message})`, 'give a conversation.json saved by the chat');
  }
  if (!Array.isArray(c.exchanges)) throw new ExportError(`${file} is not a conversation (no 'exchanges')`, 'give a conversation.json saved by the chat');
  const images = path.join(path.dirname(file), 'images');
  for (const [i, raw] of c.exchanges.entries()) {
    const t = await loadImages(migrateTrajectory(raw), images);
    // a question asked with a known answer (an eval sample, a dataset row) keeps it
    yield { trajectory: t, origin: `conversation '${c.title ?? c.id}' question ${i + 1}`, groundTruth: t.reference?.groundTruth, dataSource: t.reference?.dataSource };
  }
}

/** In-memory trajectories (the extension's selection). */
export async function* trajectoryItems(list: readonly ExportItem[]): AsyncGenerator<ExportItem> {
  for (const x of list) yield { ...x };
}

/** A JSON file of one trajectory or an array of them (images inline). */
export async function* trajectoryFileItems(file: string): AsyncGenerator<ExportItem> {
  let v: unknown;
  try {
    v = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new ExportError(`${file} cannot be read (${(e as Error).message})`, 'give a trajectory JSON file');
  }
  const list = Array.isArray(v) ? v : [v];
  for (const [i, raw] of list.entries()) {
    const t = migrateTrajectory(raw);
    yield { trajectory: t, origin: `${path.basename(file)}${list.length > 1 ? ` #${i}` : ''}`, groundTruth: t.reference?.groundTruth, dataSource: t.reference?.dataSource };
  }
}

/** Items from a path, by its kind: a results .jsonl, a conversation (folder or conversation.json), a trajectory .json. */
export async function* itemsFromPath(p: string, o: EvalSourceOptions = {}): AsyncGenerator<ExportItem> {
  const stat = await fs.stat(p).catch(() => undefined);
  if (!stat) throw new ExportError(`not found: ${p}`, 'give an eval results .jsonl, a conversation folder or conversation.json, or a trajectory .json');
  if (stat.isDirectory() || path.basename(p) === 'conversation.json') yield* conversationItems(p);
  else if (/\.jsonl$/i.test(p)) yield* evalResultItems(p, o);
  else if (/\.json$/i.test(p)) yield* trajectoryFileItems(p);
  else throw new ExportError(`${p}: unknown source type`, 'give an eval results .jsonl, a conversation folder or conversation.json, or a trajectory .json');
}
