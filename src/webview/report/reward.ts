/**
 * The seed's training reward in the eval report, as the extension computed it per sample
 * (core/reward/reward.ts on the eval's scoring code; nothing is computed here but counts
 * and means for the charts): a histogram of `score`, the mean of each component (acc, format_r,
 * tool_reward_component, tool_success_rate) per run, a sample's values, and each code cell's
 * call score (a failed call: −0.5).
 */
import { barChart, el, svg } from './charts';
import type { ReportRun, SampleReward } from '../../protocol/report';

const num = (x: number | null | undefined) => (x === undefined ? '—' : x === null ? 'n/a' : String(Math.round(x * 1000) / 1000));

/** One line: score, acc, format_r, tool component and rate, the calls' scores. */
export function rewardText(w: SampleReward): string {
  const parts = w.score !== undefined ? [`score ${num(w.score)}`, `acc ${num(w.acc)}`] : [];
  parts.push(`format_r ${num(w.format_r)}`);
  if (w.tool_reward_component !== undefined) parts.push(`tool_reward_component ${num(w.tool_reward_component)}`);
  parts.push(`tool_success_rate ${num(w.tool_success_rate)}`, `tool_step [${w.tool_step.map(num).join(', ')}]`);
  return parts.join(' · ');
}

export function rewardBox(w: SampleReward & { note?: string }): HTMLElement {
  const box = el('div', { class: 'reward', role: 'note', 'data-score': w.score === undefined ? '' : String(w.score) });
  box.append(el('strong', {}, 'Training reward (the seed’s): '), document.createTextNode(rewardText(w)));
  if (w.note) box.append(el('div', { class: 'muted' }, w.note));
  return box;
}

/** The marker on a code cell: its call's own score in the reward. */
export function cellMarker(score: number): HTMLElement {
  return el(
    'span',
    {
      class: `step ${score < 0 ? 'bad' : 'ok'}`,
      title: 'this call’s score in the seed’s reward (tool_step): −0.5 for a failed call',
      'data-step': String(score),
    },
    score < 0 ? `reward ${score}` : 'reward +0',
  );
}

const COMPONENTS: { key: 'acc' | 'format_r' | 'tool_reward_component' | 'tool_success_rate'; label: string }[] = [
  { key: 'acc', label: 'acc' },
  { key: 'format_r', label: 'format_r' },
  { key: 'tool_reward_component', label: 'tool component' },
  { key: 'tool_success_rate', label: 'tool success rate' },
];

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

/** Horizontal bars around a zero line (format_r is ≤ 0): one row per component, one bar per run. */
function componentsChart(runs: ReportRun[]): HTMLElement {
  const fig = el('figure', { class: 'chart', id: 'chart-reward-components' });
  fig.append(el('figcaption', {}, 'Reward components (mean per sample)'));
  const values = COMPONENTS.map((c) =>
    runs.map((r) => mean(r.samples.flatMap((s) => (s.reward && typeof s.reward[c.key] === 'number' ? [s.reward[c.key] as number] : [])))),
  );
  const lo = Math.min(0, ...values.flat(), -1);
  const hi = Math.max(1, ...values.flat());
  const W = 320;
  const left = 110;
  const right = 44;
  const rowH = 12 * runs.length + 10;
  const H = COMPONENTS.length * rowH + 8;
  const x = (v: number) => left + ((v - lo) / (hi - lo)) * (W - left - right);
  const s = svg('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Reward components' });
  s.append(svg('line', { x1: x(0), x2: x(0), y1: 0, y2: H, class: 'grid' }));
  COMPONENTS.forEach((c, i) => {
    const y0 = 4 + i * rowH;
    s.append(svg('text', { x: left - 6, y: y0 + rowH / 2 + 2, class: 'axis', 'text-anchor': 'end' }, c.label));
    runs.forEach((r, k) => {
      const v = values[i][k];
      const y = y0 + k * 12;
      const rect = svg('rect', {
        x: Math.min(x(0), x(v)),
        y,
        width: Math.max(1, Math.abs(x(v) - x(0))),
        height: 10,
        class: `bar ${k ? 'bar-b' : 'bar-a'}`,
        'data-category': c.key,
        'data-run': r.label,
        'data-value': Math.round(v * 1000) / 1000,
      });
      rect.append(svg('title', {}, `${r.label} · ${c.label}: ${num(v)}`));
      s.append(rect, svg('text', { x: Math.max(x(0), x(v)) + 3, y: y + 9, class: 'value' }, num(v)));
    });
  });
  fig.append(s);
  if (runs.length > 1) {
    const legend = el('div', { class: 'legend' });
    runs.forEach((r, k) => legend.append(el('span', { class: `swatch ${k ? 'bar-b' : 'bar-a'}` }), el('span', {}, r.label)));
    fig.append(legend);
  }
  return fig;
}

/** The score histogram (one bar per score value the seed's formula gives) and the components. */
export function rewardCharts(runs: ReportRun[]): HTMLElement[] {
  if (!runs.some((r) => r.samples.some((s) => s.reward?.score !== undefined))) return [];
  const key = (v: number) => String(Math.round(v * 100) / 100);
  const cats = [
    ...new Set(
      runs.flatMap((r) => r.samples.flatMap((s) => (s.reward?.score !== undefined ? [Math.round(s.reward.score * 100) / 100] : []))),
    ),
  ]
    .sort((a, b) => a - b)
    .map(key);
  const series = runs.map((r) => {
    const counts = new Map<string, number>();
    for (const s of r.samples)
      if (s.reward?.score !== undefined) counts.set(key(s.reward.score), (counts.get(key(s.reward.score)) ?? 0) + 1);
    return { label: r.label, values: cats.map((c) => counts.get(c) ?? 0) };
  });
  return [barChart('Training reward: score per sample', cats, series, { format: String, id: 'chart-reward' }), componentsChart(runs)];
}
