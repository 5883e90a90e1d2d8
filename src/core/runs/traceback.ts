/**
 * The last Python traceback in a job log: the `Traceback (most recent call last):` header, its
 * indented frames, and the exception line that ends it (Ray's `ray.exceptions.RayTaskError(…)`
 * line followed by the actor's own frames is read through to the real exception).
 */
import { stripLogDecor } from './metricLines';

const HEADER = 'Traceback (most recent call last):';
/** a traceback this long keeps its first and last lines */
const MAX_LINES = 80;

const indented = (l: string | undefined) => l !== undefined && /^\s+\S/.test(l);

/** The last traceback in `log`, or undefined when it has none. */
export function lastTraceback(log: string): string | undefined {
  const lines = log.split('\n').map((l) => stripLogDecor(l).trimEnd());
  let start = -1;
  for (let i = lines.length - 1; i >= 0; i--)
    if (lines[i].trim() === HEADER) {
      start = i;
      break;
    }
  if (start < 0) return undefined;
  const out = [HEADER];
  for (let i = start + 1; i < lines.length; i++) {
    const l = lines[i];
    if (l === '') continue;
    out.push(l);
    // a line at column 0 ends the traceback, unless frames follow it (Ray's wrapper line)
    if (!indented(l) && !indented(lines[i + 1])) break;
  }
  if (out.length <= MAX_LINES) return out.join('\n');
  const tail = MAX_LINES - 11;
  return [...out.slice(0, 10), `  … ${out.length - 10 - tail} lines …`, ...out.slice(out.length - tail)].join('\n');
}

/** The exception line of a traceback (its last line). */
export function exceptionLine(traceback: string): string {
  return traceback.slice(traceback.lastIndexOf('\n') + 1).trim();
}
