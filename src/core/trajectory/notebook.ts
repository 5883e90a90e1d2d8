/**
 * Export a trajectory as a Jupyter notebook (nbformat 4.5): markdown cells for the question and
 * the model's reasoning, code cells with their real outputs and images. A first setup cell
 * binds `input_image`, so the notebook re-runs in Jupyter.
 *
 * Images inline (base64, the chat's export): the question's image is a cell attachment, each
 * output image a `display_data` PNG/JPEG, and the setup cell loads `input_image.png` (exact
 * pixels) or `input_image.jpg` from beside the notebook. Images stored as files beside it (a
 * `codedance-file:NAME` payload, as `codedance ask` writes its folder): each is referred to by
 * its relative path, never copied in — the question's as a Markdown image, an output as a
 * Markdown `display_data` — and the setup cell loads the question's image from its file and
 * writes `input_image.jpg` (the file the model's code may open) from it as the kernel did.
 */
import { FILE_REF } from './images';
import type { CodeCell, Trajectory, TrajectoryImage } from './types';

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

/** the file beside the notebook that holds `im` (a `codedance-file:` payload), or undefined when it is inline */
function fileOf(im: Pick<TrajectoryImage, 'data'>): string | undefined {
  return im.data.startsWith(FILE_REF) ? im.data.slice(FILE_REF.length) : undefined;
}

/** a relative link target: the name as a URL path (spaces and parentheses would end a Markdown link) */
const href = (name: string) => encodeURI(name).replace(/\(/g, '%28').replace(/\)/g, '%29');

function imageOutput(im: TrajectoryImage): unknown {
  const size = `${im.width ?? '?'}x${im.height ?? '?'}`;
  const file = fileOf(im);
  const data = file
    ? { 'text/markdown': [`![${im.id}](${href(file)})`], 'text/plain': [`<image ${size}: ${file}>`] }
    : { [im.mime]: im.data, 'text/plain': [`<image ${size}>`] };
  return { output_type: 'display_data', data, metadata: {} };
}

function cellOutputs(cell: CodeCell): unknown[] {
  const out: unknown[] = [];
  if (cell.stdout) out.push({ output_type: 'stream', name: 'stdout', text: lines(cell.stdout) });
  if (cell.stderr) out.push({ output_type: 'stream', name: 'stderr', text: lines(cell.stderr) });
  for (const im of cell.images) out.push(imageOutput(im));
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

/** The question's cell: its text, its images (attachments, or links to their files), the model and protocol. */
function questionCell(t: Trajectory, id: string): NbCell {
  const qAttach: Record<string, Record<string, string>> = {};
  const links = t.inputImages.map((im, i) => {
    const file = fileOf(im);
    if (file) return `![input ${i}](${href(file)})`;
    qAttach[`input-${i}.png`] = { [im.mime]: im.data };
    return `![input ${i}](attachment:input-${i}.png)`;
  });
  return {
    cell_type: 'markdown',
    id,
    metadata: {},
    source: lines(
      `## Question\n\n${t.question}\n\n${links.join('\n')}\n\n*Model* \`${t.model}\` · *protocol* \`${t.protocol}\` · ${t.createdAt}`,
    ),
    attachments: Object.keys(qAttach).length ? qAttach : undefined,
  };
}

/** The setup cell: `input_image` from the question's image file (and `input_image.jpg` made from it, as the kernel made it). */
function setupSource(t: Trajectory): string {
  const file = t.inputImages[0] && fileOf(t.inputImages[0]);
  if (file)
    return (
      "# CodeDance setup: the question's image, as the model's code saw it.\n" +
      `# ${file} holds its exact pixels; input_image.jpg (the file the code may open) is saved from it as the kernel saved it.\n` +
      'import os\nfrom PIL import Image\n' +
      `input_image = Image.open(${JSON.stringify(file)}).convert('RGB')\n` +
      "if not os.path.exists('input_image.jpg'):\n" +
      "    input_image.save('input_image.jpg')"
    );
  return (
    "# CodeDance setup: the question's image, as the model's code saw it.\n" +
    '# input_image.png holds its exact pixels; input_image.jpg is the file the code may open.\n' +
    'import os\nfrom PIL import Image\n' +
    "input_image = Image.open('input_image.png' if os.path.exists('input_image.png') else 'input_image.jpg').convert('RGB')"
  );
}

export function toNotebook(t: Trajectory): object {
  const cells: NbCell[] = [];
  let n = 0;
  const id = () => `cell-${n++}`;
  cells.push(questionCell(t, id()));
  cells.push({
    cell_type: 'code',
    id: id(),
    metadata: { codedance: { setup: true } },
    source: lines(setupSource(t)),
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
