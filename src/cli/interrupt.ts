/**
 * Ctrl+C (SIGINT) and SIGTERM for long CLI commands, alike: the first signal aborts (the model
 * call and the running cell stop cleanly, kernels are shut down, results so far are kept) and
 * says what happens; a second one quits at once (kernels still go: see core/kernel/sandbox.ts).
 */
import { EXIT } from './errors';

export interface Interrupt {
  signal: AbortSignal;
  /** removes the handlers (call in a finally) */
  dispose(): void;
}

export function onInterrupt(message: string, signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM']): Interrupt {
  const ctrl = new AbortController();
  let interrupted = false;
  const handler = (sig: NodeJS.Signals) => {
    if (interrupted) process.exit(EXIT.cancelled);
    interrupted = true;
    process.stderr.write(`\n${message} (${sig === 'SIGINT' ? 'Ctrl+C' : sig} again to quit at once)\n`);
    ctrl.abort();
  };
  for (const s of signals) process.on(s, handler);
  return {
    signal: ctrl.signal,
    dispose: () => {
      for (const s of signals) process.off(s, handler);
    },
  };
}
