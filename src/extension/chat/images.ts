/** Image files as the chat accepts them: by extension for pickers, by magic bytes for the data. */
import path from 'node:path';

export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'bmp'];

export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).slice(1).toLowerCase());
}

/** PNG/JPEG/GIF/BMP/WebP by their magic bytes (the file name can lie). */
export function sniffImage(b: Uint8Array): string | undefined {
  const s = (i: number, str: string) => [...str].every((c, k) => b[i + k] === c.charCodeAt(0));
  if (b[0] === 0x89 && s(1, 'PNG')) return 'image/png';
  if (b[0] === 0xff && b[1] === 0xd8) return 'image/jpeg';
  if (s(0, 'GIF8')) return 'image/gif';
  if (s(0, 'BM')) return 'image/bmp';
  if (s(0, 'RIFF') && s(8, 'WEBP')) return 'image/webp';
  return undefined;
}

/** width × height from the header, for PNG/GIF/JPEG (best effort, for the thumbnail caption). */
export function imageSize(b: Uint8Array): { width: number; height: number } | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  try {
    if (b[0] === 0x89) return { width: dv.getUint32(16), height: dv.getUint32(20) };
    if (b[0] === 0x47) return { width: dv.getUint16(6, true), height: dv.getUint16(8, true) };
    if (b[0] === 0xff && b[1] === 0xd8) {
      let i = 2;
      while (i < b.length) {
        if (b[i] !== 0xff) return undefined;
        const marker = b[i + 1];
        const len = dv.getUint16(i + 2);
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { height: dv.getUint16(i + 5), width: dv.getUint16(i + 7) };
        i += 2 + len;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}
