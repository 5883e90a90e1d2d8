/**
 * A trajectory's images as files: `storeImages` writes each payload once into a folder, named by
 * content (`<sha1>.png|jpg|bin`), and returns a copy whose payloads are `codedance-file:` refs;
 * `loadImages` reads them back. Chat history and eval result records store trajectories this
 * way (each beside its JSON), so the JSON stays small and an image shared by many samples is on
 * disk once. A full disk throws DiskFullError and leaves no partial file.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CodeDanceError } from '../errors';
import { writeFileAtomic } from '../files/atomicWrite';
import { rethrowDiskFull } from '../files/diskFull';
import { imageExtension, sniffBase64ImageMime } from '../images/sniffImageMime';
import { FILE_REF, mapTrajectoryImages, type ImageWalk } from './images';
import type { Trajectory } from './types';

export interface StoreOptions {
  /** flush each new file to disk before it is renamed into place (default false) */
  fsync?: boolean;
  /** names already written in this folder (skips the existence check); filled as files are written */
  written?: Set<string>;
}

/** A copy of `t` with every image payload written to `dir` and replaced by its file ref. */
export async function storeImages(t: Trajectory, dir: string, o: StoreOptions = {}): Promise<Trajectory> {
  return mapTrajectoryImages(structuredClone(t), storer(dir, o));
}

/**
 * `storeImages` for the exchanges of a conversation at once: one copy of them all, so what they
 * share (a follow-up holds the earlier messages: the same objects) stays shared in it, and each
 * shared image is written, hashed and mapped once rather than once per exchange that holds it.
 */
export async function storeAllImages(ts: readonly Trajectory[], dir: string, o: StoreOptions = {}): Promise<Trajectory[]> {
  const copy = structuredClone(ts) as Trajectory[];
  const fn = storer(dir, o);
  const seen = new WeakSet<object>();
  for (const t of copy) await mapTrajectoryImages(t, fn, {}, seen);
  return copy;
}

/** payload → its file ref, each file written once (`refs`: payloads already stored, by content) */
function storer(dir: string, o: StoreOptions): (b64: string) => Promise<string> {
  const written = o.written ?? new Set<string>();
  const refs = new Map<string, string>();
  let made = false;
  return async (b64) => {
    if (b64.startsWith(FILE_REF)) return b64; // already stored
    const known = refs.get(b64);
    if (known) return known;
    // the extension from the bytes (a message may label PNG bytes image/jpeg)
    const mime = sniffBase64ImageMime(b64);
    const ext = mime ? imageExtension(mime) : 'bin';
    const name = `${createHash('sha1').update(b64).digest('hex')}.${ext}`;
    if (!written.has(name)) {
      const file = path.join(dir, name);
      const exists = await fs.access(file).then(
        () => true,
        () => false,
      );
      if (!exists) {
        if (!made) await fs.mkdir(dir, { recursive: true }).catch((e: unknown) => rethrowDiskFull(e, dir));
        made = true;
        // a temporary name, renamed when complete: a kill or a full disk never leaves a half image under the real name
        await writeFileAtomic(file, Buffer.from(b64, 'base64'), { fsync: o.fsync });
      }
      written.add(name);
    }
    refs.set(b64, FILE_REF + name);
    return FILE_REF + name;
  };
}

export interface LoadOptions extends ImageWalk {
  /** a referenced file that is missing: an error (default), or an empty payload */
  missing?: 'throw' | 'empty';
}

/** A copy of `t` with every file ref read back from `dir` as base64. */
export async function loadImages(t: Trajectory, dir: string, o: LoadOptions = {}): Promise<Trajectory> {
  return mapTrajectoryImages(structuredClone(t), loader(dir, o, t.id), o);
}

/**
 * `loadImages` for the exchanges of a conversation at once: one copy of them all (what they share
 * stays shared), each file read once, each shared image mapped once.
 */
export async function loadAllImages(ts: readonly Trajectory[], dir: string, o: LoadOptions = {}): Promise<Trajectory[]> {
  const copy = structuredClone(ts) as Trajectory[];
  const cache = new Map<string, string>();
  const seen = new WeakSet<object>();
  for (const t of copy) await mapTrajectoryImages(t, loader(dir, o, t.id, cache), o, seen);
  return copy;
}

/** file ref → base64 of its file in `dir` (`cache`: files read already, by name) */
function loader(dir: string, o: LoadOptions, id: string, cache = new Map<string, string>()): (payload: string) => Promise<string> {
  const read = async (name: string): Promise<string> => {
    const file = path.join(dir, path.basename(name));
    try {
      return (await fs.readFile(file)).toString('base64');
    } catch (e) {
      if (o.missing === 'empty') return '';
      throw new CodeDanceError(
        'input',
        `image ${file} of trajectory ${id} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        { fix: 'keep the images folder beside the file that refers to it', cause: e },
      );
    }
  };
  return async (payload) => {
    if (!payload.startsWith(FILE_REF)) return payload;
    const name = payload.slice(FILE_REF.length);
    let b64 = cache.get(name) ?? (await read(name));
    // Schema-1 chat history stored a message shared by two exchanges twice: the second time the
    // ref itself was decoded as base64 into a file, whose bytes re-encode to the first ref
    // (':' and '.' dropped, '-' read as '+', the last letter cut): follow it.
    const twice = /^codedance\+file([0-9a-f]{40})(pn|jp|bi)/.exec(b64);
    if (twice) b64 = await read(`${twice[1]}.${{ pn: 'png', jp: 'jpg', bi: 'bin' }[twice[2]]}`);
    cache.set(name, b64);
    return b64;
  };
}
