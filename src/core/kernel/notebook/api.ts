/**
 * The part of the Jupyter extension's public kernel API (ms-toolsai.jupyter, `@vscode/jupyter-extension`
 * api.d.ts: `Kernel`, `Output`, `OutputItem`, `KernelStatus`) that a notebook kernel session
 * uses, as structural types so that src/core needs no `vscode`. src/extension checks that the
 * real `Kernel` is assignable to `NotebookKernelLike` (notebookKernels.ts).
 *
 * What comes out of `executeCode` is what the extension shows in a notebook cell
 * (vscode-jupyter src/kernels/execution/helpers.ts `cellOutputToVSCCellOutput`): a stream is one
 * item of `application/vnd.code.notebook.stdout|stderr` (UTF-8), an error one item of
 * `application/vnd.code.notebook.error` (JSON {name, message, stack}), a display the items of its
 * mime bundle (images as raw bytes, JSON as its text) with the Jupyter metadata under
 * `metadata.metadata`. `outputToMessage` turns each back into the Jupyter message it came from,
 * so that the collector and classification of the other kernels read it unchanged.
 */
import type { JupyterMessage } from '../wire';

export type NotebookKernelStatus = 'unknown' | 'starting' | 'idle' | 'busy' | 'terminating' | 'restarting' | 'autorestarting' | 'dead';

export interface NotebookOutputItem {
  mime: string;
  data: Uint8Array;
}

export interface NotebookOutput {
  items: NotebookOutputItem[];
  metadata?: { [key: string]: any };
}

/** `Kernel` of the Jupyter extension's API, with its cancellation token left opaque (`T`). */
export interface NotebookKernelLike<T> {
  readonly status: NotebookKernelStatus;
  readonly language: string;
  onDidChangeStatus(listener: (s: NotebookKernelStatus) => unknown): { dispose(): unknown };
  executeCode(code: string, token: T): AsyncIterable<NotebookOutput>;
}

/** a `CancellationTokenSource` of the editor (structurally) */
export interface CancellationSourceLike<T> {
  readonly token: T;
  cancel(): void;
  dispose(): void;
}

export const STDOUT_MIMES = ['application/vnd.code.notebook.stdout', 'application/x.notebook.stream.stdout'];
export const STDERR_MIMES = ['application/vnd.code.notebook.stderr', 'application/x.notebook.stream.stderr'];
export const ERROR_MIME = 'application/vnd.code.notebook.error';

const utf8 = new TextDecoder();

function message(msgType: string, content: Record<string, any>, metadata: Record<string, any> = {}): JupyterMessage {
  return {
    identities: [],
    header: { msg_id: '', msg_type: msgType, session: '', username: '', date: '', version: '5.3' },
    parent_header: {},
    metadata,
    content,
    buffers: [],
  };
}

/** a mime bundle's value as Jupyter holds it: base64 for images, parsed JSON, else text */
function bundleValue(item: NotebookOutputItem): unknown {
  const { mime, data } = item;
  if (mime.startsWith('image/') && mime !== 'image/svg+xml') return Buffer.from(data).toString('base64');
  const text = utf8.decode(data);
  if (mime === 'application/json' || mime.endsWith('+json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** An error output as Jupyter's error message: the kernel's own error when the output keeps it, else the JS-style error the item holds. */
function errorMessage(output: NotebookOutput, item: NotebookOutputItem): JupyterMessage {
  const original = output.metadata?.originalError as { ename?: string; evalue?: string; traceback?: string[] } | undefined;
  const text = utf8.decode(item.data);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (not the Jupyter extension's form): handled below, its text becoming the message
  }
  const e: { name?: string; message?: string; stack?: string } = parsed && typeof parsed === 'object' ? parsed : { message: text.trim() };
  const traceback = Array.isArray(original?.traceback) ? original!.traceback.map(String) : (e.stack ?? '').split('\n').filter(Boolean);
  return message('error', { ename: original?.ename ?? e.name ?? 'Error', evalue: original?.evalue ?? e.message ?? '', traceback });
}

/** The Jupyter message (stream, error, display_data or execute_result) an output came from. */
export function outputToMessage(output: NotebookOutput): JupyterMessage | undefined {
  const items = output.items ?? [];
  if (!items.length) return undefined;
  const first = items[0];
  if (STDOUT_MIMES.includes(first.mime) || STDERR_MIMES.includes(first.mime)) {
    const name = STDERR_MIMES.includes(first.mime) ? 'stderr' : 'stdout';
    return message('stream', { name, text: items.map((i) => utf8.decode(i.data)).join('') });
  }
  if (first.mime === ERROR_MIME) return errorMessage(output, first);
  const data: Record<string, unknown> = {};
  for (const item of items) data[item.mime] = bundleValue(item);
  const type = output.metadata?.outputType === 'execute_result' ? 'execute_result' : 'display_data';
  return message(type, { data, metadata: (output.metadata?.metadata as Record<string, unknown>) ?? {} });
}
