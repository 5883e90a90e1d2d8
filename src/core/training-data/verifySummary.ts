/**
 * The summary of a verify results file: per data_source and overall, how many rows reproduce,
 * differ, fail, have no code or are invalid, and the executable share: rows whose code all ran
 * without an unrecorded error (reproduces + differs) of the rows with code that could be read.
 */
import { readResults } from '../eval/resultsFile';
import type { VerifyRecord, VerifyStatus } from './verify';

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

export function summarizeRecords(records: Iterable<Pick<VerifyRecord, 'status' | 'data_source'>>): VerifySummary {
  const total = empty();
  const by: Record<string, VerifyCounts> = {};
  for (const r of records) {
    for (const c of [total, (by[r.data_source] ??= empty())]) {
      c.rows++;
      c[r.status as VerifyStatus]++;
    }
  }
  return { total: finish(total), bySource: Object.fromEntries(Object.entries(by).map(([k, v]) => [k, finish(v)])) };
}

export async function summarize(resultsFile: string): Promise<VerifySummary> {
  const all: Pick<VerifyRecord, 'status' | 'data_source'>[] = [];
  for await (const r of readResults<VerifyRecord>(resultsFile)) all.push({ status: r.status, data_source: r.data_source });
  return summarizeRecords(all);
}
