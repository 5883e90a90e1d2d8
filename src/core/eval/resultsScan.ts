/**
 * Reading a results file (an eval's `result_*.jsonl`, a verify's `*.verify.jsonl`) for counts:
 * each sample index counts once, and every line that does not count is named with its line
 * number and why.
 *
 *  - A line that is not JSON (a line cut by a kill, a damaged file) or not a record with a whole
 *    number `index` does not count.
 *  - An index on more than one line counts once, from its LAST line: lines are only ever
 *    appended, so a later line is a later result (a second run writing the same folder, files
 *    joined with `cat`). The seed's eval.py writes each sample once, so this changes nothing for
 *    its files; the eval report opens the same last line. The earlier lines are named.
 *
 * `scanResults` keeps what `pick` takes of each record (small: the stats' fields), never the
 * whole lines, so a large file is read in one pass in little memory.
 */
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseResultLine } from './resultsFile';

/** A line that does not count, and why. */
export interface SkippedLine {
  /** 1-based line number */
  line: number;
  reason: 'not-json' | 'no-index' | 'superseded';
  /** superseded: the sample index, and the later line that counts instead */
  index?: number;
  by?: number;
}

export interface ResultsScan<T> {
  /** each sample index's record (what `pick` took of its last line), in the order indexes first appear */
  byIndex: Map<number, T>;
  /** lines that do not count, in line order */
  skipped: SkippedLine[];
  /** lines read (blank ones included) */
  lines: number;
}

/** Tells a scan what each line is; `scanResults` and the report's byte-offset reader share it. */
export class ResultsTally<T> {
  readonly byIndex = new Map<number, T>();
  private readonly lineOf = new Map<number, number>();
  private readonly bad: SkippedLine[] = [];
  private readonly superseded: SkippedLine[] = [];
  lines = 0;

  constructor(private readonly pick: (r: Record<string, unknown>, index: number) => T) {}

  /** One line of the file (without its newline); returns the record when it counts (for now). */
  line(text: string): { record: Record<string, unknown>; index: number } | undefined {
    const n = ++this.lines;
    if (!text.trim()) return undefined;
    let r: unknown;
    try {
      r = parseResultLine(text);
    } catch {
      this.bad.push({ line: n, reason: 'not-json' });
      return undefined;
    }
    const index = (r as { index?: unknown } | null)?.index;
    if (typeof r !== 'object' || r === null || Array.isArray(r) || typeof index !== 'number' || !Number.isInteger(index)) {
      this.bad.push({ line: n, reason: 'no-index' });
      return undefined;
    }
    const earlier = this.lineOf.get(index);
    if (earlier !== undefined) this.superseded.push({ line: earlier, reason: 'superseded', index, by: n });
    this.lineOf.set(index, n);
    this.byIndex.set(index, this.pick(r as Record<string, unknown>, index));
    return { record: r as Record<string, unknown>, index };
  }

  /** the line that counts for `index` */
  lineOfIndex(index: number): number | undefined {
    return this.lineOf.get(index);
  }

  finish(): ResultsScan<T> {
    return { byIndex: this.byIndex, skipped: [...this.bad, ...this.superseded].sort((a, b) => a.line - b.line), lines: this.lines };
  }
}

/** Reads `file` (absent: empty) and keeps `pick` of each index's last line. */
export async function scanResults<T>(file: string, pick: (r: Record<string, unknown>, index: number) => T): Promise<ResultsScan<T>> {
  const tally = new ResultsTally(pick);
  if (existsSync(file)) {
    const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    for await (const line of rl) tally.line(line);
  }
  return tally.finish();
}

/** "line 3" / "lines 3, 5-7" (at most `max` ranges named, then "and N more") */
function lineList(lines: number[], max = 10): string {
  const ranges: [number, number][] = [];
  for (const l of lines) {
    const last = ranges.at(-1);
    if (last && l === last[1] + 1) last[1] = l;
    else ranges.push([l, l]);
  }
  const shown = ranges.slice(0, max);
  const left = lines.length - shown.reduce((n, [a, b]) => n + b - a + 1, 0);
  return `${lines.length === 1 ? 'line' : 'lines'} ${shown.map(([a, b]) => (a === b ? String(a) : `${a}-${b}`)).join(', ')}${left ? ` and ${left} more` : ''}`;
}

/**
 * One sentence naming the lines that did not count, or undefined when all did:
 * "3 lines not counted: line 4 is not JSON (cut by a kill or damaged); lines 2, 9 repeat a sample
 * that a later line has again (the last line of each sample counts)".
 */
export function describeSkippedLines(skipped: readonly SkippedLine[]): string | undefined {
  if (!skipped.length) return undefined;
  const of = (reason: SkippedLine['reason']) => skipped.filter((s) => s.reason === reason).map((s) => s.line);
  const parts: string[] = [];
  const notJson = of('not-json');
  const noIndex = of('no-index');
  const superseded = skipped.filter((s) => s.reason === 'superseded');
  if (notJson.length) parts.push(`${lineList(notJson)} ${notJson.length === 1 ? 'is' : 'are'} not JSON (cut by a kill, or damaged)`);
  if (noIndex.length) parts.push(`${lineList(noIndex)} ${noIndex.length === 1 ? 'has' : 'have'} no sample index`);
  if (superseded.length) {
    const example = superseded[0];
    parts.push(
      `${lineList(superseded.map((s) => s.line))} ${superseded.length === 1 ? 'is a sample' : 'are samples'} written again later (the last line of each sample counts; e.g. sample ${example.index}: line ${example.line}, again on line ${example.by})`,
    );
  }
  return `${skipped.length} line${skipped.length === 1 ? '' : 's'} not counted: ${parts.join('; ')}`;
}
