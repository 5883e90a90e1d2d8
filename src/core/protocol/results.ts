/**
 * Turning an `ExecutionResult` from the kernel into the seed's error strings. Both seed tools
 * format a failure as `"--- Execution Error (" + error_type + ") ---\n" + error` where
 * error_type is `TimeoutError` for timeouts and `Error` otherwise, and error is
 * `"TypeName: message"` plus `" (line N)"` for syntax errors. For a timeout the seed's error is
 * `str(TimeoutError(...))` alone: `"Code execution timed out after 30 seconds"` (eval.py, an
 * int) or `"... after 15.0 seconds"` (the training tool, a float).
 */
import type { ExecutionResult, OutputImage } from '../kernel/types';

export interface SeedError {
  type: 'TimeoutError' | 'Error';
  text: string;
}

export interface SeedErrorOptions {
  /** the cell timeout, ms, to quote in the timeout text */
  timeoutMs?: number;
  /** how Python printed the seconds: eval.py passes an int (`30`), the training tool a float (`15.0`) */
  secondsStyle: 'int' | 'float';
}

/** The seed's wording when no timeout value is known (the training tool's framework timeout). */
export const TIMEOUT_FALLBACK_TEXT = 'Code execution timed out.';

function pySeconds(ms: number, style: 'int' | 'float'): string {
  const s = ms / 1000;
  if (Number.isInteger(s)) return style === 'float' ? `${s}.0` : String(s);
  return String(s);
}

/** `"the Python kernel died (reason); it was restarted and variables were lost"` */
export function kernelDiedMessage(evalue: string | undefined): string {
  const v = (evalue ?? '').trim();
  if (v.startsWith('the Python kernel died')) return v;
  return `the Python kernel died (${v || 'no reason given'}); it was restarted and variables were lost`;
}

/** The seed's (error_type, error) for a failed execution; undefined when it succeeded. */
export function seedError(result: ExecutionResult, opts: SeedErrorOptions): SeedError | undefined {
  const e = result.error;
  switch (result.status) {
    case 'ok':
      return undefined;
    case 'timeout': {
      if (opts.timeoutMs !== undefined) return { type: 'TimeoutError', text: `Code execution timed out after ${pySeconds(opts.timeoutMs, opts.secondsStyle)} seconds` };
      if (e?.evalue?.startsWith('Code execution timed out')) return { type: 'TimeoutError', text: e.evalue };
      return { type: 'TimeoutError', text: TIMEOUT_FALLBACK_TEXT };
    }
    case 'died':
      return { type: 'Error', text: `KernelDied: ${kernelDiedMessage(e?.evalue)}` };
    case 'error':
    case 'cancelled':
    default: {
      if (!e) return { type: 'Error', text: 'Unknown execution error' };
      const line = e.lineno !== undefined ? ` (line ${e.lineno})` : '';
      return { type: 'Error', text: `${e.ename}: ${e.evalue}${line}` };
    }
  }
}

/** `"--- Execution Error (" + type + ") ---\n" + text` */
export function seedErrorBlock(err: SeedError): string {
  return `--- Execution Error (${err.type}) ---\n${err.text}`;
}

/** A data URL for an output image. The seed labels every output image `image/png`, whatever the bytes. */
export function imageDataUrl(img: OutputImage, label: 'seed' | 'true' = 'seed'): string {
  return `data:${label === 'seed' ? 'image/png' : img.mime};base64,${img.data}`;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

/** Removes terminal colour codes (ipykernel tracebacks carry them). */
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}
