/**
 * An image's type from its first bytes (its magic number), never from a file name or a label a
 * message carries: the one sniffer the chat, the conversation, the dataset viewer and the image
 * files all use. PNG, JPEG, WebP, GIF and BMP (what the chat accepts); anything else is undefined.
 */

export const IMAGE_MIMES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/bmp'] as const;
export type ImageMime = (typeof IMAGE_MIMES)[number];

const EXTENSIONS: Record<ImageMime, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'image/bmp': 'bmp',
};

/** How many leading bytes `sniffImageMime` reads at most. */
export const SNIFF_BYTES = 18;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** BITMAPCOREHEADER, BITMAPINFOHEADER, V2, V3, V4, V5: the DIB header sizes a BMP file can have */
const BMP_DIB_SIZES = [12, 40, 52, 56, 108, 124];

/** PNG, JPEG, WebP, GIF or BMP by the magic bytes; undefined for anything else. */
export function sniffImageMime(b: Uint8Array): ImageMime | undefined {
  const ascii = (at: number, s: string) => b.length >= at + s.length && [...s].every((c, k) => b[at + k] === c.charCodeAt(0));
  if (b.length >= 8 && PNG_SIGNATURE.every((x, k) => b[k] === x)) return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'image/webp';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'image/gif';
  // 'BM' alone starts plenty of text: the DIB header's size (little-endian, at 14) must be a known one
  if (ascii(0, 'BM') && b.length >= SNIFF_BYTES) {
    const dib = (b[14] | (b[15] << 8) | (b[16] << 16) | (b[17] << 24)) >>> 0;
    if (BMP_DIB_SIZES.includes(dib)) return 'image/bmp';
  }
  return undefined;
}

/** `sniffImageMime` of base64 data, decoding only its first bytes. */
export function sniffBase64ImageMime(b64: string): ImageMime | undefined {
  return sniffImageMime(Buffer.from(b64.slice(0, Math.ceil(SNIFF_BYTES / 3) * 4), 'base64'));
}

/** The usual file extension (no dot) of an image type: png, jpg, webp, gif, bmp. */
export function imageExtension(mime: ImageMime): string {
  return EXTENSIONS[mime];
}
