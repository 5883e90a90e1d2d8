/**
 * A zip of a folder, for Ray's working_dir upload (`PUT /api/packages/gcs/NAME`). Deterministic
 * (sorted entries, a fixed timestamp), so the same folder gives the same bytes and the same
 * content-addressed package name: an unchanged working_dir is not uploaded twice.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { deflateSync, Zip, ZipPassThrough } from 'fflate';
import { JobsError } from './errors';

/** Ray's default package cap of older releases (newer: 500 MiB); larger folders are refused before upload. */
export const MAX_PACKAGE_BYTES = 100 * 1024 * 1024;

/** Folders never worth uploading. */
export const DEFAULT_EXCLUDES = ['.git', 'node_modules', '__pycache__', '.venv', '.mypy_cache', '.pytest_cache'];

/** Every entry's timestamp: 1980-01-01 00:00:00, the earliest a zip can hold (DOS time is local, without a zone). */
const ZIP_EPOCH = new Date(1980, 0, 1, 0, 0, 0);
/** PKZIP "version made by" high byte: Unix, so the external attributes carry the mode bits. */
const OS_UNIX = 3;
const S_IFREG = 0o100000;
/** no zip64: a larger archive's offsets would not fit */
const MAX_ZIP_BYTES = 0xffffffff;

export interface ZipEntry {
  /** forward-slash path inside the zip */
  name: string;
  data: Uint8Array;
  /** unix mode bits (keeps scripts executable) */
  mode?: number;
}

/**
 * One entry whose compressed body is already made: deflated when that is smaller, else stored.
 * fflate's documented way to bring one's own compression: `push()` gets the original bytes (for
 * the CRC and size), `process()` emits the body.
 */
class PreparedEntry extends ZipPassThrough {
  constructor(
    e: ZipEntry,
    private readonly body: Uint8Array,
    deflated: boolean,
  ) {
    super(e.name);
    this.compression = deflated ? 8 : 0;
    this.os = OS_UNIX;
    this.attrs = (((e.mode ?? 0o644) | S_IFREG) << 16) >>> 0;
    this.mtime = ZIP_EPOCH;
  }

  protected override process(_chunk: Uint8Array, final: boolean): void {
    // fflate types its output chunks as ArrayBuffer-backed; it only copies them into the archive
    this.ondata(null, this.body as Uint8Array<ArrayBuffer>, final);
  }
}

/** A zip of `entries`, in the order given (fflate writes it; the same entries give the same bytes). */
export function zipEntries(entries: readonly ZipEntry[]): Buffer {
  const chunks: Uint8Array[] = [];
  let size = 0;
  // fflate calls back synchronously here (no workers): an error thrown in it ends zipEntries
  const zip = new Zip((err, chunk) => {
    if (err) throw new JobsError('config', `zip: ${err.message}`);
    chunks.push(chunk);
    size += chunk.length;
    if (size > MAX_ZIP_BYTES) throw new JobsError('config', 'zip: more than 4 GiB (zip64 is not supported)');
  });
  for (const e of entries) {
    const deflated = deflateSync(e.data, { level: 6 });
    const useDeflate = deflated.length < e.data.length;
    const file = new PreparedEntry(e, useDeflate ? deflated : e.data, useDeflate);
    zip.add(file);
    file.push(e.data, true);
  }
  zip.end();
  return Buffer.concat(chunks);
}

/** Lists the files of `dir` (sorted, relative, forward slashes), skipping `excludes` folder names. */
export function listFiles(dir: string, excludes: readonly string[] = DEFAULT_EXCLUDES): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(path.join(dir, r));
      if (st.isDirectory()) {
        if (!excludes.includes(name)) walk(r);
      } else if (st.isFile()) out.push(r);
    }
  };
  walk('');
  return out;
}

/** Zips a folder; throws when it would exceed `maxBytes` (checked on the raw size first, cheaply). */
export function zipDirectory(dir: string, opts: { excludes?: readonly string[]; maxBytes?: number } = {}): Buffer {
  const max = opts.maxBytes ?? MAX_PACKAGE_BYTES;
  const files = listFiles(dir, opts.excludes);
  const entries: ZipEntry[] = [];
  let raw = 0;
  for (const f of files) {
    const p = path.join(dir, f);
    const data = readFileSync(p);
    raw += data.length;
    if (raw > max * 4) throw new JobsError('config', `working_dir ${dir} is larger than ${max * 4} bytes: exclude data and checkpoints`);
    entries.push({ name: f, data, mode: statSync(p).mode & 0o777 });
  }
  const zip = zipEntries(entries);
  if (zip.length > max)
    throw new JobsError(
      'config',
      `working_dir ${dir} zips to ${zip.length} bytes, over Ray's package limit of ${max}: exclude data and checkpoints`,
    );
  return zip;
}

/** Ray's naming convention for uploaded working dirs: `_ray_pkg_<content hash>.zip`. */
export function rayPackageName(zip: Buffer): string {
  return `_ray_pkg_${createHash('sha1').update(zip).digest('hex').slice(0, 16)}.zip`;
}
