/**
 * The images attached in the compose box: their bytes stay here, the panel gets thumbnails.
 * No `vscode`: a bad file is refused with the reason, which the caller shows.
 */
import { randomUUID } from 'node:crypto';
import { sniffImageMime } from '../../core/images/sniffImageMime';
import type { Attachment } from '../../protocol/chat';
import { imageSize } from './images';

const MAX_IMAGE_BYTES = 50 * 1024 * 1024;

export class Attachments {
  private items: (Attachment & { data: Uint8Array })[] = [];

  /** Adds an image; returns why it was refused, or undefined. */
  add(name: string, data: Uint8Array): string | undefined {
    const mime = sniffImageMime(data);
    if (!mime) return `${name} is not a readable image (not PNG, JPEG, GIF, BMP or WebP data).`;
    if (data.byteLength > MAX_IMAGE_BYTES) return `${name} is larger than ${MAX_IMAGE_BYTES / 1024 / 1024} MB.`;
    const thumb = `data:${mime};base64,${Buffer.from(data).toString('base64')}`;
    this.items.push({ id: randomUUID(), name, mime, bytes: data.byteLength, ...imageSize(data), thumb, data });
    return undefined;
  }

  remove(id: string): void {
    this.items = this.items.filter((a) => a.id !== id);
  }

  clear(): void {
    this.items = [];
  }

  /** the images' bytes, in the order attached */
  data(): Uint8Array[] {
    return this.items.map((a) => a.data);
  }

  /** what the panel shows */
  view(): Attachment[] {
    return this.items.map(({ data: _data, ...rest }) => rest);
  }
}
