/**
 * `verifySftFile`: replays every SFT row's code in a fresh kernel (the row's first image bound as
 * `input_image`, cells in order in one namespace, as the trajectory ran) and compares each result
 * with the recorded `<tool_response>` (compare.ts). Each row is classified:
 *   reproduces  every cell's output matches what the row records
 *   differs     the code ran, but a cell's output is not what was recorded (which turn, what)
 *   fails       a cell raised, timed out or killed the kernel where the row records no such error
 *   no_code     the row has no code to run
 *   invalid     the row cannot be read (malformed messages, not UTF-8, a missing image): reason
 * One JSON line per row goes to the results file as it finishes (the viewer filters by it); a
 * rerun skips the rows already there (resumable like the eval); cancel stops between cells and
 * keeps what is written. Rows run `concurrency` at a time over a kernel pool.
 */
import { CodeDanceError } from '../errors';
import { finishedIndexes, ResultsWriter } from '../eval/resultsFile';
import { scanResults } from '../eval/resultsScan';
import { countJsonlRows, readJsonlRows } from '../data/jsonl';
import { parquetInfo, readParquetRows } from '../data/parquet';
import { datasetFormat } from '../data/dataset';
import { KernelPool } from '../kernel/pool';
import type { ExecutionResult, KernelSession, KernelTuning } from '../kernel/types';
import { getProtocol } from '../protocol';
import { compareCell, type CellDiff } from './compare';
import { ImageHasher } from './imageHash';
import { replayPlan, type PlanResult, type ReplayPlan } from './replayPlan';
import { summarize, type VerifyStatus, type VerifySummary } from './verifySummary';

export type { VerifyStatus } from './verifySummary';

export interface VerifyRecord {
  index: number;
  data_source: string;
  status: VerifyStatus;
  /** assistant turns with code, and cells run */
  turns: number;
  cells: number;
  /** differs: every differing cell (its turn and what) */
  diffs?: CellDiff[];
  /** fails: the first failing cell's turn and error text */
  error?: { turn: number; message: string };
  /** invalid: why */
  reason?: string;
  ms: number;
}

export interface VerifyProgress {
  done: number;
  total: number;
  counts: Record<VerifyStatus, number>;
  rowsPerSec: number;
  inFlight: number;
}

export interface VerifyOptions extends KernelTuning {
  file: string;
  out: string;
  python: string;
  concurrency?: number;
  /** per-cell timeout, ms (default 30000, eval.py's) */
  timeoutMs?: number;
  /** only the first N rows */
  limit?: number;
  maxHashDistance?: number;
  signal?: AbortSignal;
  onProgress?: (p: VerifyProgress) => void;
  onRecord?: (r: VerifyRecord) => void;
}

export interface VerifyResult {
  out: string;
  /** rows run now (the others were already in the results file) */
  ran: number;
  resumed: number;
  cancelled: boolean;
  summary: VerifySummary;
}

function rowsOf(file: string, limit?: number) {
  const gen = datasetFormat(file) === 'parquet' ? readParquetRows(file) : readJsonlRows(file);
  return (async function* () {
    for await (const r of gen) {
      if (limit !== undefined && r.index >= limit) return;
      yield r;
    }
  })();
}

function errorText(r: ExecutionResult): string {
  if (r.status === 'timeout') return 'TimeoutError: the cell timed out';
  if (r.status === 'died') return `KernelDied: ${r.error?.evalue ?? 'the kernel died'}`;
  return r.error ? `${r.error.ename}: ${r.error.evalue}` : `cell ended '${r.status}'`;
}

/** One row in `kernel` (already fresh); never throws for the row's own faults. */
export async function verifyRow(
  plan: ReplayPlan,
  kernel: KernelSession,
  o: { timeoutMs: number; hasher: ImageHasher; maxHashDistance?: number; signal?: AbortSignal },
): Promise<Omit<VerifyRecord, 'ms'>> {
  const base = {
    index: plan.index,
    data_source: plan.dataSource,
    turns: new Set(plan.cells.map((c) => c.turn)).size,
    cells: plan.cells.length,
  };
  if (!plan.cells.length) return { ...base, status: 'no_code' };
  if (plan.inputImage) {
    try {
      await kernel.setInputImages([plan.inputImage], getProtocol('codedance').imagePreparation);
    } catch (e) {
      return { ...base, status: 'invalid', reason: `the input image does not load in the kernel (${(e as Error).message})` };
    }
  }
  const diffs: CellDiff[] = [];
  for (const cell of plan.cells) {
    const result = await kernel.execute(cell.code, { timeoutMs: o.timeoutMs, signal: o.signal });
    if (o.signal?.aborted) throw new CodeDanceError('cancelled', 'the verification was cancelled');
    let diff: CellDiff | undefined;
    if (cell.recorded) {
      try {
        diff = await compareCell(cell.turn, cell.recorded, result, cell.format, o);
      } catch (e) {
        return { ...base, status: 'invalid', reason: `turn ${cell.turn}: a recorded image cannot be compared (${(e as Error).message})` };
      }
    }
    if (result.status !== 'ok' && (diff || !cell.recorded))
      return { ...base, status: 'fails', error: { turn: cell.turn, message: errorText(result) } };
    if (diff) diffs.push(diff);
  }
  return diffs.length ? { ...base, status: 'differs', diffs } : { ...base, status: 'reproduces' };
}

