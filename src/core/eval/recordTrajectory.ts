/**
 * The trajectory inside a result record, on disk and back: `storeRecordImages` moves its image
 * payloads into the `images` folder beside the results file (as chat history does) before the
 * line is written; `recordTrajectory` reads it back whole (messages, turns, sampling, tool calls,
 * images), from a line of any schema: 2+ as stored, 1 rebuilt (migrate.ts), none for a line
 * without one (the seed's own files, a skipped row).
 */
import path from 'node:path';
import { loadImages, storeImages, type LoadOptions, type StoreOptions } from '../trajectory/imageFiles';
import { isLegacyEvalTrajectory, migrateTrajectory, trajectoryFromLegacyEval, type LegacyEvalRecord } from '../trajectory/migrate';
import type { Trajectory } from '../trajectory/types';
import type { ResultRecord } from './record';

/** Where the images of a results file's trajectories are: `images/` beside it. */
export function recordImagesDir(resultsFile: string): string {
  return path.join(path.dirname(resultsFile), 'images');
}

/** The record with its trajectory's images written to `dir` and replaced by file refs (the seed's `multi_modal_data` stays inline). */
export async function storeRecordImages(r: ResultRecord, dir: string, o: StoreOptions = {}): Promise<ResultRecord> {
  const t = r.codedance.trajectory;
  if (!t) return r;
  return { ...r, codedance: { ...r.codedance, trajectory: await storeImages(t, dir, o) } };
}

/** The record's trajectory with its images inline, or undefined when the line has none. */
export async function recordTrajectory(r: ResultRecord, resultsFile: string, o: LoadOptions = {}): Promise<Trajectory | undefined> {
  const stored: unknown = r.codedance?.trajectory;
  if (!stored) return undefined;
  if (isLegacyEvalTrajectory(stored)) return trajectoryFromLegacyEval(r as unknown as LegacyEvalRecord);
  return loadImages(migrateTrajectory(stored, 'eval-record'), recordImagesDir(resultsFile), o);
}
