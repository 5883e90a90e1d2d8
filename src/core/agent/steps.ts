/**
 * The loop's steps, each one unit: a model call, a cell (with its approval), the kernel rebuild
 * before a resumed or follow-up run. `runAgent.ts` strings them together.
 */
import type { ExecutionResult, KernelSandbox, KernelTool } from '../kernel/types';
import { DEFAULT_MAX_REQUEST_IMAGES, limitRequestImages } from '../protocol/imageBudget';
import type { RequestPlan, RunView } from '../protocol/types';
import type { CodeCell, ModelTurn, Trajectory } from '../trajectory/types';
import type { AgentEvent } from '../trajectory/events';
import type { AgentOptions, ReplayStep } from './options';

/** Raised inside the loop when the caller cancels; ends the run with status `cancelled`. */
export class Cancelled extends Error {}

export function checkCancel(signal: AbortSignal): void {
  if (signal.aborted) throw new Cancelled('cancelled');
}

export function addUsage(traj: Trajectory, u: ModelTurn['usage']): void {
  if (!u) return;
  traj.usage.promptTokens += u.promptTokens;
  traj.usage.completionTokens += u.completionTokens;
  traj.usage.totalTokens += u.totalTokens;
}

/**
 * Rebuilds the kernel's state: binds each step's images and runs its code quietly (outputs are
 * dropped, failures do not stop the run). With `approveRestore`, the whole batch of code is
 * shown first (`restore_request`) and runs only if approved; declined, only the images are bound.
 */
export async function restoreKernel(
  steps: ReplayStep[],
  o: AgentOptions,
  signal: AbortSignal,
  emit: (e: AgentEvent) => void,
): Promise<void> {
  const code = steps.flatMap((s) => s.code);
  let run = true;
  if (code.length && o.approveRestore) {
    emit({ type: 'restore_request', code });
    run = await o.approveRestore({ code });
    checkCancel(signal);
  }
  for (const step of steps) {
    checkCancel(signal);
    if (step.inputImages?.length) await o.kernel.setInputImages(step.inputImages, o.protocol.imagePreparation);
    if (!run) continue;
    for (const c of step.code) {
      checkCancel(signal);
      await o.kernel.execute(c, { timeoutMs: o.timeoutMs ?? 30_000, signal });
    }
  }
  if (code.length) emit({ type: 'restore', restored: run, cells: code.length });
}

export async function modelTurn(
  index: number,
  traj: Trajectory,
  o: AgentOptions,
  sampling: Record<string, unknown> & { extra?: Record<string, unknown> },
  signal: AbortSignal,
  emit: (e: AgentEvent) => void,
): Promise<ModelTurn> {
  const startedAt = new Date();
  const t0 = performance.now();
  emit({ type: 'turn_start', turn: index });
  // a format that plans its requests (Thyme) gives the messages and sampling of this one
  const plan = o.protocol.request?.(runView(traj, o, traj.turns));
  const { extra, ...sp } = plan ? planned(sampling, plan) : sampling;
  const turn: ModelTurn = {
    index,
    endpoint: '',
    startedAt: startedAt.toISOString(),
    latencyMs: 0,
    content: '',
    toolCalls: [],
    retries: 0,
    cells: [],
    malformed: [],
  };
  let text = '';
  // the history itself, not a copy per turn (the loop only appends to it after the call ended),
  // unless it holds more images than a request carries
  const { messages, omitted } = limitRequestImages(plan?.messages ?? traj.messages, o.maxRequestImages ?? DEFAULT_MAX_REQUEST_IMAGES);
  if (omitted) turn.imagesOmitted = omitted;
  try {
    for await (const ev of o.model.chat(
      { model: o.modelName, messages, tools: o.protocol.tools(), ...(sp as object), extra },
      { signal },
    )) {
      if (ev.type === 'delta') {
        if (turn.firstTokenMs === undefined) turn.firstTokenMs = performance.now() - t0;
        text += ev.text;
        emit({ type: 'delta', turn: index, text: ev.text });
      } else if (ev.type === 'retry') {
        text = '';
        turn.firstTokenMs = undefined;
        emit({ type: 'retry', turn: index, attempt: ev.attempt, reason: ev.reason });
      } else {
        turn.content = ev.content;
        turn.toolCalls = ev.toolCalls;
        turn.finishReason = ev.finishReason;
        turn.usage = ev.usage;
        turn.endpoint = ev.endpoint;
        turn.retries = ev.retries;
      }
    }
  } catch (e) {
    if (signal.aborted) throw new Cancelled('cancelled');
    throw e;
  }
  if (!turn.content && text) turn.content = text;
  turn.latencyMs = performance.now() - t0;
  addUsage(traj, turn.usage);
  return turn;
}

