/**
 * Conversations saved per workspace under the extension's storage folder (never in settings):
 *   <storage>/conversations/<id>/conversation.json  the trajectories, images replaced by file refs,
 *                                                    each follow-up with only its own messages (core/conversation/storedHistory.ts)
 *   <storage>/conversations/<id>/images/<sha1>.png  each image once (trajectory/imageFiles.ts)
 *   <storage>/conversations/index.json              summaries, newest first: a cache of the folders
 *
 * The folders are the truth. Every `list()` checks the index against them: a folder the index
 * lacks is read and added (the index is new, or another window saved it), an entry whose folder
 * is gone is dropped. A missing index is rebuilt; a damaged one is kept aside as
 * `index.json.damaged-<time>` and rebuilt; a damaged `conversation.json` is kept aside the same
 * way in its folder (its images stay) and leaves the list. Each damaged file is reported, with
 * its new name, through the store's `onDamaged`.
 *
 * The operations of one store run one after another (one queue), and every file is written
 * whole (a temporary file renamed into place). Make one store per folder per extension host (the
 * chat's: its view, its editor tab and the exports share it); a writer outside that queue (a
 * second window sharing the global storage) costs no conversation either, since the next
 * `list()` puts back what its index write left out.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Conversation } from '../../core/conversation/types';
import { CodeDanceError } from '../../core/errors';
import { writeFileAtomic } from '../../core/files/atomicWrite';
import { joinHistory, shareHistory } from '../../core/conversation/storedHistory';
import { loadAllImages, storeAllImages } from '../../core/trajectory/imageFiles';
import { migrateTrajectory } from '../../core/trajectory/migrate';
import type { ConversationSummary } from '../../protocol/chat';

// the conversation model lives in core (src/core/conversation); the store only persists it
export type { Conversation } from '../../core/conversation/types';
export { newConversation } from '../../core/conversation/exchanges';

/** A history file that could not be read, found and kept aside under a new name. */
export interface HistoryDamage {
  what: 'index' | 'conversation';
  /** the conversation's id (`what: 'conversation'`) */
  id?: string;
  /** the conversation's title, when the index knows it */
  title?: string;
  /** the damaged file's new path */
  keptAs: string;
  /** why it cannot be read (the JSON parser's message, or the field that is wrong) */
  reason: string;
}

const INDEX = 'index.json';
const CONVERSATION = 'conversation.json';
const ID = /^[\w-]+$/;

function checkId(id: string): void {
  if (!ID.test(id)) throw new CodeDanceError('input', `bad conversation id '${id}'`);
}

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

/** `text` as JSON that `valid` accepts, or why not */
function parseAs<T>(text: string, valid: (v: unknown) => string | undefined): { value: T } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { reason: (e as Error).message };
  }
  const reason = valid(value);
  return reason ? { reason } : { value: value as T };
}

const isSummary = (x: unknown): boolean => {
  const s = x as Partial<ConversationSummary> | null;
  return (
    !!s &&
    typeof s.id === 'string' &&
    ID.test(s.id) &&
    typeof s.title === 'string' &&
    typeof s.updatedAt === 'string' &&
    typeof s.exchanges === 'number'
  );
};

function checkIndex(v: unknown): string | undefined {
  if (!Array.isArray(v)) return `not a list of conversations (${v === null ? 'null' : typeof v})`;
  const bad = v.findIndex((x) => !isSummary(x));
  return bad < 0 ? undefined : `entry ${bad} is not a conversation summary (id, title, updatedAt, exchanges)`;
}

function checkConversation(v: unknown): string | undefined {
  const c = v as Partial<Conversation> | null;
  if (!c || typeof c !== 'object') return `not a conversation (${c === null ? 'null' : typeof c})`;
  for (const key of ['id', 'title', 'updatedAt'] as const) if (typeof c[key] !== 'string') return `no ${key}`;
  return Array.isArray(c.exchanges) ? undefined : 'no exchanges';
}

