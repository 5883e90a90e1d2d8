/**
 * The remote kernel backend: a `KernelSession` on a Jupyter Server (URL + token) through
 * `@jupyterlab/services`. See docs/kernels.md.
 *
 *   const kernel = await startRemoteKernelSession({ url: 'http://gpu-box:8888/', token });
 *   // then exactly as a local session: setInputImages, execute, interrupt, dispose
 */
export { RemoteKernelSession, startRemoteKernelSession } from './session';
export { displayUrl } from './server';
