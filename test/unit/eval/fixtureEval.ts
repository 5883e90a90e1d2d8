/** `runEval` options for the eval unit tests: the fixture model at `baseUrl`, stub kernels, no waits. */
import type { EvalOptions } from '../../../src/core/eval';
import { createChatModel } from '../../../src/core/model';
import { stubKernels } from './stubKernel';

/** what the fixture model sees when its code looks for red circles: 3 of them */
export const redCountKernels = () => stubKernels((code) => ({ stdout: code.includes('red') ? 'red_count = 3\n' : 'x\n' }));

export function fixtureEvalOptions(baseUrl: string, dataPath: string, saveDir: string, extra: Partial<EvalOptions> = {}): EvalOptions {
  return {
    dataPath,
    saveDir,
    modelName: 'm',
    evalModelName: 'codedance-fixture-7b',
    model: createChatModel({ endpoints: baseUrl, retry: { maxRetries: 0 } }),
    endpoints: [baseUrl],
    numWorkers: 1,
    kernels: redCountKernels(),
    retryBaseDelayMs: 1,
    fsync: false,
    ...extra,
  };
}
