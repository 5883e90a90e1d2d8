/**
 * The loop, written once: think → code → execute → observe → … → answer.
 * Returns an async event stream; the chat panel, the CLI and the eval runner consume it.
 * Cancel with `options.signal` or by leaving the `for await` early.
 */
import { randomUUID } from 'node:crypto';
import type { ExecutionResult, KernelSession, OutputImage } from '../kernel/types';
import type { AssistantTurn, ChatMessage, ObservationInput, ProtocolAdapter } from '../protocol/types';
import type { CodeCell, ModelTurn, Trajectory, TrajectoryImage } from '../trajectory/types';
import { TRAJECTORY_VERSION } from '../trajectory/types';
import { Channel } from './channel';
import type { AgentEvent } from './events';
import type { ChatModel } from './model';

export type ApprovalDecision = { action: 'run' } | { action: 'skip' } | { action: 'edit'; code: string };

export interface AgentOptions {
  model: ChatModel;
  /** the model name sent with each request */
  modelName: string;
  protocol: ProtocolAdapter;
  /** the session's kernel; the caller owns it (acquires and disposes) */
  kernel: KernelSession;
  /** max model calls; default: the protocol's (the seed's eval: 7) */
  maxTurns?: number;
  sampling?: { temperature?: number; top_p?: number; max_tokens?: number; extra?: Record<string, unknown> };
  /** per-cell timeout, ms (default 30 000 like the seed's eval) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** asked before each cell runs; absent = run everything (approval mode `auto`) */
  approve?: (req: { turn: number; cell: CodeCell }) => Promise<ApprovalDecision>;
  /** for the trajectory record */
  endpoints?: string[];
  protocolTemplateHash?: string;
  /**
   * Earlier messages of the same conversation (the previous run's `trajectory.messages`): the
   * question is then asked as a follow-up (the protocol's system messages are not repeated) and
   * the kernel is expected to hold the earlier state (same session, or `replay`).
   */
  history?: ChatMessage[];
  /** code run quietly in the kernel before the loop, to rebuild state in a fresh kernel */
  replay?: string[];
  /** continue an earlier run from inside it: Retry (a new model call) or Edit & re-run (fork) */
  resume?: ResumeOptions;
}

export interface ResumeOptions {
  /** the earlier run; its question, images and messages are used (the `question`/`images` arguments are ignored) */
  from: Trajectory;
  /** index into `from.turns` of the turn to redo; turns before it are kept as they are */
  turn: number;
  /**
   * Edit & re-run: keep the model's reply of `turn` and run its cells again, with these code
   * replacements (cell id → code), then let the model continue. Absent = Retry: a new model call.
   */
  edits?: Record<string, string>;
  /** re-run the kept turns' code in the kernel first (a fresh kernel); default true */
  replayKernel?: boolean;
}

/** Raised inside the loop when the caller cancels; ends the run with status `cancelled`. */
class Cancelled extends Error {}

export function runAgent(question: string, images: Uint8Array[], options: AgentOptions): AsyncIterable<AgentEvent> {
  const ch = new Channel<AgentEvent>();
  const ctrl = new AbortController();
  const onOuterAbort = () => ctrl.abort(options.signal?.reason);
  if (options.signal?.aborted) ctrl.abort(options.signal.reason);
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    loop(question, images, options, ctrl.signal, (e) => ch.push(e))
      .catch((e) => ch.push({ type: 'error', error: errorInfo(e), fatal: true }))
      .finally(() => {
        options.signal?.removeEventListener('abort', onOuterAbort);
        ch.close();
      });
  };

  return {
    [Symbol.asyncIterator]() {
      start();
      const it = ch[Symbol.asyncIterator]();
      return {
        next: () => it.next(),
        // leaving the for-await early cancels the run
        return: async (v?: unknown) => {
          ctrl.abort(new Error('event stream closed by its consumer'));
          return { value: v as never, done: true };
        },
      };
    },
  };
}

