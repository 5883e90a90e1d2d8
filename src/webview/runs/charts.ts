/**
 * One uPlot chart of the run view: its figure (title, PNG button, remove button for an added
 * chart), lines in the theme's chart colours (a line's colour by its place in the chart, a run's
 * dash by its place in the view), a faint raw line behind a smoothed one, the values under the
 * cursor in the legend (the cursor is synced across charts; a chart of points shows the point
 * nearest the cursor), checkpoint evals as large points with their numbers in the legend,
 * checkpoint and alarm marks at their steps, and its PNG (the plot with its title and legend drawn
 * above it).
 */
import uPlot from 'uplot';
import { el } from '../dom';
import type { ChartData, ChartSpec, XMode } from './series';

/** A vertical mark at a run's step: a checkpoint (dashed) or an alarm (red). */
export interface Mark {
  run: string;
  step: number;
  kind: 'checkpoint' | 'alarm';
}

const PALETTE = ['blue', 'orange', 'green', 'purple', 'red', 'yellow'];
const FALLBACK: Record<string, string> = {
  blue: '#3794ff',
  orange: '#d18616',
  green: '#89d185',
  purple: '#b180d7',
  red: '#f14c4c',
  yellow: '#cca700',
};
const RUN_DASH: (number[] | undefined)[] = [undefined, [7, 4], [2, 3], [10, 3, 2, 3]];

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

export function lineColor(i: number): string {
  const c = PALETTE[i % PALETTE.length];
  return cssVar(`--vscode-charts-${c}`, FALLBACK[c]);
}

function runDash(runIndex: number): number[] | undefined {
  return RUN_DASH[runIndex % RUN_DASH.length];
}

/** A number as the legend and the axes show it: 4 significant digits, or — for none. */
export function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** Whether the cursor is over the plot (a series without a value near it then shows none, not its latest). */
const cursorOnPlot = (u: uPlot) => u.cursor.idx !== null && u.cursor.idx !== undefined;

/** The legend's value: at the cursor, or the series' latest value while the cursor is elsewhere. */
function latestWhenIdle(u: uPlot, v: number | null, seriesIdx: number, idx: number | null): string {
  if (idx !== null) return fmt(v);
  if (cursorOnPlot(u)) return fmt(null);
  const data = u.data[seriesIdx] as (number | null | undefined)[];
  for (let i = data.length - 1; i >= 0; i--) if (data[i] !== null && data[i] !== undefined) return fmt(data[i]);
  return fmt(null);
}

/** The legend's text of a checkpoint eval series (the chart's data now): the point's at the cursor, else the latest one's. */
function hoverValue(live: () => ChartData | undefined): uPlot.Series.Value {
  return (u, _v, seriesIdx, idx) => {
    const hover = live()?.series[seriesIdx - 1]?.hover ?? [];
    if (idx !== null) return hover[idx] ?? '—';
    if (cursorOnPlot(u)) return '—';
    for (let i = hover.length - 1; i >= 0; i--) if (hover[i] !== null) return hover[i]!;
    return '—';
  };
}

/** A point series under the cursor: its point nearest the cursor within this many CSS pixels (a line: the cursor's x). */
const POINT_REACH_PX = 20;

function nearestPoint(u: uPlot, data: ChartData, seriesIdx: number, idx: number): number | null {
  const ys = u.data[seriesIdx] as (number | null)[] | undefined;
  if (!seriesIdx || !data.series[seriesIdx - 1]?.points || !ys || (ys[idx] !== null && ys[idx] !== undefined)) return idx;
  const left = u.cursor.left ?? -1;
  let best: number | null = null;
  let reach = POINT_REACH_PX;
  ys.forEach((y, i) => {
    if (y === null || y === undefined) return;
    const d = Math.abs(u.valToPos(u.data[0][i], 'x') - left);
    if (d <= reach) [best, reach] = [i, d];
  });
  return best;
}

