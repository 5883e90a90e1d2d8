/**
 * A run folder (the folder a trainer ran in) picked to show: its newest log, in it or in its
 * `logs/` (the seed's launch writes `logs/run_<date>_release_test.log`).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

const LOG_NAME = /\.(log|out|txt)$/i;

/** The newest log file of a run folder: in it, or in its `logs/`. */
export function newestLog(dir: string): string | undefined {
  const found: { file: string; mtime: number }[] = [];
  for (const d of [dir, path.join(dir, 'logs')]) {
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      const file = path.join(d, name);
      if (!LOG_NAME.test(name)) continue;
      const st = statSync(file);
      if (st.isFile()) found.push({ file, mtime: st.mtimeMs });
    }
  }
  return found.sort((a, b) => b.mtime - a.mtime)[0]?.file;
}
