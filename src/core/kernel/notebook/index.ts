/**
 * The kernel of an open notebook, through the Jupyter extension's public API: a `KernelSession`
 * whose cells run in the notebook's own namespace. The editor supplies the kernel
 * (`jupyter.kernels.getKernel(uri)`) and its cancellation tokens. See docs/kernels.md.
 */
export { NotebookKernelSession, startNotebookKernelSession } from './session';
export type { NotebookKernelLike } from './api';
export { outputToMessage } from './api';
