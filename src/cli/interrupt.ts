/**
 * Ctrl+C for long CLI commands: the first signal aborts (the model call and the running cell
 * stop cleanly, results so far are kept) and says what happens; a second one quits at once.
 */
import { EXIT } from './errors';

export interface Interrupt {
  signal: AbortSignal;
  /** removes the handlers (call in a finally) */
  dispose(): void;
}

export function onInterrupt(message: string, signals: NodeJS.Signals[] = ['SIGINT']): Interrupt {
  const ctrl = new AbortController();
  let interrupted = false;
  const handler = () => {
    if (interrupted) process.exit(EXIT.cancelled);
    interrupted = true;
    process.stderr.write(`\n${message} (Ctrl+C again to quit at once)\n`);
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
