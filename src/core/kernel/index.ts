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
export type { InterpreterPoolOptions } from './interpreterPool';
export { JupyterKernelSession, startKernelSession, DEFAULT_TIMEOUT_MS, DEFAULT_MAX_OUTPUT_BYTES } from './session';
export { resolvePython, probePython, clearPythonProbeCache, DEFAULT_CANDIDATES, REQUIRED_MODULES } from './python';
export type { ResolvePythonOptions, ResolvedPython } from './python';
export { KernelError, PythonEnvironmentError, KernelLaunchError, KernelProtocolError, KernelSessionError } from './errors';
export type { InterpreterProbe, KernelErrorDetails } from './errors';
export { smartResize, pyRound, IMAGE_FACTOR, MIN_PIXELS, MAX_PIXELS } from './smartResize';
export { liveKernelPids } from './process';
export { describeSandbox, sandboxStatus, defaultMemoryLimitMb, SandboxUnavailableError } from './sandbox';
export type { SandboxMode, SandboxOptions, SandboxStatus } from './sandbox';
export { registerSecret, createRedactor, Redactor, REDACTED } from './redact';
export type { RedactOptions } from './redact';