/** Runs the loop to the end and returns the trajectory (for callers that need no events). */
export async function runAgentToEnd(question: string, images: Uint8Array[], options: AgentOptions, onEvent?: (e: AgentEvent) => void): Promise<Trajectory> {
  let last: Trajectory | undefined;
  for await (const e of runAgent(question, images, options)) {
    onEvent?.(e);
    if (e.type === 'done') last = e.trajectory;
  }
  if (!last) throw new Error('agent loop ended without a trajectory');
  return last;
}

function errorInfo(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

function checkCancel(signal: AbortSignal): void {
  if (signal.aborted) throw new Cancelled('cancelled');
}

async function loop(question: string, images: Uint8Array[], o: AgentOptions, signal: AbortSignal, emit: (e: AgentEvent) => void): Promise<void> {
  const t0 = Date.now();
  if (o.resume) question = o.resume.from.question;
  const protocol = o.protocol;
  const maxTurns = o.maxTurns ?? protocol.defaultMaxTurns;
  const sampling = { ...protocol.defaultSampling, ...stripUndefined(o.sampling ?? {}) };
  const traj: Trajectory = {
    version: TRAJECTORY_VERSION,
    id: randomUUID(),
    createdAt: new Date().toISOString(),
    question,
    inputImages: [],
    model: o.modelName,
    endpoints: o.endpoints ?? [],
    protocol: protocol.id,
    protocolTemplateHash: o.protocolTemplateHash,
    sampling,
    maxTurns,
    python: o.kernel.python,
    messages: [],
    turns: [],
    status: 'running',
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    durationMs: 0,
  };
  emit({ type: 'start', trajectoryId: traj.id, question, protocol: protocol.id, model: o.modelName, maxTurns });
  const unsubscribe = o.kernel.onStateChange((state) => emit({ type: 'kernel', state }));

  try {
    let firstCall = 0;
    let finished = false;
    const r = o.resume;
    if (r) {
      const from = r.from;
      const k = Math.max(0, Math.min(r.turn, from.turns.length));
      const edit = r.edits !== undefined && k < from.turns.length;
      traj.inputImages = from.inputImages.map((im) => ({ ...im }));
      if (r.replayKernel !== false) {
        if (from.inputImages.length) await o.kernel.setInputImages(from.inputImages.map((im) => base64ToBytes(im.data)), protocol.imagePreparation);
        await replayCode(o.kernel, [...(o.replay ?? []), ...keptCode(from, k)], o.timeoutMs, signal);
      }
      traj.messages = from.messages.slice(0, messageCut(from, k, edit));
      // the kept turns, as events too, so that a UI rebuilds the run from the stream alone
      for (const src of from.turns.slice(0, k)) {
        const t = cloneTurn(src);
        traj.turns.push(t);
        addUsage(traj, t.usage);
        emitKeptTurn(t, emit);
      }
      firstCall = k;
      if (edit) {
        // Edit & re-run: the model's reply of turn k stays; its cells run again with the edits
        const turn: ModelTurn = { ...cloneTurn(from.turns[k]), cells: [], malformed: [], answer: undefined };
        traj.turns.push(turn);
        addUsage(traj, turn.usage);
        emit({ type: 'turn_start', turn: k, endpoint: turn.endpoint });
        if (turn.content) emit({ type: 'delta', turn: k, text: turn.content });
        finished = await afterReply(turn, traj, o, maxTurns, signal, emit, r.edits);
        firstCall = k + 1;
      }
    } else {
      const prepared = images.length ? await o.kernel.setInputImages(images, protocol.imagePreparation) : [];
      traj.inputImages = prepared.map<TrajectoryImage>((p, i) => ({ id: `input-${i}`, mime: 'image/png', data: p.pngBase64, width: p.width, height: p.height, source: 'input' }));
      if (o.replay?.length) await replayCode(o.kernel, o.replay, o.timeoutMs, signal);
      const initial = protocol.initialMessages(question, prepared.map((p) => p.pngBase64));
      traj.messages = o.history?.length ? [...o.history, ...initial.filter((m) => m.role !== 'system')] : initial;
    }

    for (let call = firstCall; call < maxTurns && !finished; call++) {
      checkCancel(signal);
      const turn = await modelTurn(call, traj, o, sampling, signal, emit);
      traj.turns.push(turn);
      finished = await afterReply(turn, traj, o, maxTurns, signal, emit);
    }
    if (traj.status === 'running') traj.status = 'max_turns';
  } catch (e) {
    if (e instanceof Cancelled || signal.aborted) {
      traj.status = 'cancelled';
    } else {
      traj.status = 'error';
      traj.error = errorInfo(e);
      emit({ type: 'error', error: traj.error, fatal: true });
    }
  } finally {
    unsubscribe();
    traj.durationMs = Date.now() - t0;
    emit({ type: 'done', trajectory: traj });
  }
}

/**
 * What follows a model reply: parse, append, run the cells (with optional code edits), add the
 * observation. Returns true when the run is over (the protocol's final answer).
 */
async function afterReply(
  turn: ModelTurn,
  traj: Trajectory,
  o: AgentOptions,
  maxTurns: number,
  signal: AbortSignal,
  emit: (e: AgentEvent) => void,
  edits?: Record<string, string>,
): Promise<boolean> {
  const protocol = o.protocol;
  const call = turn.index;
  const assistant: AssistantTurn = { content: turn.content, toolCalls: turn.toolCalls, finishReason: turn.finishReason };
  const parsed = protocol.parse(assistant);
  if (parsed.empty && parsed.malformed.length === 0) {
    // the seed's eval: a reply with neither code nor an answer is dropped and the identical request sent again
    turn.discarded = true;
    emit({ type: 'turn_end', turn: call, content: turn.content, latencyMs: turn.latencyMs, usage: turn.usage, discarded: true });
    return false;
  }
  emit({ type: 'turn_end', turn: call, content: turn.content, latencyMs: turn.latencyMs, usage: turn.usage, discarded: false });
  traj.messages.push(protocol.assistantMessage(assistant));
  if (parsed.answer !== undefined) {
    turn.answer = parsed.answer;
    traj.answer = parsed.answer;
  }

  const executed: ObservationInput[] = [];
  for (const [i, req] of parsed.code.entries()) {
    checkCancel(signal);
    const cell: CodeCell = { id: `t${call}-c${i}`, turn: call, code: req.code, toolCallId: req.toolCallId, status: 'pending', stdout: '', stderr: '', images: [] };
    const edited = edits?.[cell.id];
    if (edited !== undefined && edited !== cell.code) {
      cell.originalCode = cell.code;
      cell.code = edited;
    }
    turn.cells.push(cell);
    emit({ type: 'tool_call', turn: call, cell: { ...cell } });
    const result = await runCell(cell, o, signal, emit);
    executed.push({ request: { code: cell.code, toolCallId: req.toolCallId }, result });
  }
  for (const m of parsed.malformed) {
    turn.malformed.push(m);
    emit({ type: 'malformed', turn: call, message: m.message });
  }
  checkCancel(signal);
  if (executed.length || parsed.malformed.length) {
    const obs = protocol.observation(executed, parsed.malformed, { turnIndex: call, maxTurns, timeoutMs: o.timeoutMs ?? 30_000 });
    traj.messages.push(...obs);
    emit({ type: 'observation', turn: call, messages: obs });
  }
  if (protocol.isFinal(parsed)) {
    traj.status = 'answered';
    emit({ type: 'answer', turn: call, text: parsed.answer ?? '' });
    return true;
  }
  return false;
}

/** A kept turn of a resumed run, as the events that would have produced it. */
function emitKeptTurn(t: ModelTurn, emit: (e: AgentEvent) => void): void {
  emit({ type: 'turn_start', turn: t.index, endpoint: t.endpoint });
  if (t.content) emit({ type: 'delta', turn: t.index, text: t.content });
  emit({ type: 'turn_end', turn: t.index, content: t.content, latencyMs: t.latencyMs, usage: t.usage, discarded: !!t.discarded });
  for (const c of t.cells) {
    emit({ type: 'tool_call', turn: t.index, cell: { ...c, status: 'pending', stdout: '', stderr: '', images: [] } });
    const result: ExecutionResult = {
      status: c.status === 'pending' || c.status === 'running' || c.status === 'skipped' ? 'cancelled' : c.status,
      stdout: c.stdout,
      stderr: c.stderr,
      images: c.images.filter((im) => im.source !== 'input').map((im) => ({ mime: im.mime, data: im.data, width: im.width, height: im.height, source: im.source as OutputImage['source'] })),
      error: c.error,
      durationMs: c.durationMs ?? 0,
    };
    emit({ type: 'exec_end', turn: t.index, cellId: c.id, result, cell: { ...c } });
  }
  for (const m of t.malformed) emit({ type: 'malformed', turn: t.index, message: m.message });
  if (t.answer !== undefined) emit({ type: 'answer', turn: t.index, text: t.answer });
}

function cloneTurn(t: ModelTurn): ModelTurn {
  return structuredClone(t);
}

function addUsage(traj: Trajectory, u: ModelTurn['usage']): void {
  if (!u) return;
  traj.usage.promptTokens += u.promptTokens;
  traj.usage.completionTokens += u.completionTokens;
  traj.usage.totalTokens += u.totalTokens;
}

/** The code of the kept turns (before `k`) that ran to the end, in order: what rebuilds the kernel's state. */
export function keptCode(from: Trajectory, k: number): string[] {
  return from.turns.slice(0, k).flatMap((t) => t.cells.filter((c) => c.status === 'ok').map((c) => c.code));
}

/**
 * Where `from.messages` is cut to redo turn `k`: before its assistant message (Retry), or just
 * after it (Edit & re-run). Turns map to the last assistant messages of `from.messages` in order
 * (a follow-up's history holds earlier ones before them); discarded turns have none.
 */
export function messageCut(from: Trajectory, k: number, keepReply: boolean): number {
  const assistantAt = from.messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  const kept = from.turns.filter((t) => !t.discarded);
  const base = assistantAt.length - kept.length;
  // the first non-discarded turn at or after k
  const ordinal = from.turns.slice(0, k).filter((t) => !t.discarded).length;
  if (ordinal >= kept.length || base < 0) return from.messages.length;
  const at = assistantAt[base + ordinal];
  if (keepReply && !from.turns[k]?.discarded) return at + 1;
  return at;
}

/** Runs code quietly (state rebuild); outputs are dropped, failures do not stop the run. */
export async function replayCode(kernel: KernelSession, codes: string[], timeoutMs: number | undefined, signal: AbortSignal): Promise<void> {
  for (const code of codes) {
    checkCancel(signal);
    await kernel.execute(code, { timeoutMs: timeoutMs ?? 30_000, signal });
  }
}

function base64ToBytes(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function modelTurn(
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
  const { extra, ...sp } = sampling;
  const turn: ModelTurn = { index, endpoint: '', startedAt: startedAt.toISOString(), latencyMs: 0, content: '', toolCalls: [], retries: 0, cells: [], malformed: [] };
  let text = '';
  try {
    for await (const ev of o.model.chat(
      { model: o.modelName, messages: traj.messages.slice(), tools: o.protocol.tools(), ...(sp as object), extra },
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

async function runCell(cell: CodeCell, o: AgentOptions, signal: AbortSignal, emit: (e: AgentEvent) => void): Promise<ExecutionResult> {
  const turn = cell.turn;
  if (o.approve) {
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
    signal,
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
  cell.images = result.images.map((im, k) => ({ id: `${cell.id}-i${k}`, mime: im.mime, data: im.data, width: im.width, height: im.height, source: im.source }));
  emit({ type: 'exec_end', turn, cellId: cell.id, result, cell: { ...cell } });
  return result;
}
