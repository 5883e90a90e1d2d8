/**
 * The summary of a verify results file: per data_source and overall, how many rows reproduce,
 * differ, fail, have no code or are invalid, and the executable share: rows whose code all ran
 * without an unrecorded error (reproduces + differs) of the rows with code that could be read.
 */
import { scanResults } from '../eval/resultsScan';

/** What a replayed row came to (verify.ts writes one record per row). */
export type VerifyStatus = 'reproduces' | 'differs' | 'fails' | 'no_code' | 'invalid';

/** What the summary reads of a verify record. */
export interface VerifyOutcome {
  status: VerifyStatus;
  data_source: string;
}

export interface VerifyCounts {
  rows: number;
  reproduces: number;
  differs: number;
  fails: number;
  no_code: number;
  invalid: number;
  /** (reproduces + differs) / (reproduces + differs + fails), percent; null without such rows */
  executablePct: number | null;
  /** reproduces / (reproduces + differs + fails), percent */
  reproducesPct: number | null;
}

export interface VerifySummary {
  total: VerifyCounts;
  bySource: Record<string, VerifyCounts>;
}

function empty(): VerifyCounts {
  return { rows: 0, reproduces: 0, differs: 0, fails: 0, no_code: 0, invalid: 0, executablePct: null, reproducesPct: null };
}

function finish(c: VerifyCounts): VerifyCounts {
  const ran = c.reproduces + c.differs + c.fails;
  const pct = (n: number) => (ran ? Math.round((1000 * n) / ran) / 10 : null);
  return { ...c, executablePct: pct(c.reproduces + c.differs), reproducesPct: pct(c.reproduces) };
}

export function summarizeRecords(records: Iterable<VerifyOutcome>): VerifySummary {
  const total = empty();
  const by: Record<string, VerifyCounts> = {};
  for (const r of records) {
    for (const c of [total, (by[r.data_source] ??= empty())]) {
      c.rows++;
      c[r.status]++;
    }
  }
  return { total: finish(total), bySource: Object.fromEntries(Object.entries(by).map(([k, v]) => [k, finish(v)])) };
}

/** The summary of a results file: each row once, from its last line (resultsScan.ts). */
export async function summarize(resultsFile: string): Promise<VerifySummary> {
  const scan = await scanResults(resultsFile, (r) => ({ status: r.status, data_source: r.data_source }) as VerifyOutcome);
  return summarizeRecords(scan.byIndex.values());
}
