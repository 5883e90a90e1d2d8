/**
 * Replayed output against the recorded `<tool_response>`: the text with every whitespace run
 * removed (the published rows and the chat template differ in the newlines between parts), the
 * images by count, size and perceptual hash (dHash distance ≤ `maxHashDistance` of 64 bits).
 */
import type { ExecutionResult } from '../kernel/types';
import { evalObservationParts } from '../protocol/codedance';
import { trainingToolResultParts } from '../protocol/codedanceTools';
import type { ImageHasher } from './imageHash';
import { hashDistance } from './imageHash';
import type { RecordedObservation, ReplayFormat } from './replayPlan';
import { IMAGE_TOKEN, toSftMessages } from '../protocol/sftText';

export const DEFAULT_MAX_HASH_DISTANCE = 10;

export interface CellDiff {
  turn: number;
  what: 'text' | 'image count' | 'image size' | 'image content';
  expected: string;
  got: string;
}

/** The observation text the format would have recorded for this result (`<image>` per image). */
export function replayedText(result: ExecutionResult, format: ReplayFormat, timeoutMs: number): string {
  const parts = format === 'codedance' ? evalObservationParts(result, timeoutMs) : trainingToolResultParts(result, timeoutMs);
  return toSftMessages([{ role: 'user', content: parts }]).messages[0].content;
}

const squash = (s: string) => s.replaceAll(IMAGE_TOKEN, '').replace(/\s+/g, '');
const show = (s: string) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
};

/** The first difference between what was recorded and what the replay produced, or undefined when they match. */
export async function compareCell(
  turn: number,
  recorded: RecordedObservation,
  result: ExecutionResult,
  format: ReplayFormat,
  o: { timeoutMs: number; hasher: ImageHasher; maxHashDistance?: number },
): Promise<CellDiff | undefined> {
  const got = replayedText(result, format, o.timeoutMs);
  if (squash(got) !== squash(recorded.text)) return { turn, what: 'text', expected: show(recorded.text), got: show(got) };
  const mine = result.images.map((im) => Buffer.from(im.data, 'base64'));
  if (mine.length !== recorded.images.length)
    return { turn, what: 'image count', expected: String(recorded.images.length), got: String(mine.length) };
  for (let k = 0; k < mine.length; k++) {
    const [a, b] = await Promise.all([o.hasher.signature(recorded.images[k]), o.hasher.signature(mine[k])]);
    if (a.width !== b.width || a.height !== b.height)
      return { turn, what: 'image size', expected: `image ${k}: ${a.width}×${a.height}`, got: `${b.width}×${b.height}` };
    const d = hashDistance(a.hash, b.hash);
    if (d > (o.maxHashDistance ?? DEFAULT_MAX_HASH_DISTANCE))
      return { turn, what: 'image content', expected: `image ${k}: dhash ${a.hash}`, got: `dhash ${b.hash} (${d} of 64 bits differ)` };
  }
  return undefined;
}
