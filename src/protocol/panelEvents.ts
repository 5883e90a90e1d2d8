/**
 * Agent events as they cross to the chat panel (`PanelEvent`), and a stored exchange as the
 * events that render it. Pure functions: the extension uses them for live runs, the webview for
 * stored exchanges, so both render through the same path. Of core's code they run only
 * `trajectory/replay` (pure, no Node), which the webviews reach through this folder.
 */
import type { AgentEvent } from '../core/trajectory/events';
import type { SessionEvent } from '../core/conversation/types';
import { replayEvents } from '../core/trajectory/replay';
import type { Trajectory } from '../core/trajectory/types';
import type { ExchangeView, PanelEvent, RunSummary, ToWebview } from './chat';

/** The exchange as the panel gets it: no model messages (they can be large and are not shown). */
export function exchangeView(t: Trajectory): ExchangeView {
  const { messages: _messages, ...rest } = t;
  return rest as ExchangeView;
}

export function runSummary(t: Pick<ExchangeView, 'status' | 'turns' | 'maxTurns' | 'usage' | 'durationMs'>): RunSummary {
  return { status: t.status, turns: t.turns.length, maxTurns: t.maxTurns, usage: t.usage, durationMs: t.durationMs };
}

/** The event as the panel gets it, or undefined for what stays in the extension. */
export function toPanelEvent(e: AgentEvent): PanelEvent | undefined {
  switch (e.type) {
    case 'observation':
    case 'kernel':
      return undefined;
    case 'exec_end':
      return { type: 'exec_end', turn: e.turn, cellId: e.cellId, cell: e.cell };
    case 'done':
      return { type: 'done', summary: runSummary(e.trajectory) };
    default:
      return e;
  }
}

/** A stored exchange as the panel events that render it (the same replay the loop uses on resume). */
export function exchangeEvents(x: ExchangeView): PanelEvent[] {
  const events = replayEvents(x).flatMap((e) => toPanelEvent(e) ?? []);
  // where its code ran, as the live exchange said it
  if (x.where)
    events.unshift({
      type: 'start',
      trajectoryId: x.id,
      question: x.question,
      protocol: x.protocol,
      model: x.model,
      maxTurns: x.maxTurns,
      where: x.where,
    });
  events.push({ type: 'done', summary: { ...runSummary(x), reward: x.reward } });
  return events;
}

/** A conversation session's event as the message the panel gets, or undefined for what stays in the extension. */
export function sessionMessage(e: SessionEvent): ToWebview | undefined {
  switch (e.type) {
    case 'conversation':
      return {
        type: 'conversation',
        id: e.conversation.id,
        title: e.conversation.title,
        exchanges: e.conversation.exchanges.map(exchangeView),
      };
    case 'exchangeStart':
      return {
        type: 'exchangeStart',
        run: e.runId,
        index: e.index,
        question: e.question,
        images: e.images.map(({ mime, data }) => ({ mime, data })),
        replace: e.replace,
      };
    case 'event': {
      const event = toPanelEvent(e.event);
      return event && { type: 'event', run: e.runId, index: e.index, event };
    }
    case 'running':
      return { type: 'running', running: e.running };
    case 'kernel':
      return { type: 'kernel', state: e.state };
  }
}
