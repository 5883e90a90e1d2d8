/** JSON Lines datasets: one JSON object per line, streamed with readline (bounded memory). */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { DatasetRow } from './types';
import { DatasetError } from './types';

export async function* readJsonlRows(file: string, opts: { start?: number } = {}): AsyncGenerator<DatasetRow> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let index = 0;
  let lineNo = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      if (!line.trim()) continue;
      const i = index++;
      if (i < (opts.start ?? 0)) continue;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (e) {
        throw new DatasetError(`${file}:${lineNo}: not valid JSON (${(e as Error).message})`, file);
      }
      if (!row || typeof row !== 'object' || Array.isArray(row)) throw new DatasetError(`${file}:${lineNo}: each line must be a JSON object`, file);
      yield { index: i, row: row as Record<string, unknown> };
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
