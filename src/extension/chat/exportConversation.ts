/**
 * Export of a conversation: .ipynb through the core exporter (one notebook; each question's
 * cells in order, with ids made unique) and Markdown with its images written beside it.
 * Nothing secret is in a trajectory (API keys never enter it), so nothing is filtered.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { imageExtension, type ImageMime } from '../../core/images/sniffImageMime';
import { reasoningText, toNotebook } from '../../core/trajectory/notebook';
import type { Conversation } from './historyStore';

interface Nb {
  cells: { id?: string }[];
  metadata: Record<string, unknown>;
}

export function conversationNotebook(c: Conversation): object {
  const books = c.exchanges.map((t) => toNotebook(t) as Nb);
  if (books.length === 1) return books[0];
  const first = books[0];
  const cells = books.flatMap((b, i) => b.cells.map((cell) => ({ ...cell, id: `q${i}-${cell.id ?? ''}` })));
  return { ...first, cells, metadata: { ...first.metadata, codedance: { conversationId: c.id, title: c.title, questions: books.length } } };
}

const fence = (text: string, lang = '') => {
  const ticks = /```/.test(text) ? '~~~~' : '```';
  return `${ticks}${lang}\n${text.replace(/\n$/, '')}\n${ticks}`;
};

/** Writes `file` (Markdown) and `<name>_images/` beside it; returns the number of images written. */
export async function writeMarkdownExport(c: Conversation, file: string): Promise<number> {
  const imagesDirName = `${path.basename(file, path.extname(file))}_images`;
  const imagesDir = path.join(path.dirname(file), imagesDirName);
  let count = 0;
  const out: string[] = [`# ${c.title || 'CodeDance conversation'}`, '', `*${c.createdAt}*`, ''];
  const image = async (im: { id: string; mime: ImageMime; data: string }, prefix: string) => {
    await fs.mkdir(imagesDir, { recursive: true });
    const name = `${prefix}-${im.id}.${imageExtension(im.mime)}`.replace(/[^\w.-]/g, '_');
    await fs.writeFile(path.join(imagesDir, name), Buffer.from(im.data, 'base64'));
    count++;
    return `![${im.id}](${encodeURI(`${imagesDirName}/${name}`)})`;
  };
  for (const [i, t] of c.exchanges.entries()) {
    out.push(`## Question ${i + 1}`, '', t.question, '');
    for (const im of t.inputImages) out.push(await image(im, `q${i}`), '');
    out.push(
      `*Model* \`${t.model}\` · *protocol* \`${t.protocol}\` · ${t.status} · ${t.usage.totalTokens} tokens · ${(t.durationMs / 1000).toFixed(1)} s`,
      '',
    );
    for (const turn of t.turns) {
      if (turn.discarded) continue;
      const text = reasoningText(turn.content);
      if (text) out.push(`### Turn ${turn.index + 1}`, '', text, '');
      for (const cell of turn.cells) {
        out.push(fence(cell.code, 'python'), '');
        out.push(`*${cell.status}${cell.durationMs !== undefined ? ` in ${(cell.durationMs / 1000).toFixed(2)} s` : ''}*`, '');
        if (cell.stdout) out.push('stdout:', '', fence(cell.stdout), '');
        if (cell.stderr) out.push('stderr:', '', fence(cell.stderr), '');
        if (cell.error) out.push(`Error: \`${cell.error.ename}: ${cell.error.evalue}\``, '');
        for (const im of cell.images) out.push(await image(im, `q${i}`), '');
      }
    }
    out.push(t.answer !== undefined ? `**Answer:** ${t.answer}` : `*No answer (${t.status}).*`, '');
  }
  await fs.writeFile(file, out.join('\n'));
  return count;
}
