/**
 * The rollout list's sorting and filtering (pure: the unit tests run it in Node): by score, acc,
 * tool calls or data source; filtered by data source, correctness (acc above 0.5, as the seed's
 * tool reward counts a rollout correct) and whether the rollout called the tool.
 */
import type { RolloutRow } from '../../protocol/runs';

export type RolloutSort = 'score-desc' | 'score-asc' | 'acc-desc' | 'tools-desc' | 'tools-asc' | 'source' | 'index';

export interface RolloutFilter {
  dataSource?: string;
  correct?: 'correct' | 'wrong';
  tools?: 'none' | 'some';
}

export const SORTS: { id: RolloutSort; label: string }[] = [
  { id: 'index', label: 'as dumped' },
  { id: 'score-desc', label: 'score ↓' },
  { id: 'score-asc', label: 'score ↑' },
  { id: 'acc-desc', label: 'acc ↓' },
  { id: 'tools-desc', label: 'tool calls ↓' },
  { id: 'tools-asc', label: 'tool calls ↑' },
  { id: 'source', label: 'data source' },
];

/** NaN and missing numbers sort last, whatever the direction. */
function num(v: number | undefined, dir: 1 | -1): number {
  return v === undefined || Number.isNaN(v) ? Infinity : dir * v;
}

export function isCorrect(r: RolloutRow): boolean {
  return (r.acc ?? 0) > 0.5;
}

export function filterRows(rows: RolloutRow[], f: RolloutFilter): RolloutRow[] {
  return rows.filter(
    (r) =>
      (!f.dataSource || r.dataSource === f.dataSource) &&
      (!f.correct || isCorrect(r) === (f.correct === 'correct')) &&
      (!f.tools || r.toolCalls > 0 === (f.tools === 'some')),
  );
}

export function sortRows(rows: RolloutRow[], sort: RolloutSort): RolloutRow[] {
  const by = (key: (r: RolloutRow) => number) => rows.slice().sort((a, b) => key(a) - key(b) || a.index - b.index);
  switch (sort) {
    case 'score-desc':
      return by((r) => num(r.score, -1));
    case 'score-asc':
      return by((r) => num(r.score, 1));
    case 'acc-desc':
      return by((r) => num(r.acc, -1));
    case 'tools-desc':
      return by((r) => -r.toolCalls);
    case 'tools-asc':
      return by((r) => r.toolCalls);
    case 'source':
      return rows.slice().sort((a, b) => a.dataSource.localeCompare(b.dataSource) || a.index - b.index);
    default:
      return rows.slice().sort((a, b) => a.index - b.index);
  }
}

/** The steps to show side by side for a prompt: the one picked, then the earliest and latest others (at most `max`). */
export function compareSteps(picked: number, steps: number[], max = 3): number[] {
  const others = [...new Set(steps)].filter((s) => s !== picked).sort((a, b) => a - b);
  const out = [picked];
  const take = [others[0], others.at(-1), ...others.slice(1, -1).reverse()];
  for (const s of take) if (s !== undefined && !out.includes(s) && out.length < max) out.push(s);
  return out.sort((a, b) => a - b);
}

/** A number of a rollout as the list shows it. */
export function cellNumber(v: number | undefined): string {
  if (v === undefined) return '';
  if (Number.isNaN(v)) return 'nan';
  return String(Math.round(v * 1000) / 1000);
}
