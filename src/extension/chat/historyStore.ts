/**
 * Conversations saved per workspace under the extension's storage folder (never in settings):
 *   <storage>/conversations/index.json              summaries, newest first
 *   <storage>/conversations/<id>/conversation.json  the trajectories, images replaced by file refs
 *   <storage>/conversations/<id>/images/<sha1>.png  each image once (trajectory/imageFiles.ts)
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Conversation } from '../../core/conversation/types';
import { loadImages, storeImages } from '../../core/trajectory/imageFiles';
import { migrateTrajectory } from '../../core/trajectory/migrate';
import type { Trajectory } from '../../core/trajectory/types';
import type { ConversationSummary } from '../../webview/protocol';

// the conversation model lives in core (src/core/conversation); the store only persists it
export type { Conversation } from '../../core/conversation/types';
export { newConversation } from '../../core/conversation/exchanges';

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
    const stored: Conversation = { ...c, exchanges: [] };
    for (const t of c.exchanges) stored.exchanges.push(await storeImages(t, images, { written }));
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
    // older schemas read as the current one (trajectory/migrate.ts)
    const exchanges: Trajectory[] = [];
    for (const t of c.exchanges) exchanges.push(await loadImages(migrateTrajectory(t), path.join(dir, 'images')));
    return { ...c, exchanges };
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
