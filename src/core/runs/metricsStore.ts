/**
 * The metric series of a run, fed with a job log as it arrives (chunks cut anywhere, even inside a
 * line or a UTF-8 character's string form). A step seen twice (a run resumed from its last
 * checkpoint prints the steps after it again) keeps the later line.
 */
import { parseMetricLine } from './metricLines';
import type { RunMetrics, StepMetrics } from './types';

/** a partial line longer than this keeps only what follows its last `\r` */
const MAX_TAIL = 1 << 16;

export interface MetricsStoreState {
  /** a snapshot to start from (e.g. what the view kept over a window reload) */
  metrics?: RunMetrics;
  /** bytes of the log that snapshot covers: the next chunk fed starts there */
  bytesRead?: number;
  /** lines of the log that snapshot covers (the next line's index) */
  linesRead?: number;
}

export class MetricsStore {
  private readonly steps = new Map<number, StepMetrics>();
  /** the partial last line: kept until its newline arrives */
  private tail = '';
  private bytes: number;
  /** bytes of the tail dropped by trimTail, counted when its line is */
  private dropped = 0;
  private lines: number;

  constructor(from: MetricsStoreState = {}) {
    for (const s of from.metrics?.steps ?? []) this.put(s);
    this.bytes = from.bytesRead ?? 0;
    this.lines = from.linesRead ?? 0;
  }

  /**
   * Bytes (UTF-8) of the log consumed up to the end of the last complete line: a follower that
   * resumes from here (with a store built from `snapshot()`, `bytesRead` and `linesRead`) reads the
   * partial line again and misses nothing.
   */
  get bytesRead(): number {
    return this.bytes;
  }

  /** complete lines consumed (the next line's 0-based index) */
  get linesRead(): number {
    return this.lines;
  }

  /** Feeds the next chunk of the log; returns the steps it added or replaced, in the order read. */
  feed(chunk: string, now?: number): StepMetrics[] {
    const nl = chunk.lastIndexOf('\n');
    if (nl < 0) {
      this.tail += chunk;
      this.trimTail();
      return [];
    }
    const complete = this.tail + chunk.slice(0, nl + 1);
    this.tail = chunk.slice(nl + 1);
    const changed = this.consume(complete, now);
    this.trimTail();
    return changed;
  }

  /**
   * A progress bar redrawn with `\r` and no newline grows one line without end: only the text
   * after its last `\r` can count (parseMetricLine), so a long tail keeps just that.
   */
  private trimTail(): void {
    if (this.tail.length <= MAX_TAIL) return;
    const cr = this.tail.lastIndexOf('\r', this.tail.length - 2);
    if (cr < 0) return;
    this.dropped += Buffer.byteLength(this.tail.slice(0, cr + 1), 'utf8');
    this.tail = this.tail.slice(cr + 1);
  }

  /** The log ended (the job finished): a last line without its newline counts too. */
  end(now?: number): StepMetrics[] {
    if (!this.tail) return [];
    const rest = this.tail;
    this.tail = '';
    return this.consume(rest, now);
  }

  snapshot(): RunMetrics {
    const steps = [...this.steps.values()].sort((a, b) => a.step - b.step);
    const keys = new Set<string>();
    for (const s of steps) for (const k of Object.keys(s.values)) keys.add(k);
    return { steps, keys: [...keys].sort() };
  }

  private consume(complete: string, now: number | undefined): StepMetrics[] {
    this.bytes += Buffer.byteLength(complete, 'utf8') + this.dropped;
    this.dropped = 0;
    const lines = complete.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const changed = new Map<number, StepMetrics>();
    for (const raw of lines) {
      const line = this.lines++;
      // a cheap test first: most lines of a log are not metric lines
      if (!raw.includes('step:')) continue;
      const m = parseMetricLine(raw);
      if (!m) continue;
      const s: StepMetrics = { step: m.step, values: m.values, line, ...(now !== undefined && { seenAt: now }) };
      this.put(s);
      changed.delete(s.step); // a step repeated within the chunk: listed once, where its later line is
      changed.set(s.step, s);
    }
    return [...changed.values()];
  }

  private put(s: StepMetrics): void {
    const have = this.steps.get(s.step);
    if (have && have.line > s.line) return;
    this.steps.set(s.step, s);
  }
}
