/**
 * The loop, written once: think → code → execute → observe → … → answer.
 * Returns an async event stream; the chat panel, the CLI and the eval runner consume it.
 * Cancel with `options.signal` or by leaving the `for await` early.
 */
import { CodeDanceError, toErrorInfo } from '../errors';
import type { AssistantTurn, ObservationInput } from '../protocol/types';
import { replayEvents } from '../trajectory/replay';
import type { CodeCell, ModelTurn, Trajectory, TrajectoryImage } from '../trajectory/types';
import { createTrajectory } from '../trajectory/create';
import { Channel } from './channel';
import type { AgentEvent } from './events';
import { observationLimit, type AgentOptions } from './options';
import { keptCode, messageCut } from './resume';
import { addUsage, Cancelled, checkCancel, modelTurn, restoreKernel, runCell } from './steps';

export type { AgentOptions, ApprovalDecision, ReplayStep, ResumeOptions } from './options';
export { keptCode, messageCut } from './resume';

export function runAgent(question: string, images: Uint8Array[], options: AgentOptions): AsyncIterable<AgentEvent> {
  // a consumer that falls behind gets a turn's queued text deltas as one (bounded queue)
  const ch = new Channel<AgentEvent>((a, b) => (a.type === 'delta' && b.type === 'delta' && a.turn === b.turn ? { ...a, text: a.text + b.text } : undefined));
  const ctrl = new AbortController();
  const onOuterAbort = () => ctrl.abort(options.signal?.reason);
  if (options.signal?.aborted) ctrl.abort(options.signal.reason);
  else options.signal?.addEventListener('abort', onOuterAbort, { once: true });

  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    loop(question, images, options, ctrl.signal, (e) => ch.push(e))
      .catch((e) => ch.push({ type: 'error', error: toErrorInfo(e), fatal: true }))
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
          ctrl.abort(new CodeDanceError('cancelled', 'event stream closed by its consumer'));
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
  if (!last) throw new CodeDanceError('internal', 'agent loop ended without a trajectory');
  return last;
}

async function loop(question: string, images: Uint8Array[], o: AgentOptions, signal: AbortSignal, emit: (e: AgentEvent) => void): Promise<void> {
  const t0 = Date.now();
  if (o.resume) question = o.resume.from.question;
  const protocol = o.protocol;
  const maxTurns = o.maxTurns ?? protocol.defaultMaxTurns;
  const sampling = { ...protocol.defaultSampling, ...stripUndefined(o.sampling ?? {}) };
  const traj: Trajectory = createTrajectory({
    question,
    model: o.modelName,
    endpoints: o.endpoints ?? [],
    protocol: protocol.id,
    protocolTemplateHash: o.protocolTemplateHash,
    sampling,
    maxTurns,
    python: o.kernel.python,
    ...(o.kernel.where ? { where: o.kernel.where } : {}),
  });
  emit({ type: 'start', trajectoryId: traj.id, question, protocol: protocol.id, model: o.modelName, maxTurns, ...(o.kernel.where ? { where: o.kernel.where } : {}) });
  // the question's known correct answer; a Retry or fork asks the same question, so the one it continues holds
  const reference = o.reference ?? o.resume?.from.reference;
  if (reference) traj.reference = reference;
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
      const steps = [...(o.replay ?? [])];
      if (r.replayKernel !== false) steps.push({ inputImages: from.inputImages.length ? from.inputImages.map((im) => base64ToBytes(im.data)) : undefined, code: keptCode(from, k) });
      await restoreKernel(steps, o, signal, emit);
      traj.messages = from.messages.slice(0, messageCut(from, k, edit));
      // the kept turns, as events too, so that a UI rebuilds the run from the stream alone
      for (const src of from.turns.slice(0, k)) {
        const t = cloneTurn(src);
        traj.turns.push(t);
        addUsage(traj, t.usage);
      }
      for (const e of replayEvents(from, k)) emit(e);
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
      await restoreKernel(o.replay ?? [], o, signal, emit);
      const prepared = images.length ? await o.kernel.setInputImages(images, protocol.imagePreparation) : [];
      traj.inputImages = prepared.map<TrajectoryImage>((p, i) => ({ id: `input-${i}`, mime: 'image/png', data: p.pngBase64, width: p.width, height: p.height, source: 'input' }));
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
      traj.error = toErrorInfo(e);
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
    const obs = protocol.observation(executed, parsed.malformed, { turnIndex: call, maxTurns, timeoutMs: o.timeoutMs ?? 30_000, maxObservationTokens: observationLimit(o.maxObservationTokens) });
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

function cloneTurn(t: ModelTurn): ModelTurn {
  return structuredClone(t);
}

function base64ToBytes(b64: string): Uint8Array {
  return new Uint8Array(Buffer.from(b64, 'base64'));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