/** The run as `ProtocolAdapter.request`/`parse`/`isFinal` see it, with these calls before the one at hand. */
export function runView(traj: Trajectory, o: AgentOptions, turns: Trajectory['turns']): RunView {
  return { id: traj.id, question: traj.question, workdir: o.kernel.workdir, messages: traj.messages, turns };
}

/** The run's sampling with a planned request's over it (its `extra` fields merged in). */
function planned(
  sampling: Record<string, unknown> & { extra?: Record<string, unknown> },
  plan: RequestPlan,
): Record<string, unknown> & { extra?: Record<string, unknown> } {
  const extra = plan.extra || sampling.extra ? { ...sampling.extra, ...plan.extra } : undefined;
  return { ...sampling, ...plan.sampling, ...(extra ? { extra } : {}) };
}

/**
 * Runs one cell: asks for approval first (when the run asks), then the kernel runs it. With `tool`
 * (a format's own tool call, e.g. DeepEyes' crop) the kernel runs that tool instead of the cell's
 * text, without an approval: it is not the model's code. With `via` the code (the model's,
 * approved like any) runs through a format's own sandbox in the kernel (Thyme's).
 */
export async function runCell(
  cell: CodeCell,
  o: AgentOptions,
  signal: AbortSignal,
  emit: (e: AgentEvent) => void,
  tool?: KernelTool,
  via?: KernelSandbox,
): Promise<ExecutionResult> {
  const turn = cell.turn;
  if (o.approve && !tool) {
    emit({ type: 'approval_request', turn, cellId: cell.id, code: cell.code });
    const d = await o.approve({ turn, cell: { ...cell } });
    checkCancel(signal);
    emit({ type: 'approval', turn, cellId: cell.id, decision: d.action });
    if (d.action === 'skip') {
      cell.status = 'skipped';
      const result: ExecutionResult = {
        status: 'error',
        stdout: '',
        stderr: '',
        images: [],
        error: { ename: 'ExecutionSkipped', evalue: 'the user chose not to run this code', traceback: [] },
        durationMs: 0,
      };
      emit({ type: 'exec_end', turn, cellId: cell.id, result, cell: { ...cell } });
      return result;
    }
    if (d.action === 'edit' && d.code !== cell.code) {
      cell.originalCode = cell.code;
      cell.code = d.code;
    }
  }
  cell.status = 'running';
  cell.startedAt = new Date().toISOString();
  emit({ type: 'exec_start', turn, cellId: cell.id });
  const result = await o.kernel.execute(cell.code, {
    timeoutMs: o.timeoutMs ?? 30_000,
    ...(o.maxImagesPerCell !== undefined ? { maxImages: o.maxImagesPerCell } : {}),
    signal,
    ...(tool || via ? { tool: tool ?? via } : {}),
    onOutput: (ev) => {
      if (ev.kind === 'stream') emit({ type: 'exec_output', turn, cellId: cell.id, stream: ev.name, text: ev.text });
    },
  });
  cell.status = result.status;
  cell.stdout = result.stdout;
  cell.stderr = result.stderr;
  cell.error = result.error;
  cell.exited = result.exited;
  cell.durationMs = result.durationMs;
  cell.images = result.images.map((im, k) => ({
    id: `${cell.id}-i${k}`,
    mime: im.mime,
    data: im.data,
    width: im.width,
    height: im.height,
    source: im.source,
  }));
  emit({ type: 'exec_end', turn, cellId: cell.id, result, cell: { ...cell } });
  return result;
}