/** an index entry: the summary, and the conversation file's mtime it was read from (a change by another window shows) */
type IndexEntry = ConversationSummary & { fileMs?: number };

const summaryOf = (c: Conversation, id = c.id): ConversationSummary => ({
  id,
  title: c.title,
  updatedAt: c.updatedAt,
  exchanges: c.exchanges.length,
});
/** the history's order: last updated first; the id decides between equal times (two windows saving at once may write in either order) */
const newestFirst = (a: ConversationSummary, b: ConversationSummary): number =>
  b.updatedAt.localeCompare(a.updatedAt) || a.id.localeCompare(b.id);

export class HistoryStore {
  readonly dir: string;
  /** the end of the queue every operation of this store waits its turn in */
  private tail: Promise<unknown> = Promise.resolve();

  /** `onDamaged`: told of each damaged file when it is found and kept aside (the chat words it for the user) */
  constructor(
    storageDir: string,
    private readonly onDamaged: (d: HistoryDamage) => void,
  ) {
    this.dir = path.join(storageDir, 'conversations');
  }

  /** Runs `fn` after every operation queued before it. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn);
    // the queue goes on after a failure; the failure itself reaches the caller through `run`
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The saved conversations, newest first (the index, checked against the folders). */
  list(): Promise<ConversationSummary[]> {
    return this.serial(async () => {
      const { items, changed } = await this.reconciled();
      if (changed) await this.writeIndex(items);
      return items.map(({ fileMs: _, ...summary }) => summary);
    });
  }

  async save(c: Conversation): Promise<void> {
    checkId(c.id);
    return this.serial(async () => {
      const dir = path.join(this.dir, c.id);
      const images = path.join(dir, 'images');
      await fs.mkdir(images, { recursive: true });
      // each image once, each follow-up with its own messages only (storedHistory.ts)
      const stored = { ...c, exchanges: shareHistory(await storeAllImages(c.exchanges, images)) };
      await writeFileAtomic(path.join(dir, CONVERSATION), JSON.stringify(stored));
      const fileMs = await this.fileMs(c.id);
      const { items } = await this.reconciled(c.id);
      await this.writeIndex([{ ...summaryOf(c), fileMs }, ...items.filter((x) => x.id !== c.id)]);
    });
  }

  async load(id: string): Promise<Conversation> {
    checkId(id);
    return this.serial(async () => {
      const dir = path.join(this.dir, id);
      const file = path.join(dir, CONVERSATION);
      const parsed = parseAs<Conversation>(await fs.readFile(file, 'utf8'), checkConversation);
      if ('reason' in parsed) {
        const index = await this.readIndex();
        const keptAs = await this.keepAside(file, {
          what: 'conversation',
          id,
          title: index?.find((x) => x.id === id)?.title,
          reason: parsed.reason,
        });
        if (index) await this.writeIndex(index.filter((x) => x.id !== id));
        throw new CodeDanceError('input', `the saved conversation ${id} is damaged (${parsed.reason}) and cannot be opened`, {
          fix: `its file was kept as ${keptAs}; its images are in ${path.join(dir, 'images')}`,
        });
      }
      // older schemas read as the current one (trajectory/migrate.ts); follow-ups share the earlier messages
      const exchanges = joinHistory(parsed.value.exchanges).map((t) => migrateTrajectory(t));
      return { ...parsed.value, exchanges: await loadAllImages(exchanges, path.join(dir, 'images')) };
    });
  }

  async rename(id: string, title: string): Promise<void> {
    const c = await this.load(id);
    c.title = title;
    await this.save(c);
  }

  async delete(id: string): Promise<void> {
    checkId(id);
    return this.serial(async () => {
      // renamed first, so no reader (list, load) ever sees half of it; the name is no conversation id
      const doomed = path.join(this.dir, `${id}.deleting-${randomBytes(4).toString('hex')}`);
      try {
        await fs.rename(path.join(this.dir, id), doomed);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e; // ENOENT: deleted already (another window), the index still follows
      }
      const { items } = await this.reconciled();
      await this.writeIndex(items.filter((x) => x.id !== id));
      await fs.rm(doomed, { recursive: true, force: true });
    });
  }

