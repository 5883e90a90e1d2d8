/**
 * A zip of a folder, for Ray's working_dir upload (`PUT /api/packages/gcs/NAME`). Deterministic
 * (sorted entries, a fixed timestamp), so the same folder gives the same bytes and the same
 * content-addressed package name: an unchanged working_dir is not uploaded twice.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { JobsError } from './errors';

/** Ray's default package cap of older releases (newer: 500 MiB); larger folders are refused before upload. */
export const MAX_PACKAGE_BYTES = 100 * 1024 * 1024;

/** Folders never worth uploading. */
export const DEFAULT_EXCLUDES = ['.git', 'node_modules', '__pycache__', '.venv', '.mypy_cache', '.pytest_cache'];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipEntry {
  /** forward-slash path inside the zip */
  name: string;
  data: Buffer;
  /** unix mode bits (keeps scripts executable) */
  mode?: number;
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

export function zipEntries(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const DOS_TIME = 0; // 00:00:00
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const deflated = deflateRawSync(e.data);
    const useDeflate = deflated.length < e.data.length;
    const body = useDeflate ? deflated : e.data;
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // flags: UTF-8 names
    local.writeUInt16LE(useDeflate ? 8 : 0, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: unix
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(useDeflate ? 8 : 0, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(0, 30); // extra
    central.writeUInt16LE(0, 32); // comment
    central.writeUInt16LE(0, 34); // disk
    central.writeUInt16LE(0, 36); // internal attrs
    central.writeUInt32LE((((e.mode ?? 0o644) | 0o100000) << 16) >>> 0, 38); // external attrs: unix mode
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
    if (offset > 0xffffffff) throw new JobsError('config', 'zip: more than 4 GiB (zip64 is not supported)');
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
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
  if (zip.length > max) throw new JobsError('config', `working_dir ${dir} zips to ${zip.length} bytes, over Ray's package limit of ${max}: exclude data and checkpoints`);
  return zip;
}

/** Ray's naming convention for uploaded working dirs: `_ray_pkg_<content hash>.zip`. */
export function rayPackageName(zip: Buffer): string {
  return `_ray_pkg_${createHash('sha1').update(zip).digest('hex').slice(0, 16)}.zip`;
}
