/**
 * Reading a large results file fast, for the report's summary (report.ts `loadRun`): the file in
 * large blocks, each line handed over as bytes with its offset, and a line's text without the
 * seed's `multi_modal_data` image payloads. Those payloads (every image of the sample, inline as
 * eval.py writes them) are most of a line's bytes; the summary never reads them, so they are
 * skipped over (a search for the next quote) rather than decoded and parsed. A line whose field
 * is not as JSON writes it is returned whole, to be parsed whole.
 */
import { open } from 'node:fs/promises';

const BLOCK = 8 * 1024 * 1024;

/**
 * Calls `onLine` with each line of `file` (without its newline) and the byte offset it starts
 * at; a last line without its newline (a kill mid-write leaves one) is passed too. The bytes are
 * a view into a buffer that is reused: copy what must outlive the call.
 */
export async function forEachLine(file: string, onLine: (buf: Buffer, start: number) => void, block = BLOCK): Promise<void> {
  const fh = await open(file, 'r');
  try {
    let buf = Buffer.allocUnsafe(block);
    let have = 0; // bytes in buf, from offset `base` of the file
    let base = 0;
    for (;;) {
      if (have === buf.length) {
        // a line longer than the buffer: make room for it
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, have);
        buf = bigger;
      }
      const { bytesRead } = await fh.read(buf, have, buf.length - have, base + have);
      const end = have + bytesRead;
      let from = 0;
      for (let i = bytesRead ? buf.indexOf(10, have) : -1; i >= 0 && i < end; i = buf.indexOf(10, from)) {
        onLine(buf.subarray(from, i), base + from);
        from = i + 1;
      }
      if (!bytesRead) {
        if (from < end) onLine(buf.subarray(from, end), base + from);
        return;
      }
      // the partial line at the end goes to the front
      buf.copy(buf, 0, from, end);
      base += from;
      have = end - from;
    }
  } finally {
    await fh.close();
  }
}

const KEY = Buffer.from('"multi_modal_data"');
const QUOTE = 34;
const BACKSLASH = 92;

/** the index after the string whose opening quote is at `i` (-1: no end) */
function skipString(b: Buffer, i: number): number {
  for (let q = b.indexOf(QUOTE, i + 1); q >= 0; q = b.indexOf(QUOTE, q + 1)) {
    let n = 0;
    while (b[q - 1 - n] === BACKSLASH) n++;
    if (n % 2 === 0) return q + 1;
  }
  return -1;
}

const isSpace = (c: number | undefined) => c === 32 || c === 9 || c === 10 || c === 13;

/** the index after the JSON value at `i` and the strings in it (-1: not a whole value) */
function skipValue(b: Buffer, i: number): { end: number; strings: number } {
  let depth = 0;
  let strings = 0;
  let j = i;
  while (j < b.length) {
    const c = b[j];
    if (c === QUOTE) {
      j = skipString(b, j);
      if (j < 0) return { end: -1, strings };
      strings++;
    } else {
      if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) depth--;
      else if (depth === 0 && (c === 44 || isSpace(c))) return { end: j, strings }; // after a bare number, true, null
      j++;
    }
    if (depth === 0 && (c === QUOTE || c === 125 || c === 93)) return { end: j, strings };
    if (depth < 0) return { end: -1, strings };
  }
  return { end: -1, strings };
}

/**
 * The line's text with the seed's `multi_modal_data` value replaced by `{"image":["",…]}` (as
 * many empty strings as the field had strings, less its key): what a summary needs, without the
 * images. The line as it is when the field is absent or not where JSON would have it.
 */
export function withoutSeedImages(line: Buffer): string {
  const k = line.indexOf(KEY);
  if (k < 0 || line[k - 1] === BACKSLASH) return line.toString('utf8');
  let i = k + KEY.length;
  while (isSpace(line[i])) i++;
  if (line[i] !== 58) return line.toString('utf8'); // not a key: the text of a string
  i++;
  while (isSpace(line[i])) i++;
  if (line[i] !== 123) return line.toString('utf8');
  const { end, strings } = skipValue(line, i);
  if (end < 0) return line.toString('utf8');
  const empties = Array.from({ length: Math.max(0, strings - 1) }, () => '""').join(',');
  return `${line.toString('utf8', 0, i)}{"image":[${empties}]}${line.toString('utf8', end)}`;
}
