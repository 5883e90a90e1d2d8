/**
 * Where an eval's samples get their kernels: the caller's source (a Jupyter server's kernels), or
 * a pool of local kernels of our own, created when a sample first needs a kernel (a finished run
 * starts none), its starts paced to the machine (kernel/startGate.ts), with the images prepared
 * for the model outside the kernels (imagePreparer.ts) so that a sample takes its kernel only at
 * its first cell (kernel/lazySession.ts) and one answered without code takes none.
 */
import os from 'node:os';
import { KernelPool } from '../kernel/pool';
import type { JupyterKernelSession } from '../kernel/session';
import { ImagePreparer } from './imagePreparer';
import type { EvalOptions, KernelSource } from './options';

/** `pending`: the samples left to run (no more kernels are started ahead than that) */
export function kernelSource(o: EvalOptions, workers: number, pending: number, log: (line: string) => void): KernelSource {
  if (o.kernels) return o.kernels;
  const python = o.python ?? 'python3';
  const perCpu = Math.min(workers, os.cpus().length);
  let pool: KernelPool | undefined;
  let preparer: ImagePreparer | undefined;
  return {
    python,
    acquire: (signal) =>
      (pool ??= new KernelPool({
        python,
        size: Math.max(1, Math.min(o.kernelPoolSize ?? perCpu, pending)),
        ...(o.maxConcurrentKernelStarts !== undefined ? { maxConcurrentStarts: o.maxConcurrentKernelStarts } : {}),
        ...o.kernelSandbox,
      })).acquire(signal),
    release: (k) => (pool ? pool.release(k as JupyterKernelSession) : k.dispose()),
    prepareImages: (images, opts) =>
      (preparer ??= new ImagePreparer({
        python,
        processes: Math.max(1, Math.min(perCpu, pending)),
        sandbox: o.kernelSandbox?.sandbox,
        memoryLimitMb: o.kernelSandbox?.memoryLimitMb,
        log,
      })).prepare(images, opts),
    dispose: async () => {
      await Promise.all([pool?.dispose(), preparer?.dispose()]);
    },
  };
}
