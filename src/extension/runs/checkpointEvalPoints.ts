/**
 * A run's checkpoint evals (the index "Evaluate this checkpoint" records into,
 * src/core/runs/checkpointEvals.ts) as the run view's `checkpointEvals` message: one series per
 * dataset (`checkpointEvalSeries`), each point with its sample count and how it was scored, for
 * the chart's hover. Pure: the unit tests build it without VS Code.
 */
import { checkpointEvalSeries, type CheckpointEval } from '../../core/runs/checkpointEvals';
import type { CheckpointEvalsMessage } from '../../protocol/runs';

export function checkpointEvalsMessageOf(run: string, evals: readonly CheckpointEval[], note?: string): CheckpointEvalsMessage {
  // one entry per (step, dataset) in the index: the point's entry is found by both
  const entry = new Map(evals.map((e) => [`${e.step}\n${e.dataset}`, e]));
  const series = checkpointEvalSeries(evals).map(({ dataset, points }) => ({
    dataset,
    points: points.map(([step, accuracy]) => {
      const e = entry.get(`${step}\n${dataset}`)!;
      return { step, accuracy, n: e.n, judged: e.judged };
    }),
  }));
  return { type: 'checkpointEvals', run, series, ...(note && { note }) };
}
