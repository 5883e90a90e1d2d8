/**
 * What the report says about the run's format and about comparing two runs: the protocol each run
 * spoke (all of them when its samples were asked in more than one), and the warnings the extension
 * sends with an A/B pair (a different protocol, scoring, judge, max turns, image budget, dataset).
 */
import type { ReportRun } from '../../protocol/report';
import { el } from './charts';

/** "codedance", "mixed: codedance, deepeyes", or "unknown" (a results file without a manifest or trajectories) */
export function protocolText(r: ReportRun): string {
  return r.protocols ? `mixed: ${r.protocols.join(', ')}` : (r.protocol ?? 'unknown');
}

/** The A/B warnings, one line each (nothing when there are none). */
export function warningsBox(warnings: readonly string[]): HTMLElement[] {
  if (!warnings.length) return [];
  const box = el('div', { class: 'compare-warnings', role: 'note', 'aria-label': 'Comparing these runs' });
  for (const w of warnings) box.append(el('div', { class: 'lines-warning' }, `⚠ ${w}`));
  return [box];
}
