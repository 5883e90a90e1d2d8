/**
 * Export a trajectory as a Jupyter notebook (nbformat 4.5): markdown cells for the question and
 * the model's reasoning, code cells with their real outputs and images. A first setup cell
 * loads `input_image` from `input_image.png` (exact pixels) or `input_image.jpg` (saved beside the notebook by the CLI/panel), so
 * the notebook re-runs in Jupyter.
 */
import type { CodeCell, Trajectory } from './types';

interface NbCell {
  cell_type: 'markdown' | 'code';
  id: string;
  metadata: Record<string, unknown>;
  source: string[];
  attachments?: Record<string, Record<string, string>>;
  outputs?: unknown[];
  execution_count?: number | null;
}

function lines(text: string): string[] {
  if (!text) return [];
  const parts = text.split('\n');
  return parts.map((l, i) => (i < parts.length - 1 ? l + '\n' : l)).filter((l) => l !== '');
}

/** The assistant text with the code blocks that became code cells taken out. */
export function reasoningText(content: string): string {
  return content
    .replace(/<code>\s*```python[\s\S]*?```\s*<\/code>/g, '*(code below)*')
    .replace(/```python\s*\n[\s\S]*?\n```/g, '*(code below)*')
    .replace(/<\/?think>/g, '')
    .replace(/<answer>([\s\S]*?)<\/answer>/g, '**Answer:** $1')
    .trim();
}

function cellOutputs(cell: CodeCell): unknown[] {
  const out: unknown[] = [];
  if (cell.stdout) out.push({ output_type: 'stream', name: 'stdout', text: lines(cell.stdout) });
  if (cell.stderr) out.push({ output_type: 'stream', name: 'stderr', text: lines(cell.stderr) });
  for (const im of cell.images) {
    out.push({
      output_type: 'display_data',
      data: { [im.mime]: im.data, 'text/plain': [`<image ${im.width ?? '?'}x${im.height ?? '?'}>`] },
      metadata: {},
    });
  }
  if (cell.error) {
    out.push({
      output_type: 'error',
      ename: cell.error.ename,
      evalue: cell.error.evalue,
      traceback: cell.error.traceback.length ? cell.error.traceback : [`${cell.error.ename}: ${cell.error.evalue}`],
    });
  }
  if (cell.status === 'skipped') out.push({ output_type: 'stream', name: 'stderr', text: ['(not run: skipped by the user)\n'] });
  return out;
}

export function toNotebook(t: Trajectory): object {
  const cells: NbCell[] = [];
  let n = 0;
  const id = () => `cell-${n++}`;
  const qAttach: Record<string, Record<string, string>> = {};
  t.inputImages.forEach((im, i) => (qAttach[`input-${i}.png`] = { [im.mime]: im.data }));
  cells.push({
    cell_type: 'markdown',
    id: id(),
    metadata: {},
    source: lines(
      `## Question\n\n${t.question}\n\n${t.inputImages.map((_, i) => `![input ${i}](attachment:input-${i}.png)`).join('\n')}\n\n*Model* \`${t.model}\` · *protocol* \`${t.protocol}\` · ${t.createdAt}`,
    ),
    attachments: Object.keys(qAttach).length ? qAttach : undefined,
  });
  cells.push({
    cell_type: 'code',
    id: id(),
    metadata: { codedance: { setup: true } },
    source: lines(
      "# CodeDance setup: the question's image, as the model's code saw it.\n" +
        '# input_image.png holds its exact pixels; input_image.jpg is the file the code may open.\n' +
        'import os\nfrom PIL import Image\n' +
        "input_image = Image.open('input_image.png' if os.path.exists('input_image.png') else 'input_image.jpg').convert('RGB')",
    ),
    outputs: [],
    execution_count: null,
  });
  let count = 1;
  for (const turn of t.turns) {
    if (turn.discarded) continue;
    const text = reasoningText(turn.content);
    if (text) cells.push({ cell_type: 'markdown', id: id(), metadata: { codedance: { turn: turn.index } }, source: lines(text) });
    for (const c of turn.cells) {
      cells.push({
        cell_type: 'code',
        id: id(),
        // a format's own tool call (DeepEyes' zoom): its name, arguments and box kept beside the call's text
        metadata: { codedance: { turn: turn.index, status: c.status, durationMs: c.durationMs, ...(c.tool ? { tool: c.tool } : {}) } },
        source: lines(c.code),
        outputs: cellOutputs(c),
        execution_count: c.status === 'skipped' ? null : count++,
      });
    }
  }
  cells.push({
    cell_type: 'markdown',
    id: id(),
    metadata: {},
    source: lines(t.answer !== undefined ? `## Answer\n\n${t.answer}` : `## No answer\n\nThe run ended with status \`${t.status}\`.`),
  });
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      language_info: { name: 'python' },
      codedance: { trajectoryId: t.id, model: t.model, protocol: t.protocol, status: t.status },
    },
    cells,
  };
}
