/**
 * The chat's files through VS Code: an image opened full size or saved, the conversation
 * exported, a trajectory file opened ("Open in chat" from an eval report).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import type { Conversation } from '../../core/conversation/types';
import { imageExtension } from '../../core/images/sniffImageMime';
import { loadImages } from '../../core/trajectory/imageFiles';
import { migrateTrajectory } from '../../core/trajectory/migrate';
import type { Trajectory, TrajectoryImage } from '../../core/trajectory/types';
import { conversationNotebook, writeMarkdownExport } from './exportConversation';

function findImage(c: Conversation, index: number, imageId: string): TrajectoryImage | undefined {
  const t = c.exchanges[index];
  if (!t) return undefined;
  return (
    t.inputImages.find((i) => i.id === imageId) ??
    t.turns.flatMap((x) => x.cells.flatMap((cell) => cell.images)).find((i) => i.id === imageId)
  );
}

const extOf = (im: TrajectoryImage) => imageExtension(im.mime);

/**
 * Full size in an editor tab of VS Code's image preview (zoom with the wheel or a click, pan by
 * scrolling, 1:1 from its status bar item) from a file under the extension's storage.
 */
export async function openImage(
  storage: vscode.Uri,
  c: Conversation,
  index: number,
  imageId: string,
  column: vscode.ViewColumn = vscode.ViewColumn.Active,
): Promise<void> {
  const im = findImage(c, index, imageId);
  if (!im) return;
  const dir = vscode.Uri.joinPath(storage, 'images', c.id);
  await vscode.workspace.fs.createDirectory(dir);
  const file = vscode.Uri.joinPath(dir, `q${index}-${imageId.replace(/[^\w-]/g, '_')}.${extOf(im)}`);
  await vscode.workspace.fs.writeFile(file, Buffer.from(im.data, 'base64'));
  await openInImagePreview(file, column);
}

/** An image in VS Code's built-in image preview (a custom editor), in `column`, keeping the focus where it is. */
export async function openInImagePreview(file: vscode.Uri, column: vscode.ViewColumn): Promise<void> {
  await vscode.commands.executeCommand('vscode.openWith', file, 'imagePreview.previewEditor', {
    viewColumn: column,
    preview: true,
    preserveFocus: true,
  });
}

export async function saveImage(c: Conversation, index: number, imageId: string): Promise<void> {
  const im = findImage(c, index, imageId);
  if (!im) return;
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const target = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, `${imageId}.${extOf(im)}`) : undefined,
    filters: { Images: [extOf(im)] },
  });
  if (!target) return;
  await vscode.workspace.fs.writeFile(target, Buffer.from(im.data, 'base64'));
}

/** Asks where, writes the export; returns what to tell the user, or undefined when cancelled. */
export async function exportConversation(c: Conversation, format: 'ipynb' | 'markdown'): Promise<string | undefined> {
  if (!c.exchanges.length) return undefined;
  const ext = format === 'ipynb' ? 'ipynb' : 'md';
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const name = `${
    (c.title || 'codedance')
      .replace(/[^\w-]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 40) || 'codedance'
  }.${ext}`;
  const target = await vscode.window.showSaveDialog({
    defaultUri: base ? vscode.Uri.joinPath(base, name) : undefined,
    filters: format === 'ipynb' ? { Notebook: ['ipynb'] } : { Markdown: ['md'] },
  });
  if (!target) return undefined;
  if (format === 'ipynb') {
    await vscode.workspace.fs.writeFile(target, Buffer.from(JSON.stringify(conversationNotebook(c), null, 1)));
    return `Exported ${path.basename(target.fsPath)}.`;
  }
  const n = await writeMarkdownExport(c, target.fsPath);
  return `Exported ${path.basename(target.fsPath)} with ${n} image(s).`;
}

/**
 * A trajectory from a file path, a file Uri or the object itself: any schema this release reads,
 * or one made by hand without the optional parts (its messages are rebuilt when it is continued).
 * A file's `codedance-file:` images (`codedance ask` writes its trajectory.json so) are read from
 * its folder.
 */
export async function readTrajectoryArg(arg: unknown): Promise<Trajectory> {
  const file = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : undefined;
  const t = trajectoryOf(file === undefined ? arg : JSON.parse(await fs.readFile(file, 'utf8')));
  return file === undefined ? t : loadImages(t, path.dirname(file));
}

function trajectoryOf(raw: unknown): Trajectory {
  const t = raw as Partial<Trajectory> | null;
  if (!t || typeof t !== 'object' || !Array.isArray(t.turns) || typeof t.question !== 'string')
    throw new Error('not a CodeDance trajectory (expects question, turns, …)');
  if (typeof t.version === 'number') return migrateTrajectory({ ...t, messages: t.messages ?? [], inputImages: t.inputImages ?? [] });
  return {
    ...t,
    messages: t.messages ?? [],
    inputImages: t.inputImages ?? [],
    usage: t.usage ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
  } as Trajectory;
}
