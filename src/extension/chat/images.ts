/** Image files as the chat accepts them: by extension for pickers, by magic bytes (sniffImageMime) for the data. */
import path from 'node:path';
import { sniffImageMime } from '../../core/images/sniffImageMime';

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp'];

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).slice(1).toLowerCase());
}

/** width × height from the header, for PNG/GIF/JPEG (best effort, for the thumbnail caption). */
export function imageSize(b: Uint8Array): { width: number; height: number } | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const mime = sniffImageMime(b);
  try {
    if (mime === 'image/png') return { width: dv.getUint32(16), height: dv.getUint32(20) };
    if (mime === 'image/gif') return { width: dv.getUint16(6, true), height: dv.getUint16(8, true) };
    if (mime === 'image/jpeg') {
      let i = 2;
      while (i < b.length) {
        if (b[i] !== 0xff) return undefined;
        const marker = b[i + 1];
        const len = dv.getUint16(i + 2);
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
          return { height: dv.getUint16(i + 5), width: dv.getUint16(i + 7) };
        i += 2 + len;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}