/** `live`: the chart's data now (setData keeps the series' options: the eval numbers are read from it). */
function seriesOpts(data: ChartData, live: () => ChartData | undefined): uPlot.Series[] {
  const bg = cssVar('--vscode-editor-background', '#1e1e1e');
  return data.series.map((s) => {
    const stroke = lineColor(s.lineIndex);
    const base: uPlot.Series = {
      label: s.label,
      stroke,
      scale: s.right ? 'right' : 'y',
      spanGaps: true,
      value: s.hover ? hoverValue(live) : latestWhenIdle,
      class: s.raw ? 'raw' : s.hover ? 'eval' : undefined,
    };
    // a checkpoint eval: a large dot ringed in the background's colour over the training line, a
    // dataset's dots joined by a faint dashed line (its trend across checkpoints)
    if (s.hover)
      return { ...base, width: 1, alpha: 0.7, dash: [3, 3], points: { show: true, size: 13, width: 2, stroke: bg, fill: stroke } };
    if (s.points) return { ...base, paths: () => null, points: { show: true, size: 7, stroke, fill: stroke } };
    return { ...base, width: s.raw ? 1 : 1.6, alpha: s.raw ? 0.25 : 1, dash: runDash(s.runIndex), points: { show: false } };
  });
}

function axes(hasRight: boolean): uPlot.Axis[] {
  const fg = cssVar('--vscode-descriptionForeground', '#999');
  const grid = cssVar('--vscode-panel-border', '#8884');
  const axis = (extra: uPlot.Axis): uPlot.Axis => ({
    stroke: fg,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 },
    font: '11px sans-serif',
    values: (_u, splits) => splits.map(fmt),
    ...extra,
  });
  // the x axis is named in the legend (step: … / hours: …)
  const out = [axis({ size: 30 }), axis({ size: 52 })];
  if (hasRight) out.push(axis({ scale: 'right', side: 1, size: 48, grid: { show: false } }));
  return out;
}

/** Draws the marks (checkpoints dashed, alarms red) over the plot at their runs' x of the step. */
function drawMarks(u: uPlot, marks: Mark[], data: ChartData): void {
  const { ctx, bbox } = u;
  ctx.save();
  for (const m of marks) {
    const x = data.xOfStep.get(m.run)?.get(m.step);
    if (x === undefined) continue;
    const px = Math.round(u.valToPos(x, 'x', true));
    if (px < bbox.left || px > bbox.left + bbox.width) continue;
    ctx.strokeStyle = m.kind === 'alarm' ? lineColor(4) : cssVar('--vscode-descriptionForeground', '#999');
    ctx.globalAlpha = m.kind === 'alarm' ? 0.8 : 0.55;
    ctx.lineWidth = uPlot.pxRatio;
    ctx.setLineDash(m.kind === 'alarm' ? [] : [3 * uPlot.pxRatio, 3 * uPlot.pxRatio]);
    ctx.beginPath();
    ctx.moveTo(px, bbox.top);
    ctx.lineTo(px, bbox.top + bbox.height);
    ctx.stroke();
  }
  ctx.restore();
}

export interface ChartHandlers {
  png(spec: ChartSpec, dataUrl: string): void;
  remove(spec: ChartSpec): void;
}

export class RunChart {
  readonly root: HTMLElement;
  private readonly plotEl: HTMLElement;
  private readonly emptyEl: HTMLElement;
  private plot?: uPlot;
  private shape = '';
  private data?: ChartData;
  private marks: Mark[] = [];

