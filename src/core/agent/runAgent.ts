/**
 * The loop, written once: think → code → execute → observe → … → answer.
 * Returns an async event stream; the chat panel, the CLI and the eval runner consume it.
 * Cancel with `options.signal` or by leaving the `for await` early.
 */
import { CodeDanceError, toErrorInfo } from '../errors';
import { sniffImageMime } from '../images/sniffImageMime';
import type { PreparedImage, PrepareImageOptions } from '../kernel/types';
import type { AssistantTurn, ObservationInput, ParsedTurn } from '../protocol/types';
import { replayEvents } from '../trajectory/replay';
import type { CodeCell, ModelTurn, Trajectory, TrajectoryImage } from '../trajectory/types';
import { createTrajectory } from '../trajectory/create';
import { Channel } from './channel';
import type { AgentEvent } from '../trajectory/events';
import { observationLimit, type AgentOptions } from './options';
import { keptCode, messageCut } from './resume';
import { addUsage, Cancelled, checkCancel, modelTurn, restoreKernel, runCell, runView } from './steps';

export type { AgentOptions } from './options';

export function runAgent(question: string, images: Uint8Array[], options: AgentOptions): AsyncIterable<AgentEvent> {
  // a consumer that falls behind gets a turn's queued text deltas as one (bounded queue)
  const ch = new Channel<AgentEvent>((a, b) =>
    a.type === 'delta' && b.type === 'delta' && a.turn === b.turn ? { ...a, text: a.text + b.text } : undefined,
  );
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
export async function runAgentToEnd(
  question: string,
  images: Uint8Array[],
  options: AgentOptions,
  onEvent?: (e: AgentEvent) => void,
): Promise<Trajectory> {
  let last: Trajectory | undefined;
  for await (const e of runAgent(question, images, options)) {
    onEvent?.(e);
    if (e.type === 'done') last = e.trajectory;
  }
  if (!last) throw new CodeDanceError('internal', 'agent loop ended without a trajectory');
  return last;
}

/** One run's state, shared by its steps. */
interface Run {
  traj: Trajectory;
  o: AgentOptions;
  maxTurns: number;
  signal: AbortSignal;
  emit: (e: AgentEvent) => void;
  /** the answer a run that ends without one takes (the format's, e.g. DeepEyes' whole last reply) */
  ends: ReplyEnd;
}

async function loop(
  question: string,
  images: Uint8Array[],
  o: AgentOptions,
  signal: AbortSignal,
  emit: (e: AgentEvent) => void,
): Promise<void> {
  const t0 = Date.now();
  if (o.resume) question = o.resume.from.question;
  const protocol = o.protocol;
  const maxTurns = o.maxTurns ?? protocol.defaultMaxTurns;
  const sampling = { ...protocol.defaultSampling, ...stripUndefined(o.sampling ?? {}) };
  const traj = newTrajectory(question, o, maxTurns, sampling);
  emit({
    type: 'start',
    trajectoryId: traj.id,
    question,
    protocol: protocol.id,
    model: o.modelName,
    maxTurns,
    ...(o.kernel.where ? { where: o.kernel.where } : {}),
  });
  const unsubscribe = o.kernel.onStateChange((state) => emit({ type: 'kernel', state }));
  const run: Run = { traj, o, maxTurns, signal, emit, ends: {} };
  try {
    const { firstCall, finished: resumedDone } = o.resume ? await resumeRun(o.resume, run) : await freshStart(question, images, run);
    let finished = resumedDone;
    for (let call = firstCall; call < maxTurns && !finished; call++) {
      checkCancel(signal);
      const turn = await modelTurn(call, traj, o, sampling, signal, emit);
      traj.turns.push(turn);
      finished = await afterReply(turn, run);
    }
    if (traj.status === 'running') {
      traj.status = 'max_turns';
      if (run.ends.fallback !== undefined && traj.answer === undefined) traj.answer = run.ends.fallback;
    }
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

function newTrajectory(question: string, o: AgentOptions, maxTurns: number, sampling: Trajectory['sampling']): Trajectory {
  const traj = createTrajectory({
    question,
    model: o.modelName,
    endpoints: o.endpoints ?? [],
    protocol: o.protocol.id,
    protocolTemplateHash: o.protocolTemplateHash,
    sampling,
    maxTurns,
    python: o.kernel.python,
    ...(o.kernel.where ? { where: o.kernel.where } : {}),
  });
  // the question's known correct answer; a Retry or fork asks the same question, so the one it continues holds
  const reference = o.reference ?? o.resume?.from.reference;
  if (reference) traj.reference = reference;
  return traj;
}

/** A new question: the kernel restored (replay), the input images set in it, the first messages. */
async function freshStart(
  question: string,
  images: Uint8Array[],
  { traj, o, signal, emit }: Run,
): Promise<{ firstCall: number; finished: boolean }> {
  const protocol = o.protocol;
  await restoreKernel(o.replay ?? [], o, signal, emit);
  const prepared = images.length ? await o.kernel.setInputImages(images, protocol.imagePreparation) : [];
  traj.inputImages = modelImages(images, prepared, protocol.imagePreparation);
  const initial = protocol.initialMessages(
    question,
    traj.inputImages.map((im) => im.data),
    {
      ...(o.choices?.length ? { options: o.choices } : {}),
      imageSizes: prepared.map(({ width, height }) => ({ width, height })),
      workdir: o.kernel.workdir,
    },
  );
  traj.messages = o.history?.length ? [...o.history, ...initial.filter((m) => m.role !== 'system')] : initial;
  return { firstCall: 0, finished: false };
}

/**
 * Retry or fork of an earlier run: its first `r.turn` turns kept (and replayed as events, so that a
 * UI rebuilds the run from the stream alone), the kernel restored to where they left it; with
 * edits, turn k's reply stays and its cells run again edited.
 */
async function resumeRun(r: NonNullable<AgentOptions['resume']>, run: Run): Promise<{ firstCall: number; finished: boolean }> {
  const { traj, o, signal, emit } = run;
  const from = r.from;
  const k = Math.max(0, Math.min(r.turn, from.turns.length));
  const edit = r.edits !== undefined && k < from.turns.length;
  traj.inputImages = from.inputImages.map((im) => ({ ...im }));
  const steps = [...(o.replay ?? [])];
  if (r.replayKernel !== false)
    steps.push({
      inputImages: from.inputImages.length ? from.inputImages.map((im) => base64ToBytes(im.data)) : undefined,
      code: keptCode(from, k),
    });
  await restoreKernel(steps, o, signal, emit);
  traj.messages = from.messages.slice(0, messageCut(from, k, edit));
  for (const src of from.turns.slice(0, k)) {
    const t = cloneTurn(src);
    traj.turns.push(t);
    addUsage(traj, t.usage);
  }
  for (const e of replayEvents(from, k)) emit(e);
  if (!edit) return { firstCall: k, finished: false };
  // Edit & re-run: the model's reply of turn k stays; its cells run again with the edits
  const turn: ModelTurn = { ...cloneTurn(from.turns[k]), cells: [], malformed: [], answer: undefined };
  traj.turns.push(turn);
  addUsage(traj, turn.usage);
  emit({ type: 'turn_start', turn: k, endpoint: turn.endpoint });
  if (turn.content) emit({ type: 'delta', turn: k, text: turn.content });
  const finished = await afterReply(turn, run, r.edits);
  return { firstCall: k + 1, finished };
}

/**
 * What follows a model reply: parse, append, run the cells (with optional code edits), add the
 * observation. Returns true when the run is over (the protocol's final answer).
 */
async function afterReply(turn: ModelTurn, run: Run, edits?: Record<string, string>): Promise<boolean> {
  const { traj, o, signal, emit } = run;
  const protocol = o.protocol;
  const call = turn.index;
  const assistant: AssistantTurn = { content: turn.content, toolCalls: turn.toolCalls, finishReason: turn.finishReason };
  // what a format that plans its requests (Thyme) knows: the calls before this one
  const view = runView(traj, o, traj.turns.slice(0, traj.turns.indexOf(turn)));
  const parsed = protocol.parse(assistant, view);
  run.ends.fallback = parsed.fallbackAnswer;
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
  const executed = await runCells(turn, parsed, run, edits);
  for (const m of parsed.malformed) {
    turn.malformed.push(m);
    emit({ type: 'malformed', turn: call, message: m.message });
  }
  checkCancel(signal);
  if (executed.length || parsed.malformed.length) {
    const obs = protocol.observation(executed, parsed.malformed, {
      turnIndex: call,
      maxTurns: run.maxTurns,
      timeoutMs: o.timeoutMs ?? 30_000,
      maxObservationTokens: observationLimit(o.maxObservationTokens),
      history: traj.messages,
    });
    // a format whose run ends on a failed call sends nothing back for it
    if (obs.length) {
      traj.messages.push(...obs);
      emit({ type: 'observation', turn: call, messages: obs });
    }
  }
  if (!protocol.isFinal(parsed, executed, view)) return false;
  traj.status = 'answered';
  if (parsed.answer === undefined && parsed.fallbackAnswer !== undefined) {
    // the run ends without the format's answer (a failed call): its fallback is the answer
    turn.answer = parsed.fallbackAnswer;
    traj.answer = parsed.fallbackAnswer;
  }
  emit({ type: 'answer', turn: call, text: parsed.answer ?? parsed.fallbackAnswer ?? '' });
  return true;
}

/** The reply's code, cell by cell (an edit of Edit & re-run replaces a cell's code; a format's own tool call is not edited). */
async function runCells(
  turn: ModelTurn,
  parsed: ParsedTurn,
  { o, signal, emit }: Run,
  edits?: Record<string, string>,
): Promise<ObservationInput[]> {
  const call = turn.index;
  const executed: ObservationInput[] = [];
  for (const [i, req] of parsed.code.entries()) {
    checkCancel(signal);
    const cell: CodeCell = {
      id: `t${call}-c${i}`,
      turn: call,
      code: req.code,
      toolCallId: req.toolCallId,
      ...(req.tool
        ? { tool: { name: req.tool.name, arguments: req.tool.arguments, ...(req.tool.region ? { region: req.tool.region } : {}) } }
        : {}),
      status: 'pending',
      stdout: '',
      stderr: '',
      images: [],
    };
    // a format's own tool call is not code: it is not edited (its text is only shown)
    const edited = req.tool ? undefined : edits?.[cell.id];
    if (edited !== undefined && edited !== cell.code) {
      cell.originalCode = cell.code;
      cell.code = edited;
    }
    turn.cells.push(cell);
    emit({ type: 'tool_call', turn: call, cell: { ...cell } });
    const result = await runCell(cell, o, signal, emit, req.tool?.kernel, req.via);
    executed.push({
      request: {
        code: cell.code,
        toolCallId: req.toolCallId,
        ...(req.tool ? { tool: req.tool } : {}),
        ...(req.via ? { via: req.via } : {}),
      },
      result,
    });
  }
  return executed;
}

/** What a run that ends without an answer answers: the last reply's `fallbackAnswer`. */
interface ReplyEnd {
  fallback?: string;
}

/** The question's images as the model is sent them: the prepared PNGs, or (resize 'original') the image files' own bytes. */
function modelImages(images: Uint8Array[], prepared: PreparedImage[], prep: PrepareImageOptions): TrajectoryImage[] {
  return prepared.map((p, i) => {
    const own = prep.resize === 'original' ? images[i] : undefined;
    const mime = own ? (sniffImageMime(own) ?? 'image/png') : 'image/png';
    return {
      id: `input-${i}`,
      mime,
      data: own ? Buffer.from(own).toString('base64') : p.pngBase64,
      width: p.width,
      height: p.height,
      source: 'input',
    };
  });
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
