/**
 * A stored trajectory as the agent events that produced it: written once, used by the loop when
 * it resumes a run (Retry, Edit & re-run: the kept turns go out as events) and by the chat panel
 * when it renders a stored exchange. Types only: the webview bundle imports this file too.
 */
import type { AgentEvent } from './events';
import type { ExecutionResult, OutputImage } from '../kernel/types';
import type { CodeCell, ModelTurn, Trajectory } from './types';

/** What a replay reads of a trajectory (the panel's view of it has no model messages). */
export type ReplaySource = Pick<Trajectory, 'turns' | 'status' | 'answer' | 'error'>;

/** The kernel's result for a stored cell, as `exec_end` carries it. */
export function cellResult(c: CodeCell): ExecutionResult {
  if (c.status === 'skipped') {
    return {
      status: 'error',
      stdout: '',
      stderr: '',
      images: [],
      error: { ename: 'ExecutionSkipped', evalue: 'the user chose not to run this code', traceback: [] },
      durationMs: 0,
    };
  }
  return {
    status: c.status === 'pending' || c.status === 'running' ? 'cancelled' : c.status,
    stdout: c.stdout,
    stderr: c.stderr,
    images: c.images
      .filter((im) => im.source !== 'input')
      .map((im) => ({ mime: im.mime, data: im.data, width: im.width, height: im.height, source: im.source as OutputImage['source'] })),
    error: c.error,
    exited: c.exited,
    durationMs: c.durationMs ?? 0,
  };
}

/** One stored turn as events: its text, each cell (announced, then finished), malformed calls. */
export function turnEvents(t: ModelTurn): AgentEvent[] {
  const ev: AgentEvent[] = [{ type: 'turn_start', turn: t.index, endpoint: t.endpoint }];
  if (t.content) ev.push({ type: 'delta', turn: t.index, text: t.content });
  ev.push({ type: 'turn_end', turn: t.index, content: t.content, latencyMs: t.latencyMs, usage: t.usage, discarded: !!t.discarded });
  for (const c of t.cells) {
    ev.push({ type: 'tool_call', turn: t.index, cell: { ...c, status: 'pending', stdout: '', stderr: '', images: [] } });
    ev.push({ type: 'exec_end', turn: t.index, cellId: c.id, result: cellResult(c), cell: { ...c } });
  }
  for (const m of t.malformed) ev.push({ type: 'malformed', turn: t.index, message: m.message });
  return ev;
}

/**
 * The events of a stored run. `turns`: only the first `turns` turns (the kept part of a resumed
 * run, which never holds its final answer or error); absent = the whole run, with the final
 * answer after the turn that gave it and the run's error last. No `start`/`done`: the caller
 * owns the run's frame.
 */
export function replayEvents(x: ReplaySource, turns?: number): AgentEvent[] {
  const whole = turns === undefined;
  const kept = whole ? x.turns : x.turns.slice(0, turns);
  const answerTurn =
    whole && x.status === 'answered' && x.answer !== undefined
      ? ([...kept].reverse().find((t) => t.answer !== undefined) ?? kept.at(-1))
      : undefined;
  const ev: AgentEvent[] = [];
  for (const t of kept) {
    ev.push(...turnEvents(t));
    if (t === answerTurn) ev.push({ type: 'answer', turn: t.index, text: x.answer ?? '' });
  }
  if (whole && x.status === 'answered' && x.answer !== undefined && !answerTurn) ev.push({ type: 'answer', turn: 0, text: x.answer });
  if (whole && x.error) ev.push({ type: 'error', error: x.error, fatal: true });
  return ev;
}
