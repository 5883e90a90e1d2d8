/**
 * The kernels of open notebooks, through the Jupyter extension's public API
 * (`@vscode/jupyter-extension`: `jupyter.kernels.getKernel(uri)` returns the kernel the user
 * started for an open notebook). When that extension is not installed there is nothing to offer
 * and nothing is said. The first use makes the Jupyter extension ask the user whether CodeDance
 * may use its kernels.
 */
import * as vscode from 'vscode';
import type { Jupyter, Kernel } from '@vscode/jupyter-extension';
import type { NotebookKernelLike } from '../../core/kernel/notebook';
import { KernelSessionError } from '../../core/kernel/errors';
import type { KernelSession } from '../../core/kernel/types';

export const JUPYTER_EXTENSION_ID = 'ms-toolsai.jupyter';

// the real API's Kernel is what the core session takes (a compile-time check of api.ts)
type Check<T extends NotebookKernelLike<vscode.CancellationToken>> = T;
export type ApiKernel = Check<Kernel>;

/** The Jupyter extension's API, activated; undefined when it is not installed (or exports none). */
export async function jupyterApi(): Promise<Jupyter | undefined> {
  const ext = vscode.extensions.getExtension<Jupyter>(JUPYTER_EXTENSION_ID);
  if (!ext) return undefined;
  const api = ext.isActive ? ext.exports : await ext.activate();
  return api?.kernels ? api : undefined;
}

export function notebookName(uri: vscode.Uri): string {
  return uri.path.split('/').pop() || uri.toString();
}

export interface NotebookKernelItem {
  uri: vscode.Uri;
  name: string;
  kernel: ApiKernel;
}

/** the open notebooks whose kernel the user started (Python kernels only) */
export async function listNotebookKernels(api: Jupyter): Promise<NotebookKernelItem[]> {
  const out: NotebookKernelItem[] = [];
  for (const nb of vscode.workspace.notebookDocuments) {
    if (nb.isClosed || nb.uri.scheme === 'vscode-interactive-input') continue;
    // a notebook whose kernel the Jupyter extension cannot give (not started, closed meanwhile) is just not offered
    const kernel = await Promise.resolve(api.kernels.getKernel(nb.uri)).catch(() => undefined);
    if (kernel && kernel.language.toLowerCase() === 'python') out.push({ uri: nb.uri, name: notebookName(nb.uri), kernel });
  }
  return out;
}

/** A session in the kernel of the notebook `uri` (it must be open with its kernel started). */
export async function startNotebookSession(uri: string, name: string, tuning: { maxOutputBytes?: number }): Promise<KernelSession> {
  const api = await jupyterApi();
  if (!api) {
    throw new KernelSessionError({
      reason: `the kernel of ${name} was chosen, but the Jupyter extension (${JUPYTER_EXTENSION_ID}) is not installed or not enabled`,
      fix: 'install or enable the Jupyter extension, or choose another kernel with "CodeDance: Select Kernel"',
    });
  }
  const target = vscode.Uri.parse(uri);
  const open = vscode.workspace.notebookDocuments.some((d) => d.uri.toString() === target.toString());
  const kernel = open ? await api.kernels.getKernel(target) : undefined;
  if (!kernel) {
    throw new KernelSessionError({
      reason: open ? `the notebook ${name} has no kernel running` : `the notebook ${name} is not open`,
      fix: `open ${name} and run a cell there (that starts its kernel), then ask again; or choose another kernel with "CodeDance: Select Kernel"`,
      retryable: true,
    });
  }
  const { startNotebookKernelSession } = await import('../../core/kernel/notebook');
  return startNotebookKernelSession({
    kernel,
    notebook: name,
    otherwise: 'choose another kernel with "CodeDance: Select Kernel"',
    cancellation: () => new vscode.CancellationTokenSource(),
    ...tuning,
  });
}
