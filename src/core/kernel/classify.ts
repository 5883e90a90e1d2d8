/**
 * Result classification: what a cell's iopub messages, its execute_reply (or the kernel's exit)
 * and the interrupt that was sent mean as an `ExecutionResult` — status ok / error / timeout /
 * cancelled / died, exit() noted, images in the seed's order (and dropped when the seed drops
 * them), stdout/stderr with their truncation, the error. Pure: no process, no socket, no clock;
 * unit-tested on recorded message sequences (test/fixtures/iopub).
 */
import { CellCollector, type PreludeResult } from './collector';
import type { RequestOutcome } from './request';
import type { ExecutionError, ExecutionResult, ImageFailure, OutputImage } from './types';
import type { JupyterMessage } from './wire';

/** How a cell's request ended, as classification needs it. */
export type CellOutcome = Exclude<RequestOutcome, { kind: 'timeout' }>;

export interface ClassifyContext {
  /** the cell's timeout (for the seed's timeout message) */
  timeoutMs: number;
  /** the interrupt grace period (for the message when the kernel had to be killed) */
  graceMs: number;
  /** why this side interrupted the cell, if it did */
  interruptReason?: 'timeout' | 'cancelled';
  durationMs: number;
  /** keep images of failed cells in `images` (the seed drops them) */
  keepImagesOnFailure?: boolean;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;
export function stripAnsi(s: string): string {
  return s.replace(ANSI, '');
}

export function tailLines(s: string, n = 40): string[] {
  return s.trimEnd().split('\n').slice(-n);
}

/** the seconds as Python's str() prints the seed's value (30 -> "30", 1.5 -> "1.5") */
function pySeconds(ms: number): string {
  return String(ms / 1000);
}

export function timeoutError(timeoutMs: number): ExecutionError {
  return { ename: 'TimeoutError', evalue: `Code execution timed out after ${pySeconds(timeoutMs)} seconds`, traceback: [] };
}

export function cancelError(why: string): ExecutionError {
  return { ename: 'KeyboardInterrupt', evalue: why, traceback: [] };
}

export function cancelledResult(durationMs: number, why: string): ExecutionResult {
  return { status: 'cancelled', stdout: '', stderr: '', images: [], error: cancelError(why), durationMs };
}

function toExecutionError(e: NonNullable<PreludeResult['error']>): ExecutionError {
  const out: ExecutionError = { ename: e.ename, evalue: e.evalue, traceback: e.traceback ?? [] };
  if (typeof e.lineno === 'number') out.lineno = e.lineno;
  return out;
}

/** `[image of W×H could not be encoded: reason]`: how the model learns of an image it did not get */
export function imageFailureNote(f: ImageFailure): string {
  const size = f.width !== undefined && f.height !== undefined ? `${f.width}×${f.height}` : 'unknown size';
  return `[image of ${size} could not be encoded: ${f.reason}]`;
}

/** What the model is told when a cell's kernel had to be killed and started again. */
export function restartNote(graceMs: number): string {
  return `[the Python kernel was restarted because the cell did not stop within ${graceMs / 1000} s of the interrupt: every variable, import and figure from earlier cells is gone; define again what you need]`;
}

/** `[N more images were not shown: …]`: how the model learns that a cell made more images than it gets */
export function omittedImagesNote(count: number, limit: number | undefined): string {
  const what = count === 1 ? '1 more image was' : `${count.toLocaleString('en-US')} more images were`;
  const why = limit ? `a cell returns at most ${limit} images` : 'a cell returns only so many images';
  return `[${what} not shown: ${why}; show fewer, or combine them into one image]`;
}

/** images the cell made past its limit: the kernel's count (never sent) and this side's (sent, not kept) */
function omittedImages(col: CellCollector, rec: PreludeResult | undefined): { count: number; limit: number | undefined } {
  const kernel = typeof rec?.imagesOmitted === 'number' ? rec.imagesOmitted : 0;
  const limits = [kernel ? rec?.maxImages : undefined, col.imagesOverLimit ? col.maxImages : undefined].filter(
    (n): n is number => typeof n === 'number' && n > 0,
  );
  return { count: kernel + col.imagesOverLimit, limit: limits.length ? Math.min(...limits) : undefined };
}

/** notes appended to a stream's text, one a line, so that every protocol's observation carries them */
function withNotes(text: string, notes: string[]): string {
  if (!notes.length) return text;
  return `${text}${text && !text.endsWith('\n') ? '\n' : ''}${notes.join('\n')}\n`;
}

/** the prelude's image failures (from its record) and this side's, in that order */
function imageFailures(col: CellCollector, rec: PreludeResult | undefined): ImageFailure[] {
  const fromKernel: ImageFailure[] = (rec?.imageFailures ?? []).map((f) => ({
    source: (['expression', 'figure', 'show', 'display', 'tool'] as const).find((s) => s === f.source) ?? 'display',
    ...(typeof f.width === 'number' && typeof f.height === 'number' ? { width: f.width, height: f.height } : {}),
    reason: String(f.reason),
  }));
  return [...fromKernel, ...col.imageFailures];
}

/** The seed returns images only for a cell that succeeded; the rest go to droppedImages. */
function withImages(r: Omit<ExecutionResult, 'images'>, images: OutputImage[], succeeded: boolean, ctx: ClassifyContext): ExecutionResult {
  if (succeeded || ctx.keepImagesOnFailure) return { ...r, images };
  return { ...r, images: [], ...(images.length ? { droppedImages: images } : {}) };
}

function exitedResult(col: CellCollector, outcome: Extract<CellOutcome, { kind: 'exited' }>, ctx: ClassifyContext): ExecutionResult {
  col.finish();
  const failures = imageFailures(col, undefined);
  const reason = outcome.killReason;
  const restartedByUs = reason === 'timeout' || reason === 'cancelled';
  const notes = [...failures.map(imageFailureNote), ...(restartedByUs ? [restartNote(ctx.graceMs)] : [])];
  const omitted = omittedImages(col, undefined);
  const base = {
    stdout: omitted.count ? withNotes(col.stdout, [omittedImagesNote(omitted.count, omitted.limit)]) : col.stdout,
    stderr: withNotes(col.stderr, notes),
    durationMs: ctx.durationMs,
    ...(failures.length ? { imageFailures: failures } : {}),
    ...(omitted.count ? { omittedImages: omitted.count } : {}),
  };
  const images = col.orderedImages();
  if (reason === 'timeout' || reason === 'cancelled' || reason === 'dispose') {
    const status = reason === 'timeout' ? 'timeout' : 'cancelled';
    const err =
      reason === 'timeout'
        ? timeoutError(ctx.timeoutMs)
        : cancelError(reason === 'dispose' ? 'the session was disposed while the cell ran' : 'the cell was cancelled');
    err.traceback = [
      `the cell did not stop within ${ctx.graceMs / 1000} s of the interrupt, so the kernel was ${reason === 'dispose' ? 'shut down' : 'restarted; variables were lost'}`,
    ];
    return withImages({ ...base, status, error: err, restarted: reason !== 'dispose' }, images, false, ctx);
  }
  const desc =
    reason === 'heartbeat'
      ? `it stopped answering its heartbeat for ${Math.round((outcome.heartbeatSilenceMs ?? 0) / 1000)} s and was killed`
      : outcome.info.description;
  const error: ExecutionError = {
    ename: 'KernelDied',
    evalue: `the Python kernel died (${desc}); it was restarted and variables were lost`,
    traceback: tailLines(outcome.info.outputTail, 40),
  };
  return withImages({ ...base, status: 'died', error, restarted: true }, images, false, ctx);
}

/**
 * Classifies a cell from the collector that saw its iopub messages (live, in order) and how its
 * request ended. Consumes the collector (adds the reply's held output, marks truncation).
 */
export function classifyCell(col: CellCollector, outcome: CellOutcome, ctx: ClassifyContext): ExecutionResult {
  if (outcome.kind === 'exited') return exitedResult(col, outcome, ctx);
  const replyContent = (outcome.reply?.content ?? {}) as Record<string, any>;
  // the record comes in the reply (do_execute hook) or as display_data (plain run_cell)
  const rec = replyContent.codedance as PreludeResult | undefined;
  col.addTail('stdout', rec?.stdout);
  col.addTail('stderr', rec?.stderr);
  col.addReplyImages(rec?.images, outcome.reply?.buffers);
  col.finish();
  const res = rec ?? col.result;
  const images = col.orderedImages();
  const common = commonFields(col, res, ctx);
  const interrupted = res
    ? res.status === 'interrupted'
    : !outcome.reply || (replyContent.status === 'error' && replyContent.ename === 'KeyboardInterrupt');
  if (interrupted && ctx.interruptReason) {
    const err = ctx.interruptReason === 'timeout' ? timeoutError(ctx.timeoutMs) : cancelError('the cell was cancelled');
    return withImages({ ...common, status: ctx.interruptReason, error: err }, images, false, ctx);
  }
  if (res) return recordResult(res, common, images, ctx);
  // no result record: the wrapper itself failed (should not happen) — use IPython's reply
  if (!outcome.reply) {
    return withImages(
      {
        ...common,
        status: 'error',
        error: { ename: 'KernelError', evalue: 'the kernel finished the cell without a reply', traceback: [] },
      },
      images,
      false,
      ctx,
    );
  }
  return replyResult(col, replyContent, common, images, ctx);
}

/** The result as IPython's own reply says (no prelude record): ok, or its error (the error message's traceback when one came). */
function replyResult(
  col: CellCollector,
  replyContent: Record<string, any>,
  common: CommonFields,
  images: OutputImage[],
  ctx: ClassifyContext,
): ExecutionResult {
  if (replyContent.status === 'ok') return withImages({ ...common, status: 'ok' }, images, true, ctx);
  const e = col.ipythonError ?? {
    ename: String(replyContent.ename ?? 'Error'),
    evalue: String(replyContent.evalue ?? ''),
    traceback: (replyContent.traceback as string[]) ?? [],
  };
  return withImages(
    { ...common, status: 'error', error: { ename: e.ename, evalue: e.evalue, traceback: e.traceback.map(stripAnsi) } },
    images,
    false,
    ctx,
  );
}

type CommonFields = Omit<ExecutionResult, 'images' | 'status'>;

/** What every finished cell's result has: its output (with the notes about images), duration, count, truncation. */
function commonFields(col: CellCollector, res: PreludeResult | undefined, ctx: ClassifyContext): CommonFields {
  const dropped = col.clientDropped;
  const truncated =
    res?.truncated && (res.truncated.stdout || res.truncated.stderr || dropped.stdout || dropped.stderr)
      ? { stdout: res.truncated.stdout + dropped.stdout, stderr: res.truncated.stderr + dropped.stderr }
      : dropped.stdout || dropped.stderr
        ? { ...dropped }
        : undefined;
  const failures = imageFailures(col, res);
  const omitted = omittedImages(col, res);
  return {
    stdout: omitted.count ? withNotes(col.stdout, [omittedImagesNote(omitted.count, omitted.limit)]) : col.stdout,
    stderr: withNotes(col.stderr, failures.map(imageFailureNote)),
    durationMs: ctx.durationMs,
    executionCount: res?.count,
    ...(truncated ? { truncated } : {}),
    ...(failures.length ? { imageFailures: failures } : {}),
    ...(omitted.count ? { omittedImages: omitted.count } : {}),
  };
}

/** The result as the prelude's record says: ok, exit() (ok, its images dropped), or the error. */
function recordResult(res: PreludeResult, common: CommonFields, images: OutputImage[], ctx: ClassifyContext): ExecutionResult {
  if (res.status === 'ok') return withImages({ ...common, status: 'ok' }, images, true, ctx);
  if (res.status === 'exit') return withImages({ ...common, status: 'ok', exited: true }, images, false, ctx);
  const e = res.error ?? { ename: 'Error', evalue: 'unknown error', traceback: [] };
  return withImages({ ...common, status: 'error', error: toExecutionError(e) }, images, false, ctx);
}

/** `classifyCell` over a recorded sequence: the cell's iopub messages in order, then the outcome. */
export function classifyMessages(
  messages: readonly JupyterMessage[],
  outcome: CellOutcome,
  ctx: ClassifyContext & { maxOutputBytes?: number; maxImages?: number },
): ExecutionResult {
  const col = new CellCollector(ctx.maxOutputBytes, undefined, ctx.maxImages);
  for (const m of messages) col.handle(m);
  return classifyCell(col, outcome, ctx);
}
