/**
 * JSON Lines datasets: one JSON object per line, streamed with readline (bounded memory).
 * Blank lines are not rows. A line that is not a JSON object is still a row (it keeps its
 * index) with `error` set, so that one bad line costs one sample, not the run.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { DatasetRow } from './types';

export async function* readJsonlRows(file: string, opts: { start?: number } = {}): AsyncGenerator<DatasetRow> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let index = 0;
  let lineNo = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      if (/^[ \t\r]*$/.test(line)) continue; // blank: the same test as countJsonlRows
      const i = index++;
      if (i < (opts.start ?? 0)) continue;
      yield parseJsonlLine(line, i, lineNo);
    }
  } finally {
    rl.close();
  }
}

/** Number of non-empty lines (rows). */
export async function countJsonlRows(file: string): Promise<number> {
  let n = 0;
  let inLine = false;
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on('data', (chunk) => {
        const b = chunk as Buffer;
        for (let i = 0; i < b.length; i++) {
          const c = b[i];
          if (c === 10) {
            if (inLine) n++;
            inLine = false;
          } else if (c !== 13 && c !== 32 && c !== 9) inLine = true;
        }
      })
      .on('error', reject)
      .on('end', () => resolve());
  });
  return n + (inLine ? 1 : 0);
}

/** One line as a row: a JSON object, or a row with `error` naming the line and the cause. */
export function parseJsonlLine(line: string, index: number, lineNo: number): DatasetRow {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch (e) {
    return { index, row: {}, error: `line ${lineNo} is not valid JSON (${(e as Error).message})` };
  }
  if (!row || typeof row !== 'object' || Array.isArray(row)) {
    const got = row === null ? 'null' : Array.isArray(row) ? 'an array' : `a ${typeof row}`;
    return { index, row: {}, error: `line ${lineNo} is ${got}, not a JSON object` };
  }
  return { index, row: row as Record<string, unknown> };
}
