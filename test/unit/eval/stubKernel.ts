/**
 * An in-process stand-in for a kernel session (no Python): for unit tests of the eval runner
 * and for the bench's harness-overhead figure. `execute` answers at once with `stdout`.
 */
import { randomUUID } from 'node:crypto';
import type { ExecutionResult, KernelSession, KernelState, PreparedImage } from '../../../src/core/kernel/types';
import type { KernelSource } from '../../../src/core/eval/runner';

export class StubKernel implements KernelSession {
  readonly id = randomUUID();
  readonly workdir = '/nonexistent';
  readonly python = 'stub';
  state: KernelState = 'idle';
  disposed = false;
  executed: string[] = [];
  constructor(private readonly result: (code: string) => Partial<ExecutionResult> = () => ({ stdout: 'stub output\n' })) {}
  async setInputImages(images: Uint8Array[]): Promise<PreparedImage[]> {
    return images.map((b) => ({
      pngBase64: Buffer.from(b).toString('base64'),
      width: 28,
      height: 28,
      originalWidth: 28,
      originalHeight: 28,
    }));
  }
  async execute(code: string): Promise<ExecutionResult> {
    if (this.disposed) throw new Error('stub kernel used after dispose');
    this.executed.push(code);
    return { status: 'ok', stdout: '', stderr: '', images: [], durationMs: 0, ...this.result(code) };
  }
  onStateChange(): () => void {
    return () => undefined;
  }
  async interrupt(): Promise<void> {}
  async dispose(): Promise<void> {
    this.disposed = true;
    this.state = 'disposed';
  }
}

export function stubKernels(result?: (code: string) => Partial<ExecutionResult>): KernelSource & { made: StubKernel[] } {
  const made: StubKernel[] = [];
  return {
    made,
    async acquire() {
      const k = new StubKernel(result);
      made.push(k);
      return k;
    },
    async dispose() {},
  };
}
