/**
 * The results file: one JSON line per finished sample, appended with a single write (no
 * user-space buffering) as each sample finishes, then fsynced in the background, so a run killed at any moment (SIGKILL) loses at
 * most the line being written. On resume a trailing partial line is cut off and every index
 * already present is skipped: each sample ends up in the file exactly once. A line that does
 * not fit on the disk is taken back (the file is cut to where it was) and a DiskFullError
 * thrown: the lines before it stay. Reading it for counts: resultsScan.ts (each index once).
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { rethrowDiskFull } from '../files/diskFull';

/** Cuts a trailing line without its newline (a write cut by a kill). Returns the bytes removed. */
export function repairTail(file: string): number {
  if (!existsSync(file)) return 0;
  const fd = openSync(file, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return 0;
    const chunk = 64 * 1024;
    let pos = size;
    const buf = Buffer.alloc(chunk);
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 10) return 0;
    while (pos > 0) {
      const start = Math.max(0, pos - chunk);
      const n = readSync(fd, buf, 0, pos - start, start);
      const i = buf.subarray(0, n).lastIndexOf(10);
      if (i >= 0) {
        const keep = start + i + 1;
        ftruncateSync(fd, keep);
        return size - keep;
      }
      pos = start;
    }
    ftruncateSync(fd, 0);
    return size;
  } finally {
    closeSync(fd);
  }
}

/**
 * JSON.parse, tolerating the bare `NaN`/`Infinity` tokens Python's json.dumps writes (the seed's
 * `judge_result.tool_success_rate` is NaN when there was no tool call): they become null.
 */
export function parseResultLine<T = unknown>(line: string): T {
  try {
    return JSON.parse(line) as T;
  } catch (e) {
    const fixed = line.replace(/([:,\[]\s*)(-?Infinity|NaN)(?=\s*[,}\]])/g, '$1null');
    if (fixed === line) throw e;
    return JSON.parse(fixed) as T;
  }
}

/** Streams the records of a results file (bad lines are skipped and counted). */
export async function* readResults<T = Record<string, unknown>>(file: string, onBad?: (line: number) => void): AsyncGenerator<T> {
  if (!existsSync(file)) return;
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    let r: T;
    try {
      r = parseResultLine<T>(line);
    } catch {
      onBad?.(n);
      continue;
    }
    yield r;
  }
}

/** The indexes already in the file (after repairing its tail). */
export async function finishedIndexes(file: string): Promise<Set<number>> {
  repairTail(file);
  const done = new Set<number>();
  for await (const r of readResults<{ index?: unknown }>(file)) if (typeof r.index === 'number') done.add(r.index);
  return done;
}

/**
 * Drops the lines of samples that ended in an error (not the skipped rows: their image does not
 * load, a rerun would not change that), so that a resume runs them again. The file is rewritten
 * to a temporary file and renamed over the original: a kill leaves one or the other, whole.
 * Returns how many were dropped.
 */
export async function dropErrored(file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  repairTail(file);
  const tmp = `${file}.retry-errors.tmp`;
  const fd = openSync(tmp, 'w');
  let dropped = 0;
  let ok = false;
  try {
    const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) {
      if (!line.trim()) continue;
      let r: { status?: string; codedance?: { skipped?: boolean } } | undefined;
      try {
        r = parseResultLine(line);
      } catch {
        r = undefined;
      }
      if (!r || (r.status === 'error' && !r.codedance?.skipped)) {
        dropped++;
        continue;
      }
      const buf = Buffer.from(line + '\n', 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    }
    fsyncSync(fd);
    ok = true;
  } catch (e) {
    rethrowDiskFull(e, file);
  } finally {
    closeSync(fd);
    // the results file itself is untouched until the rename
    if (!ok) rmSync(tmp, { force: true });
  }
  renameSync(tmp, file);
  return dropped;
}

export class ResultsWriter {
  private fd: number;
  constructor(
    readonly file: string,
    private readonly fsync = true,
  ) {
    this.fd = openSync(file, 'a');
  }
  /**
   * One line, one write call: in the OS's hands at once, so a killed process loses nothing
   * written. Then an fsync in the background (against power loss) that never blocks the event
   * loop; `close()` syncs once more.
   */
  append(record: unknown): void {
    const buf = Buffer.from(JSON.stringify(record) + '\n', 'utf8');
    const before = fstatSync(this.fd).size;
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      // a full disk mid-line: the part written is taken back, the lines before it stay
      if (off > 0) {
        try {
          ftruncateSync(this.fd, before);
        } catch {
          /* a cut line is cut off on resume (repairTail) */
        }
      }
      rethrowDiskFull(e, this.file, { bytes: buf.length });
    }
    if (this.fsync && !this.syncing) {
      this.syncing = true;
      fsync(this.fd, () => (this.syncing = false));
    }
  }
  private syncing = false;
  close(): void {
    if (this.fd < 0) return;
    if (this.fsync) {
      try {
        fsyncSync(this.fd);
      } catch {
        /* best effort */
      }
    }
    closeSync(this.fd);
    this.fd = -1;
  }
}
