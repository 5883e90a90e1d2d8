/**
 * Rows the eval cannot use, as the seed treats them: skipped, not scored, left out of the
 * stats. We record each one (its index and the reason) so that the run goes on, a resume gets
 * past it, and the stats say how many there were:
 *   - `BadRow`: a JSONL line that is not a JSON object, a parquet slice that does not decode, a
 *     row without its question or answer (the seed would crash on it);
 *   - `ImageLoadError`: the row's image does not load — the file is missing, or Pillow cannot
 *     open it (decided in the kernel, where the seed's `Image.open` runs too).
 */
import type { DatasetSample } from '../data/types';
import type { Trajectory } from '../trajectory/types';
import { skippedRecord, type ResultRecord } from './record';

export type SkipKind = 'BadRow' | 'ImageLoadError';

/** The reason a sample is skipped before it runs (undefined: it runs). */
export function skipBeforeRun(sample: DatasetSample): { kind: SkipKind; reason: string } | undefined {
  if (sample.rowError) return { kind: 'BadRow', reason: sample.rowError };
  if (sample.imageError) return { kind: 'ImageLoadError', reason: sample.imageError };
  return undefined;
}

/** A skipped sample's line: the seed's fields empty, `codedance.skipped`, the reason as its error. */
export function skippedSampleRecord(sample: DatasetSample, kind: SkipKind, reason: string): ResultRecord {
  const r = skippedRecord(sample, reason);
  r.codedance.error = { name: kind, message: reason };
  return r;
}

/**
 * When the loop ended before its first model call because the kernel could not open the input
 * image (Pillow's verdict, as the seed's `Image.open`), the reason to skip the row, naming the
 * image's file; else undefined. A kernel that died or timed out while preparing the image is
 * not an unloadable image: that sample is retried and recorded as an error like any other.
 */
export function imageLoadFailure(sample: DatasetSample, traj: Trajectory): string | undefined {
  if (!sample.images.length || traj.status !== 'error' || traj.turns.length || traj.inputImages.length) return undefined;
  const err = traj.error as { message?: string; reason?: string } | undefined;
  const msg = (err?.reason ?? err?.message ?? '').split('\nFix: ')[0];
  if (!/input image.*could not be (?:prepared|read)/s.test(msg)) return undefined;
  // the kernel's own words: "… input image #1 could not be read: UnidentifiedImageError: …"
  const cause = /could not be read: (.*)$/s.exec(msg)?.[1] ?? msg;
  return `image ${sample.imageSource ?? `of row ${sample.index}`} could not be loaded: ${cause.trim()}`;
}
