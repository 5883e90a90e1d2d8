/** Where a resumed run (Retry, Edit & re-run) cuts the earlier run: its kept code and messages. */
import type { Trajectory } from '../trajectory/types';

/** The code of the kept turns (before `k`) that ran to the end, in order: what rebuilds the kernel's state (a format's tool calls change none). */
export function keptCode(from: Trajectory, k: number): string[] {
  return from.turns.slice(0, k).flatMap((t) => t.cells.filter((c) => c.status === 'ok' && !c.tool).map((c) => c.code));
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