  // ----- the index, checked against the folders (run inside the queue) -----

  /**
   * The index without the entries whose folder is gone, plus a summary of each folder it lacks
   * (`skip`: a folder whose entry the caller writes itself). `changed`: differs from index.json.
   */
  private async reconciled(skip?: string): Promise<{ items: IndexEntry[]; changed: boolean }> {
    const index = await this.readIndex();
    const folders = await this.folders();
    let items: IndexEntry[] = (index ?? []).filter((x) => folders.has(x.id));
    let changed = items.length !== (index?.length ?? 0);
    // an entry another window wrote over (two windows saving at once): read again from its file
    const fresh = await Promise.all(items.map(async (x) => (x.id === skip ? x : await this.current(x))));
    if (fresh.some((x, i) => x !== items[i])) [items, changed] = [fresh, true];
    const known = new Set(items.map((x) => x.id));
    const found: ConversationSummary[] = [];
    for (const id of folders) {
      if (known.has(id) || id === skip) continue;
      const s = await this.readSummary(id);
      if (s) found.push(s);
    }
    if (found.length) {
      items = [...items, ...found].sort(newestFirst);
      changed = true;
    }
    return { items, changed };
  }

  /** `x`, or its summary read again when its file changed since `x` was read from it */
  private async current(x: IndexEntry): Promise<IndexEntry> {
    const ms = await this.fileMs(x.id);
    if (ms === undefined || ms === x.fileMs) return x;
    return (await this.readSummary(x.id)) ?? x;
  }

  /** the mtime of a conversation's file, ms; undefined when it has none */
  private async fileMs(id: string): Promise<number | undefined> {
    try {
      return (await fs.stat(path.join(this.dir, id, CONVERSATION))).mtimeMs;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined; // not written yet, or kept aside as damaged
      throw e;
    }
  }

  /** index.json's entries; undefined when it is missing, or damaged (then kept aside and reported) */
  private async readIndex(): Promise<ConversationSummary[] | undefined> {
    const file = path.join(this.dir, INDEX);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined; // none yet, or removed: rebuilt from the folders
      throw e;
    }
    const parsed = parseAs<ConversationSummary[]>(text, checkIndex);
    if ('value' in parsed) return parsed.value;
    await this.keepAside(file, { what: 'index', reason: parsed.reason });
    return undefined;
  }

  /** the ids that have a folder */
  private async folders(): Promise<Set<string>> {
    try {
      const entries = await fs.readdir(this.dir, { withFileTypes: true });
      return new Set(entries.filter((e) => e.isDirectory() && ID.test(e.name)).map((e) => e.name));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return new Set(); // nothing saved yet
      throw e;
    }
  }

  /** The summary of folder `id`'s conversation; undefined when it has none (yet), or a damaged one (kept aside and reported). */
  private async readSummary(id: string): Promise<IndexEntry | undefined> {
    const file = path.join(this.dir, id, CONVERSATION);
    let text: string;
    let fileMs: number | undefined;
    try {
      fileMs = await this.fileMs(id);
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      // ENOENT: a folder whose first save has not written its file (yet), or whose damaged file was kept aside
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw e;
    }
    const parsed = parseAs<Conversation>(text, checkConversation);
    if ('value' in parsed) return { ...summaryOf(parsed.value, id), fileMs };
    await this.keepAside(file, { what: 'conversation', id, reason: parsed.reason });
    return undefined;
  }

  /** Renames a damaged file to `<name>.damaged-<time>` beside it and reports it; returns the new path. */
  private async keepAside(file: string, d: Omit<HistoryDamage, 'keptAs'>): Promise<string> {
    const keptAs = `${file}.damaged-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await fs.rename(file, keptAs);
    this.onDamaged({ ...d, keptAs });
    return keptAs;
  }

  private async writeIndex(items: ConversationSummary[]): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path.join(this.dir, INDEX), JSON.stringify([...items].sort(newestFirst), null, 1));
  }
}
