/**
 * Conversations saved per workspace under the extension's storage folder (never in settings):
 *   <storage>/conversations/index.json              summaries, newest first
 *   <storage>/conversations/<id>/conversation.json  the trajectories, images replaced by file refs
 *   <storage>/conversations/<id>/images/<sha1>.png  each image once
 */
import { createHash, randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Trajectory } from '../../core/trajectory/types';
import type { ConversationSummary } from '../../webview/protocol';

export interface Conversation {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  exchanges: Trajectory[];
}

const FILE_REF = 'codedance-file:';

export function newConversation(title = ''): Conversation {
  const now = new Date().toISOString();
  return { id: randomUUID(), title, createdAt: now, updatedAt: now, exchanges: [] };
}

export class HistoryStore {
  readonly dir: string;
  constructor(storageDir: string) {
    this.dir = path.join(storageDir, 'conversations');
  }

  async list(): Promise<ConversationSummary[]> {
    try {
      const items = JSON.parse(await fs.readFile(path.join(this.dir, 'index.json'), 'utf8')) as ConversationSummary[];
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  private async writeIndex(items: ConversationSummary[]): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const tmp = path.join(this.dir, `index.json.${process.pid}.tmp`);
    await fs.writeFile(tmp, JSON.stringify(items, null, 1));
    await fs.rename(tmp, path.join(this.dir, 'index.json'));
  }

  async save(c: Conversation): Promise<void> {
    const dir = path.join(this.dir, c.id);
    const images = path.join(dir, 'images');
    await fs.mkdir(images, { recursive: true });
    const written = new Set<string>();
    const externalize = async (b64: string): Promise<string> => {
      // named by content; the extension from the bytes (a message may label PNG bytes image/jpeg)
      const ext = b64.startsWith('/9j/') ? 'jpg' : b64.startsWith('iVBOR') ? 'png' : 'bin';
      const name = `${createHash('sha1').update(b64).digest('hex')}.${ext}`;
      if (!written.has(name)) {
        written.add(name);
        const file = path.join(images, name);
        await fs.access(file).catch(() => fs.writeFile(file, Buffer.from(b64, 'base64')));
      }
      return FILE_REF + name;
    };
    const stored = await mapImages(structuredClone(c), externalize);
    const tmp = path.join(dir, `conversation.json.${process.pid}.tmp`);
    await fs.writeFile(tmp, JSON.stringify(stored));
    await fs.rename(tmp, path.join(dir, 'conversation.json'));
    const items = (await this.list()).filter((x) => x.id !== c.id);
    items.unshift({ id: c.id, title: c.title, updatedAt: c.updatedAt, exchanges: c.exchanges.length });
    await this.writeIndex(items);
  }

  async load(id: string): Promise<Conversation> {
    if (!/^[\w-]+$/.test(id)) throw new Error(`bad conversation id '${id}'`);
    const dir = path.join(this.dir, id);
    const c = JSON.parse(await fs.readFile(path.join(dir, 'conversation.json'), 'utf8')) as Conversation;
    return mapImages(c, async (ref) => {
      if (!ref.startsWith(FILE_REF)) return ref;
      const name = path.basename(ref.slice(FILE_REF.length));
      return (await fs.readFile(path.join(dir, 'images', name))).toString('base64');
    });
  }

  async rename(id: string, title: string): Promise<void> {
    const c = await this.load(id);
    c.title = title;
    await this.save(c);
  }

  async delete(id: string): Promise<void> {
    if (!/^[\w-]+$/.test(id)) throw new Error(`bad conversation id '${id}'`);
    await fs.rm(path.join(this.dir, id), { recursive: true, force: true });
    await this.writeIndex((await this.list()).filter((x) => x.id !== id));
  }
}

/**
 * Applies `fn` to every image payload of a conversation: TrajectoryImage.data (base64) and
 * data: URLs inside the model messages (the part after the comma).
 */
async function mapImages(c: Conversation, fn: (payload: string) => Promise<string>): Promise<Conversation> {
  for (const t of c.exchanges) {
    for (const im of t.inputImages) im.data = await fn(im.data);
    for (const turn of t.turns) for (const cell of turn.cells) for (const im of cell.images) im.data = await fn(im.data);
    for (const m of t.messages) {
      if (!Array.isArray(m.content)) continue;
      for (const part of m.content) {
        if (part.type !== 'image_url') continue;
        const url = part.image_url.url;
        const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
        if (match) part.image_url.url = `data:${match[1]};base64,${await fn(match[2])}`;
      }
    }
  }
  return c;
}