  constructor(
    readonly spec: ChartSpec,
    handlers: ChartHandlers,
  ) {
    this.root = el('figure', { class: 'run-chart', 'data-chart': spec.id });
    const cap = el('figcaption');
    cap.append(el('span', { class: 'chart-title', title: spec.title }, spec.title));
    const png = el('button', { type: 'button', class: 'icon-btn', title: 'Save this chart as PNG…', 'data-action': 'png' }, 'PNG');
    png.addEventListener('click', () => this.plot && handlers.png(spec, this.png()));
    cap.append(png);
    if (spec.added) {
      const rm = el('button', { type: 'button', class: 'icon-btn', title: 'Remove this chart', 'data-action': 'remove-chart' }, '×');
      rm.addEventListener('click', () => handlers.remove(spec));
      cap.append(rm);
    }
    this.plotEl = el('div', { class: 'plot' });
    this.emptyEl = el('div', { class: 'chart-empty muted' }, 'no values yet');
    this.root.append(cap, this.plotEl, this.emptyEl);
  }

  /** Draws `data` (a new plot when the series changed, else new data on the same plot). */
  update(data: ChartData, x: XMode, marks: Mark[]): void {
    this.data = data;
    this.marks = marks;
    const empty = !data.series.length || !data.xs.length;
    this.emptyEl.hidden = !empty;
    this.root.classList.toggle('empty', empty);
    this.root.dataset.series = String(data.series.filter((s) => !s.raw).length);
    this.root.dataset.evalPoints = String(data.series.reduce((n, s) => n + (s.hover?.filter((h) => h !== null).length ?? 0), 0));
    if (empty) {
      this.destroy();
      return;
    }
    const shape = JSON.stringify([x, data.series.map((s) => [s.label, s.right, s.points, s.raw])]);
    const aligned = [data.xs, ...data.series.map((s) => s.values)] as uPlot.AlignedData;
    if (this.plot && shape === this.shape) {
      this.plot.setData(aligned);
      return;
    }
    this.destroy();
    this.shape = shape;
    const width = Math.max(260, this.plotEl.clientWidth || 360);
    const opts: uPlot.Options = {
      width,
      height: 190,
      scales: { x: { time: false }, right: { auto: true } },
      series: [{ label: x === 'step' ? 'step' : 'hours', value: latestWhenIdle }, ...seriesOpts(data, () => this.data)],
      axes: axes(data.series.some((s) => s.right)),
      cursor: {
        sync: { key: 'codedance-runs', setSeries: false },
        points: { size: 6 },
        dataIdx: (u, si, idx) => (this.data ? nearestPoint(u, this.data, si, idx) : idx),
      },
      legend: { live: true },
      hooks: { draw: [(u) => this.data && drawMarks(u, this.marks, this.data)] },
    };
    this.plot = new uPlot(opts, aligned, this.plotEl);
  }

  /** Follows the figure's width. */
  resize(): void {
    if (!this.plot) return;
    const width = Math.max(260, this.plotEl.clientWidth);
    if (Math.abs(width - this.plot.width) > 2) this.plot.setSize({ width, height: 190 });
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.shape = '';
  }

  /** The plot as a PNG data: URL, its title and legend drawn above it on the editor's background. */
  png(): string {
    const src = this.plot!.ctx.canvas;
    const r = uPlot.pxRatio;
    const head = Math.round(44 * r);
    const out = document.createElement('canvas');
    out.width = src.width;
    out.height = src.height + head;
    const ctx = out.getContext('2d')!;
    ctx.fillStyle = cssVar('--vscode-editor-background', '#1e1e1e');
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.fillStyle = cssVar('--vscode-foreground', '#ccc');
    ctx.font = `${Math.round(13 * r)}px sans-serif`;
    ctx.fillText(this.spec.title, 8 * r, 16 * r);
    ctx.font = `${Math.round(11 * r)}px sans-serif`;
    let x = 8 * r;
    for (const s of this.data?.series ?? []) {
      if (s.raw) continue;
      ctx.fillStyle = lineColor(s.lineIndex);
      ctx.fillRect(x, 28 * r, 10 * r, 10 * r);
      ctx.fillStyle = cssVar('--vscode-foreground', '#ccc');
      ctx.fillText(s.label, x + 14 * r, 37 * r);
      x += (ctx.measureText(s.label).width + 30 * r) | 0;
    }
    ctx.drawImage(src, 0, head);
    return out.toDataURL('image/png');
  }
}
