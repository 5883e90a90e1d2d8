/**
 * One file's bytes into the cache: `blobs/<etag>.incomplete`, resumed with an HTTP Range request
 * from what an earlier try left (a cut connection, a cancel, a window reload, a kill), checked
 * against the Hub's hash (the LFS sha256, or the git blob sha1 of a small file) and size, and
 * only then renamed to `blobs/<etag>`. Bytes that do not match are deleted and refused: no partial
 * or wrong file is ever taken for the blob. One download of a blob at a time across processes
 * (a lock file beside it, taken over when its process is gone).
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import { formatBytes, rethrowDiskFull } from '../files/diskFull';
import { HubError } from './errors';
import { hubError, type HubContext, type RemoteFile } from './hubCalls';

/** transient failures resumed in the same call before giving up (huggingface_hub's http_get retries 5 times too) */
const ATTEMPTS = 5;

export function newHash(file: RemoteFile): Hash {
  const h = createHash(file.hash === 'sha256' ? 'sha256' : 'sha1');
  // a git blob's id is the sha1 of "blob <size>\0" and the content
  if (file.hash === 'git-sha1') h.update(`blob ${file.size}\0`);
  return h;
}

/** The hash of a whole file on disk, for `file`'s kind of etag. */
export async function hashFile(p: string, file: RemoteFile, signal?: AbortSignal): Promise<string> {
  const h = newHash(file);
  for await (const chunk of createReadStream(p, { signal })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // ESRCH: gone
  }
};

/** Holds `<blob>.incomplete.lock` while `fn` runs; waits while another live process holds it. */
export async function withBlobLock<T>(
  blob: string,
  signal: AbortSignal | undefined,
  onWait: (pid: number) => void,
  fn: () => Promise<T>,
): Promise<T> {
  const lock = `${blob}.incomplete.lock`;
  let told = false;
  for (;;) {
    try {
      await fs.writeFile(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number((await fs.readFile(lock, 'utf8').catch(() => '')).trim()); // gone meanwhile: taken again at once
    if (!pid || pid === process.pid || !alive(pid)) {
      await fs.rm(lock, { force: true });
      continue;
    }
    if (!told) onWait(pid);
    told = true;
    if (signal?.aborted) throw new HubError('cancelled', `cancelled while waiting for process ${pid} to finish downloading ${blob}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

export interface BlobDownload {
  ctx: HubContext;
  file: RemoteFile;
  /** the URL of its bytes (hubCalls.fileUrl) */
  url: () => Promise<string>;
  blob: string;
  /** bytes of this file so far */
  onBytes: (bytes: number) => void;
}

/** What `<blob>.incomplete` holds: its length and the hash of its bytes so far. */
interface Partial {
  have: number;
  hash: Hash;
}

/** The bytes already in `<blob>.incomplete`, hashed (a file longer than the blob cannot be a prefix of it: cleared). */
async function resumeFrom(incomplete: string, d: BlobDownload): Promise<Partial> {
  const hash = newHash(d.file);
  const have = await fs.stat(incomplete).then(
    (s) => s.size,
    () => 0, // none: start at 0
  );
  if (have === 0 || have > d.file.size) {
    await fs.rm(incomplete, { force: true });
    return { have: 0, hash };
  }
  for await (const chunk of createReadStream(incomplete, { signal: d.ctx.signal })) hash.update(chunk as Buffer);
  return { have, hash };
}

/** GET with `Range: bytes=<from>-`; the token goes only to the Hub's own origin (fetch drops it on a redirect to another one, the CDN). */
async function rangedGet(d: BlobDownload, url: string, from: number): Promise<Response> {
  const sameOrigin = new URL(url).origin === new URL(d.ctx.settings.endpoint).origin;
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (from > 0) headers.range = `bytes=${from}-`;
  if (sameOrigin && d.ctx.settings.token) headers.authorization = `Bearer ${d.ctx.settings.token}`;
  const r = await fetch(url, { headers, signal: d.ctx.signal });
  if (!r.ok) {
    await r.body?.cancel();
    throw hubError(new Error(`HTTP ${r.status}`), d.ctx, d.file.path, {
      status: r.status,
      errorCode: r.headers.get('x-error-code') ?? undefined,
    });
  }
  return r;
}

/** One try: appends the rest of the file to `incomplete`, `p` following every byte written (so a cut try leaves it true). */
async function appendRest(d: BlobDownload, incomplete: string, p: Partial): Promise<void> {
  const r = await rangedGet(d, await d.url(), p.have);
  // a server that ignores Range sends the whole file again: start over
  if (p.have > 0 && r.status !== 206) {
    p.have = 0;
    p.hash = newHash(d.file);
  }
  const fh = await fs.open(incomplete, p.have === 0 ? 'w' : 'a');
  try {
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      await fh.write(chunk);
      p.hash.update(chunk);
      p.have += chunk.length;
      d.onBytes(p.have);
      if (p.have > d.file.size) break;
    }
  } finally {
    await fh.close();
  }
}

/** Downloads `d.file` to `d.blob`, resuming and checking it; the blob exists only when it matches. */
export async function downloadBlob(d: BlobDownload): Promise<void> {
  const incomplete = `${d.blob}.incomplete`;
  const p = await resumeFrom(incomplete, d);
  d.onBytes(p.have);
  if (d.file.size === 0) await fs.writeFile(incomplete, '');
  for (let attempt = 1; p.have < d.file.size; attempt++) {
    try {
      await appendRest(d, incomplete, p);
      if (p.have < d.file.size && attempt >= ATTEMPTS)
        throw new HubError('network', `the transfer of ${d.file.path} ended early ${ATTEMPTS} times`, { fix: 'try again later' });
    } catch (e) {
      // the disk (a full one above all), not the network
      if ((e as NodeJS.ErrnoException).syscall) rethrowDiskFull(e, incomplete, { bytes: d.file.size });
      const err = e instanceof HubError ? e : hubError(e, d.ctx, d.file.path);
      if (err.code !== 'network' || attempt >= ATTEMPTS) throw kept(err, p.have, d);
    }
  }
  await verifyAndKeep(d, incomplete, p.hash.digest('hex'), p.have);
}

function kept(e: HubError, have: number, d: BlobDownload): HubError {
  if (e.code !== 'network' && e.code !== 'cancelled') return e;
  if (!have) return e;
  const note = `${formatBytes(have)} of ${formatBytes(d.file.size)} of ${d.file.path} are kept: run it again to resume`;
  return new HubError(e.code, `${e.reason}; ${note}`, { fix: e.fix, cause: e.cause });
}

async function verifyAndKeep(d: BlobDownload, incomplete: string, digest: string, have: number): Promise<void> {
  if (have !== d.file.size || digest !== d.file.etag) {
    await fs.rm(incomplete, { force: true });
    const what =
      have !== d.file.size
        ? `${have} bytes arrived where the Hub says ${d.file.size}`
        : `its ${d.file.hash} is ${digest}, the Hub's is ${d.file.etag}`;
    throw new HubError('integrity', `refused ${d.file.path} of ${d.ctx.repo.type}s/${d.ctx.repo.id}: ${what}; the download was deleted`, {
      fix: 'run it again to download it anew; if it fails again, the mirror (HF_ENDPOINT) or a proxy alters the file',
    });
  }
  await fs.rename(incomplete, d.blob);
}
