/**
 * A limit on the images of one model request. A run's history grows by every image its cells
 * return; past a few dozen a request is megabytes long and beyond what a server accepts (vLLM's
 * `--limit-mm-per-prompt`, a context window). Requests keep the question's own images (the
 * first user message) and the newest others; each image left out becomes a text note in its
 * place, so the model knows an image was there. The history itself (the trajectory) keeps them.
 */
import type { ChatMessage, ContentPart } from './types';

/** images one request carries at most, by default */
export const DEFAULT_MAX_REQUEST_IMAGES = 32;

/** The text that stands where an image was left out of a request. */
export function omittedImageNote(maxImages: number): string {
  return `[image not sent: a request carries at most ${maxImages} images, the question's and the newest ones; this one is older]`;
}

export interface LimitedRequest {
  /** the messages to send: `messages` itself when nothing was left out, else a copy (the input is never changed) */
  messages: ChatMessage[];
  /** how many images were left out */
  omitted: number;
}

const isImage = (p: ContentPart) => p.type === 'image_url';

/**
 * `messages` with at most `maxImages` images (0, negative or not finite: no limit): the images of
 * the first user message (the question) first, then the newest others; every other image is
 * replaced by `omittedImageNote`. When the question alone has more, its newest are kept.
 */
export function limitRequestImages(messages: ChatMessage[], maxImages: number = DEFAULT_MAX_REQUEST_IMAGES): LimitedRequest {
  if (!(maxImages > 0) || !Number.isFinite(maxImages)) return { messages, omitted: 0 };
  // every image, as [message index, part index], oldest first
  const all: Array<[number, number]> = [];
  messages.forEach((m, i) => {
    if (Array.isArray(m.content)) m.content.forEach((p, k) => isImage(p) && all.push([i, k]));
  });
  if (all.length <= maxImages) return { messages, omitted: 0 };
  const question = messages.findIndex((m) => m.role === 'user');
  const pinned = all.filter(([i]) => i === question);
  const others = all.filter(([i]) => i !== question);
  const keptPinned = pinned.slice(Math.max(0, pinned.length - maxImages));
  const room = maxImages - keptPinned.length;
  const kept = new Set([...keptPinned, ...(room > 0 ? others.slice(-room) : [])].map(([i, k]) => `${i}:${k}`));
  const note: ContentPart = { type: 'text', text: omittedImageNote(maxImages) };
  const out = [...messages];
  let omitted = 0;
  for (const [i, k] of all) {
    if (kept.has(`${i}:${k}`)) continue;
    const m = out[i];
    // copy a message (and its parts) the first time one of its images is replaced
    if (m === messages[i]) out[i] = { ...m, content: [...(m.content as ContentPart[])] } as ChatMessage;
    (out[i].content as ContentPart[])[k] = { ...note };
    omitted++;
  }
  return { messages: out, omitted };
}