export async function verifySftFile(o: VerifyOptions): Promise<VerifyResult> {
  const done = await finishedIndexes(o.out);
  const timeoutMs = o.timeoutMs ?? 30_000;
  const concurrency = Math.max(1, Math.floor(o.concurrency ?? 2));
  const { file, out, python, concurrency: _c, timeoutMs: _t, limit, maxHashDistance, signal, onProgress, onRecord, ...tuning } = o;
  const total = await countRows(file, limit);
  const counts = await recordedCounts(out);
  const resumed = done.size;
  let ran = 0;
  let inFlight = 0;
  const t0 = performance.now();
  const progress = () =>
    onProgress?.({
      done: resumed + ran,
      total,
      counts: { ...counts },
      rowsPerSec: ran / Math.max(1e-3, (performance.now() - t0) / 1000),
      inFlight,
    });
  progress();
  // the recorded and replayed images are decoded in a process sandboxed like the kernels
  const hasher = await ImageHasher.open(python, { sandbox: tuning.sandbox, memoryLimitMb: tuning.memoryLimitMb });
  const writer = new ResultsWriter(out);
  const pool = new KernelPool({ ...tuning, python, size: concurrency });
  const rows = rowsOf(file, limit);
  // a failure outside any row (no kernel starts) stops every worker and is thrown
  let failure: { error: unknown } | undefined;
  const record = (r: VerifyRecord) => {
    writer.append(r);
    counts[r.status]++;
    ran++;
    onRecord?.(r);
    progress();
  };
  const loop = async () => {
    for (;;) {
      if (signal?.aborted || failure) return;
      const next = await rows.next();
      if (next.done) return;
      const row = next.value;
      if (done.has(row.index)) continue;
      const started = performance.now();
      const plan = replayPlan(row.index, row.row, file, row.error);
      if ('invalid' in plan || !plan.cells.length) {
        record(kernelFreeRecord(plan));
        continue;
      }
      inFlight++;
      let kernel;
      try {
        kernel = await pool.acquire();
      } catch (e) {
        inFlight--;
        failure ??= { error: e };
        return;
      }
      let r: Omit<VerifyRecord, 'ms'> | undefined;
      try {
        r = await replayRow(plan, kernel, { timeoutMs, hasher, maxHashDistance, signal });
      } finally {
        inFlight--;
        await kernel.dispose(); // a row's kernel is never given to another row
      }
      if (!r) return; // cancelled mid-row: nothing written, a rerun runs it again
      record({ ...r, ms: Math.round(performance.now() - started) });
    }
  };
  const worker = () =>
    loop().catch((e: unknown) => {
      failure ??= { error: e };
    });
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    writer.close();
    await hasher.dispose();
    await pool.dispose();
  }
  if (failure) throw failure.error;
  return { out, ran, resumed, cancelled: !!signal?.aborted, summary: await summarize(out) };
}

/** The rows the results file already holds, by status: each row once (its last line), as the summary counts them. */
async function recordedCounts(out: string): Promise<Record<VerifyStatus, number>> {
  const counts: Record<VerifyStatus, number> = { reproduces: 0, differs: 0, fails: 0, no_code: 0, invalid: 0 };
  for (const status of (await scanResults(out, (r) => r.status)).byIndex.values())
    if (typeof status === 'string' && status in counts) counts[status as VerifyStatus]++;
  return counts;
}

/** The record of a row that needs no kernel: it cannot be read (`invalid`), or it has no code (`no_code`). */
function kernelFreeRecord(plan: PlanResult): VerifyRecord {
  if ('invalid' in plan)
    return { index: plan.index, data_source: plan.dataSource, status: 'invalid', turns: 0, cells: 0, reason: plan.invalid, ms: 0 };
  return { index: plan.index, data_source: plan.dataSource, status: 'no_code', turns: 0, cells: 0, ms: 0 };
}

/**
 * `verifyRow`, with a throw of the kernel layer recorded as the row failing (the row's own fault:
 * the run goes on); undefined when the run was cancelled mid-row.
 */
async function replayRow(
  plan: ReplayPlan,
  kernel: KernelSession,
  o: { timeoutMs: number; hasher: ImageHasher; maxHashDistance?: number; signal?: AbortSignal },
): Promise<Omit<VerifyRecord, 'ms'> | undefined> {
  try {
    return await verifyRow(plan, kernel, o);
  } catch (e) {
    if (o.signal?.aborted) return undefined;
    return {
      index: plan.index,
      data_source: plan.dataSource,
      status: 'fails',
      turns: 0,
      cells: plan.cells.length,
      error: { turn: -1, message: `${(e as Error).name}: ${(e as Error).message}` },
    };
  }
}

async function countRows(file: string, limit?: number): Promise<number> {
  const total = datasetFormat(file) === 'parquet' ? (await parquetInfo(file)).rowCount : await countJsonlRows(file);
  return limit !== undefined ? Math.min(limit, total) : total;
}
