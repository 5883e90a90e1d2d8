/**
 * Writes a whole file or nothing: the bytes go to a new temporary file beside it (created
 * exclusively, never through an existing path), which is renamed over the target only once
 * complete. A full disk, a kill or any other failure leaves the target as it was (absent, or
 * its earlier version) and no temporary file behind; a full disk is thrown as DiskFullError.
 */
import { closeSync, openSync, promises as fs, renameSync, rmSync, fsyncSync, writeSync } from 'node:fs';
import path from 'node:path';
import { rethrowDiskFull } from './diskFull';

export interface AtomicWriteOptions {
  /** flush the bytes to disk before the rename (default false) */
  fsync?: boolean;
  /** permissions of a new file (default 0o666 less the umask) */
  mode?: number;
}

/** `.name.<pid>.<random>.tmp` beside `file`: hidden, and never a name a reader looks for */
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
}

export function writeFileAtomicSync(file: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): void {
  const tmp = tempName(file);
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    const fd = openSync(tmp, 'wx', o.mode);
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      if (o.fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    rethrowDiskFull(e, file, { bytes: buf.length });
  }
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, o: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempName(file);
  try {
    const fh = await fs.open(tmp, 'wx', o.mode);
    try {
      await fh.writeFile(data);
      if (o.fsync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    rethrowDiskFull(e, file, { bytes: typeof data === 'string' ? Buffer.byteLength(data) : data.length });
  }
}
