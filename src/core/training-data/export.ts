/**
 * `exportTrainingData`: trajectories (chat exchanges, eval samples) to a CodeDance-SFT or
 * CodeDance-RL parquet file (schema.ts), streamed one row group at a time.
 *  - SFT: only finished runs (status `answered`) unless `includeUnanswered`; the others are
 *    reported as skipped with their origin.
 *  - RL: each row needs a ground truth: the item's (an eval sample's dataset answer) or the
 *    `groundTruth` callback's (the user's). Missing, the export stops with an error naming the
 *    trajectory and leaves no file (nothing is invented).
 */
import { rm } from 'node:fs/promises';
import { CodeDanceError } from '../errors';
import { ExportError, rlRow, sftRow } from './rows';
import { RL_COLUMNS, rlSchema, SFT_COLUMNS, sftSchema } from './schema';
import type { ExportItem, SkippedItem } from './sources';
import { writeParquetRows } from './writeParquet';

export type TrainingFormat = 'sft' | 'rl';

export interface ExportOptions {
  format: TrainingFormat;
  out: string;
  items: AsyncIterable<ExportItem>;
  /** RL: the user's ground truth for an item without one */
  groundTruth?: (item: ExportItem) => string | undefined | Promise<string | undefined>;
  /** RL data_source: overrides the item's; default the item's, else `chat` */
  dataSource?: string;
  /** RL ability (the seed never reads it); default `visual_reasoning` */
  ability?: string;
  /** RL extra_info.split; default `train` */
  split?: string;
  /** RL: the prompt column's name (verl's default `prompt`, the published card's `messages`) */
  promptKey?: 'prompt' | 'messages';
  /** SFT: also runs that did not end with an answer */
  includeUnanswered?: boolean;
  rowGroupSize?: number;
  onSkip?: (s: SkippedItem) => void;
  onRow?: (n: number) => void;
  signal?: AbortSignal;
}

export interface ExportSummary {
  file: string;
  format: TrainingFormat;
  rows: number;
  skipped: SkippedItem[];
  ms: number;
}

export const DEFAULT_CHAT_DATA_SOURCE = 'chat';
export const DEFAULT_ABILITY = 'visual_reasoning';

export async function exportTrainingData(o: ExportOptions): Promise<ExportSummary> {
  const t0 = performance.now();
  const skipped: SkippedItem[] = [];
  const skip = (s: SkippedItem) => {
    skipped.push(s);
    o.onSkip?.(s);
  };
  const promptKey = o.promptKey ?? 'prompt';
  let made = 0;
  async function* rows(): AsyncGenerator<Record<string, unknown>> {
    let next = 0;
    for await (const item of o.items) {
      if (o.signal?.aborted) throw new CodeDanceError('cancelled', 'the export was cancelled; no file was written');
      const t = item.trajectory;
      if (o.format === 'sft') {
        if (t.status !== 'answered' && !o.includeUnanswered) {
          skip({ origin: item.origin, reason: `the run ended '${t.status}' without an answer (include it with includeUnanswered)` });
          continue;
        }
        const r = sftRow(t);
        yield { messages: r.messages, images: r.images };
      } else {
        // an empty dataset answer counts as none: asked, never made up
        const gt = item.groundTruth?.trim() ? item.groundTruth : await o.groundTruth?.(item);
        if (o.signal?.aborted) throw new CodeDanceError('cancelled', 'the export was cancelled; no file was written');
        if (gt === undefined || !gt.trim())
          throw new ExportError(
            `${item.origin} (trajectory ${t.id}, question '${t.question.slice(0, 80)}') has no ground truth`,
            'give the correct answer for it (CLI: --ground-truth FILE or --answer TEXT); an RL row is never made from the model’s own answer',
          );
        const index = item.index ?? next;
        next = Math.max(next, index + 1);
        const r = rlRow(t, {
          groundTruth: gt,
          dataSource: o.dataSource ?? item.dataSource ?? DEFAULT_CHAT_DATA_SOURCE,
          ability: o.ability ?? DEFAULT_ABILITY,
          index,
          split: o.split ?? 'train',
        });
        const { prompt, ...rest } = r;
        yield { ...rest, [promptKey]: prompt };
      }
      o.onRow?.(++made);
    }
  }
  const sft = o.format === 'sft';
  const columns = sft ? [...SFT_COLUMNS] : RL_COLUMNS.map((c) => (c === 'prompt' ? promptKey : c));
  const n = await writeParquetRows({
    file: o.out,
    schema: sft ? sftSchema() : rlSchema(promptKey),
    columns,
    rows: rows(),
    rowGroupSize: o.rowGroupSize,
    kvMetadata: [{ key: 'codedance.export', value: JSON.stringify({ format: o.format, version: 1 }) }],
  });
  if (n === 0) {
    await rm(o.out, { force: true });
    const why = skipped.length
      ? `: ${skipped.length} skipped (first: ${skipped[0].origin}: ${skipped[0].reason})`
      : ': the source holds no trajectory';
    throw new ExportError(`nothing to export${why}`, 'choose trajectories that finished with an answer, or include unanswered ones');
  }
  return { file: o.out, format: o.format, rows: n, skipped, ms: performance.now() - t0 };
}
