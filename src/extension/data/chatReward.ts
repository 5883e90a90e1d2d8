/**
 * The seed's training reward on the chat's messages to the panel (computed here, in the
 * extension, from the whole trajectory; the webview only shows it): a finished run's `done`
 * summary and every exchange of a conversation the panel is given carry `reward`, with each
 * cell's call score for the markers on the cells and, when the question came with a ground truth
 * (an eval sample opened in the chat), acc and score.
 */
import type { SessionEvent } from '../../core/conversation/types';
import { trajectoryReward } from '../../core/reward/reward';
import type { Trajectory } from '../../core/trajectory/types';
import { exchangeView } from '../../protocol/panelEvents';
import type { ExchangeView, ToWebview } from '../../protocol/chat';

/** The exchange as the panel gets it, with its reward. */
export function exchangeWithReward(t: Trajectory): ExchangeView {
  return { ...exchangeView(t), reward: trajectoryReward(t) };
}

/** The panel message made from session event `e`, with the reward added where the trajectory is known. */
export function withReward(m: ToWebview, e: SessionEvent): ToWebview {
  if (m.type === 'conversation' && e.type === 'conversation') return { ...m, exchanges: e.conversation.exchanges.map(exchangeWithReward) };
  if (m.type === 'event' && m.event.type === 'done' && e.type === 'event' && e.event.type === 'done')
    return { ...m, event: { ...m.event, summary: { ...m.event.summary, reward: trajectoryReward(e.event.trajectory) } } };
  return m;
}
