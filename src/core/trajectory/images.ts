/**
 * Every image payload of a trajectory, in one walk: the input images, each cell's output
 * images, and the `data:` URLs inside the model messages. Storage (imageFiles.ts) swaps the
 * payloads for file references and back; the report inlines them for its webview. No node
 * built-ins here (the webviews may use it).
 */
import type { ContentPart } from '../protocol/types';
import type { Trajectory, TrajectoryImage } from './types';

/** A stored image payload: `codedance-file:<sha1>.<ext>`, the file being in the images folder beside the JSON. */
export const FILE_REF = 'codedance-file:';

export interface ImageWalk {
  /** also the images inside `messages` (default true) */
  messages?: boolean;
}

export type ImagePayloadFn = (payload: string, mime: string) => Promise<string> | string;

/**
 * Replaces each image payload of `t` in place with `fn(payload, mime)` (base64 or a file ref,
 * never a `data:` prefix) and returns `t`. An object met twice (messages shared between the
 * exchanges of a conversation) is mapped once.
 */
export async function mapTrajectoryImages(
  t: Trajectory,
  fn: ImagePayloadFn,
  walk: ImageWalk = {},
  seen = new WeakSet<object>(),
): Promise<Trajectory> {
  const image = async (im: TrajectoryImage) => {
    if (seen.has(im)) return;
    seen.add(im);
    im.data = await fn(im.data, im.mime);
  };
  for (const im of t.inputImages) await image(im);
  for (const turn of t.turns) for (const cell of turn.cells) for (const im of cell.images) await image(im);
  if (walk.messages === false) return t;
  for (const m of t.messages) {
    if (!Array.isArray(m.content)) continue;
    for (const part of m.content as ContentPart[]) {
      if (part.type !== 'image_url' || seen.has(part)) continue;
      seen.add(part);
      const match = /^data:([^;,]+);base64,(.*)$/s.exec(part.image_url.url);
      if (match) part.image_url.url = `data:${match[1]};base64,${await fn(match[2], match[1])}`;
    }
  }
  return t;
}

/** The image as a `data:` URL (for an `<img src>`), from its inline base64 payload. */
export function imageDataUrl(im: Pick<TrajectoryImage, 'mime' | 'data'>): string {
  return `data:${im.mime};base64,${im.data}`;
}

/**
 * A copy of `t` whose payloads `files` names (payload → the name of a file beside the JSON that
 * holds exactly those bytes) are `codedance-file:` refs to those files; every other payload stays
 * inline, so the copy never refers to a file that was not written.
 */
export function referToFiles(t: Trajectory, files: ReadonlyMap<string, string>): Promise<Trajectory> {
  return mapTrajectoryImages(structuredClone(t), (b64) => {
    const name = files.get(b64);
    return name ? FILE_REF + name : b64;
  });
}
