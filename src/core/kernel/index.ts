/**
 * The kernel layer: real Jupyter kernels (ipykernel over ZeroMQ) running the model's Python
 * with the CodeDance seed's executor semantics. No `vscode` here.
 *
 *   const py = await resolvePython({ explicit, pythonExtension });   // which interpreter, and why
 *   const pool = new KernelPool({ python: py.python, size: 1 });       // kernels started ahead
 *   const kernel = await pool.acquire();                               // a KernelSession
 *   const [img] = await kernel.setInputImages([bytes], { resize: 'qwen-smart' });
 *   const result = await kernel.execute(code, { timeoutMs: 30000, signal });
 *   await kernel.dispose(); await pool.dispose();
 */
export type * from './types';
export { KernelPool } from './pool';
export { InterpreterPool } from './interpreterPool';
export { JupyterKernelSession, startKernelSession } from './session';
export { resolvePython, probePython, clearPythonProbeCache } from './python';
export type { ResolvedPython } from './python';
export { PythonEnvironmentError, KernelLaunchError } from './errors';
export { liveKernelPids } from './process';
