/**
 * The end of `codedance eval`: the seed's summary (stderr) and one JSON line (stdout), with the
 * skipped-rows and math-check lines it shows.
 */
import { MATH_SOURCES, type EvalSummary } from '../core/eval';

/** The seed's summary on stderr (unless --quiet), and one JSON line on stdout. */
export function printSummary(v: { quiet?: boolean; 'no-judge'?: boolean }, summary: EvalSummary): void {
  const s = summary.stats;
  const c = s.codedance;
  if (!v.quiet) process.stderr.write(summaryLines(summary, v['no-judge']!).join('\n') + '\n');
  // a results file with lines that did not count says so even with --quiet
  if (v.quiet && c.skipped_lines) process.stderr.write(`warning: ${summary.paths.results}: ${c.skipped_lines.note}\n`);
  console.log(
    JSON.stringify({
      protocol: summary.manifest.protocol,
      avg_acc: s.avg_acc,
      total_samples: s.total_samples,
      skipped_samples: c.skipped_samples,
      skipped_lines: c.skipped_lines?.count ?? 0,
      results: summary.paths.results,
      stats: summary.paths.stats,
      cancelled: summary.cancelled,
    }),
  );
}

function summaryLines(summary: EvalSummary, noJudge: boolean): string[] {
  const s = summary.stats;
  const c = s.codedance;
  const lines = [
    '',
    '=== Samples by try count ===',
    ...Object.entries(c.by_try_count)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([k, x]) => `Try count = ${k}:\n  Correct samples: ${x.correct}\n  Incorrect samples: ${x.incorrect}`),
    '',
    '=== Evaluation summary ===',
    `Protocol: ${summary.manifest.protocol}`,
    ...(summary.manifest.judge.style === 'deepeyes' ? ["Judge: DeepEyes' eval/judge_result.py (--judge-style deepeyes)"] : []),
    `Total samples: ${s.total_samples}`,
    `Successful samples: ${s.success_samples}`,
    `Success rate: ${s.success_rate.toFixed(4)}`,
    `Average accuracy (ACC): ${s.avg_acc.toFixed(4)}${noJudge ? '  (--no-judge: normalized exact match, not comparable with judged numbers)' : ''}`,
    `Total correct samples: ${c.correct}`,
    `Average judge score: ${s.avg_judge_score.toFixed(4)}`,
    `Average try count: ${s.avg_try_count.toFixed(4)}`,
    `Samples with code execution: ${s.tool_call_sample_count}`,
    `Average code execution success rate: ${s.avg_code_exec_success_rate.toFixed(4)}`,
    ...Object.entries(c.per_source).map(([k, x]) => `  ${k}: acc ${x.acc.toFixed(4)} (${x.correct}/${x.n})`),
    `Latency p50/p90/p99: ${(c.latency_ms.p50 / 1000).toFixed(2)} / ${(c.latency_ms.p90 / 1000).toFixed(2)} / ${(c.latency_ms.p99 / 1000).toFixed(2)} s; errors ${(c.sample_error_rate * 100).toFixed(1)}%`,
    skippedLine(c.skipped_samples, c.skipped_by_reason),
    ...(c.skipped_lines ? [`warning: ${summary.paths.results}: ${c.skipped_lines.note}`] : []),
    ...(c.math_check && Object.keys(c.per_source).some((k) => MATH_SOURCES.includes(k))
      ? [mathLine(c.math_check, summary.manifest.math_check?.fix)]
      : []),
    `results: ${summary.paths.results}`,
    `stats:   ${summary.paths.stats}`,
    `manifest: ${summary.paths.manifest}`,
  ];
  if (summary.cancelled) lines.push(`interrupted after ${summary.ranNow} sample(s) this run; rerun the same command to resume`);
  return lines;
}

/** "Skipped rows: 2 (BadRow 1, ImageLoadError 1) …" for the summary. */
export function skippedLine(n: number, byReason: Record<string, number> = {}): string {
  if (!n) return 'Skipped rows: 0';
  const why = Object.entries(byReason)
    .map(([k, x]) => `${k} ${x}`)
    .join(', ');
  return `Skipped rows: ${n}${why ? ` (${why})` : ''}: left out of the stats like the seed; each reason is in its line's codedance.error`;
}

/** The math check for the summary: the seed's math_verify, or approximate with the install command. */
export function mathLine(note: string, fix?: string): string {
  return note.includes('approximate') && fix ? `${note}: for the seed's check run ${fix}` : note;
}
