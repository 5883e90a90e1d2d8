import * as assert from 'node:assert/strict';
import { IMAGE_MIMES, imageExtension, sniffBase64ImageMime, sniffImageMime } from '../../../src/core/images/sniffImageMime';
import { IMAGE_FORMAT_BASE64, imageFormatBytes } from '../../fixtures/imageFormats';

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

describe('images: sniffImageMime', () => {
  for (const mime of IMAGE_MIMES) {
    it(`knows ${mime} by its bytes, and from base64`, () => {
      assert.equal(sniffImageMime(imageFormatBytes(mime)), mime);
      assert.equal(sniffBase64ImageMime(IMAGE_FORMAT_BASE64[mime]), mime);
      // a Buffer, and a view into a larger buffer, read alike
      assert.equal(sniffImageMime(Buffer.from(imageFormatBytes(mime))), mime);
      const padded = new Uint8Array(imageFormatBytes(mime).length + 5);
      padded.set(imageFormatBytes(mime), 5);
      assert.equal(sniffImageMime(padded.subarray(5)), mime);
    });
  }

  it('file extensions', () => {
    assert.deepEqual(IMAGE_MIMES.map(imageExtension), ['png', 'jpg', 'webp', 'gif', 'bmp']);
  });

  it('is undefined for other data, look-alikes and cut-off headers', () => {
    const cases: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['text starting with BM', ascii('BMW 320i, 2011, 140000 km, one owner\n')],
      ['a WAV file (RIFF, not WEBP)', ascii('RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00')],
      ['GIF8 without the version', ascii('GIF8 is not a version')],
      ['PNG signature cut after 4 bytes', new Uint8Array([0x89, 0x50, 0x4e, 0x47])],
      ['PNG-like text', ascii('\x89PNG but not\r\n')],
      ['two bytes of JPEG', new Uint8Array([0xff, 0xd8])],
      ['a PDF', ascii('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n')],
      ['a zip', new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 0, 0])],
    ];
    for (const [what, bytes] of cases) assert.equal(sniffImageMime(bytes), undefined, what);
    assert.equal(sniffBase64ImageMime(''), undefined);
    assert.equal(sniffBase64ImageMime('not base64 at all'), undefined);
  });
});
