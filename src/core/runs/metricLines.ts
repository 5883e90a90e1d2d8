/**
 * verl's console metric line, as its `console` logger prints it (`concat_dict_to_str` in
 * verl/utils/logger/aggregate_logger.py: `step:<N>` then ` - <key>:<pprint.pformat(value)>` for
 * every value that is a Python number), read back out of a job log: behind a Ray actor prefix,
 * in ANSI colours, after a `\r` progress bar. Facts: ../shared/docs/codedance-rl-runs.md §1.
 */
import { stripVTControlCharacters } from 'node:util';

/**
 * Ray's prefix on a line an actor printed: `(TaskRunner pid=2749) ` or
 * `(TaskRunner pid=2749, ip=10.0.3.7) ` (the name may carry its own parentheses, or be absent).
 */
const RAY_PREFIX = /^\((?:[^()\s][^()]*?(?:\([^()]*\)[^()]*?)? )?pid=\d+(?:,\s*ip=[^)\s]+)?\)\s?/;

/** A number as Python prints one: ints, floats, exponents (`1e-06`), and older verl's `{v:.3f}` */
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;
/** numpy 2's scalar reprs: `np.float64(0.4375)`, `np.int64(101)`, `np.float32(nan)` */
const NUMPY = /^np\.(?:float|int|uint|longdouble|double|half|single)(?:\d+)?\((.+)\)$/;
const STEP = /^step:(\d+)$/;

/** One line of a log as the process wrote it: CRLF dropped, the last `\r` segment, no colours, no Ray prefix (indentation kept). */
export function stripLogDecor(raw: string): string {
  let s = raw.replace(/[\r\n]+$/, '');
  const cr = s.lastIndexOf('\r');
  if (cr >= 0) s = s.slice(cr + 1);
  return stripVTControlCharacters(s).replace(RAY_PREFIX, '');
}

/** `stripLogDecor`, trimmed. */
export function cleanLogLine(raw: string): string {
  return stripLogDecor(raw).trim();
}

/** A value as pprint wrote it, or undefined when it is not one of a Python number's forms. */
export function parseMetricValue(text: string): number | undefined {
  const np = NUMPY.exec(text);
  const t = np ? np[1].trim() : text;
  switch (t) {
    case 'nan':
    case '-nan':
      return NaN;
    case 'inf':
    case '+inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    case 'True':
      return np ? undefined : 1;
    case 'False':
      return np ? undefined : 0;
  }
  return NUMBER.test(t) ? Number(t) : undefined;
}

/**
 * A metric line's step and values; undefined for anything else (a warning that mentions
 * `step:`, a progress bar, a line cut short by another process's output). Every segment after
 * `step:<N>` must be `key:value` with a number for the value, or the line is not a metric line.
 */
export function parseMetricLine(line: string): { step: number; values: Record<string, number> } | undefined {
  const s = cleanLogLine(line);
  if (!s.startsWith('step:')) return undefined;
  const parts = s.split(' - ');
  const m = STEP.exec(parts[0]);
  if (!m || parts.length < 2) return undefined;
  const values: Record<string, number> = {};
  for (const seg of parts.slice(1)) {
    const colon = seg.lastIndexOf(':');
    if (colon <= 0) return undefined;
    const key = seg.slice(0, colon);
    if (/\s/.test(key)) return undefined;
    const v = parseMetricValue(seg.slice(colon + 1));
    if (v === undefined) return undefined;
    values[key] = v;
  }
  return { step: Number(m[1]), values };
}
