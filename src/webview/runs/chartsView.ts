/**
 * The run view's chart grid: the first screen's charts (series.ts DEFAULT_CHARTS) and the ones the
 * user added from the key picker, redrawn at most once a frame as steps arrive, each with its
 * runs overlaid, the checkpoints and alarms marked at their steps, the checkpoints' evals as
 * points on the accuracy chart.
 */
import { el } from '../dom';
import { RunChart, type Mark } from './charts';
import { exportName } from './csv';
import { allKeys, chartData, DEFAULT_CHARTS, keyChart, shownKeys, type ChartSpec, type RunSeriesInput } from './series';
import { ask, messenger, runList, saveUi, view } from './state';

export class ChartsView {
  readonly root: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly charts = new Map<string, RunChart>();
  private readonly picker: HTMLInputElement;
  private readonly keyList: HTMLDataListElement;
  private raf = 0;
  private keys: string[] = [];

  constructor() {
    this.root = el('section', { class: 'charts-view', 'aria-label': 'Charts' });
    this.grid = el('div', { class: 'chart-grid' });
    this.keyList = el('datalist', { id: 'metric-keys' });
    this.picker = el('input', {
      type: 'text',
      list: 'metric-keys',
      placeholder: 'add a chart: any metric key…',
      'aria-label': 'Add a chart of a metric key',
      class: 'key-picker',
    });
    this.picker.addEventListener('change', () => this.addKey(this.picker.value.trim()));
    this.picker.addEventListener('keydown', (e) => e.key === 'Enter' && this.addKey(this.picker.value.trim()));
    this.root.append(this.grid, this.keyList);
    new ResizeObserver(() => {
      for (const c of this.charts.values()) c.resize();
    }).observe(this.grid);
  }

  /** Redraws every chart on the next frame (many messages in one frame: one redraw). */
  schedule(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.render();
    });
  }

  private specs(): ChartSpec[] {
    return [...DEFAULT_CHARTS, ...view.ui.added.map(keyChart)];
  }

  private inputs(): RunSeriesInput[] {
    return runList().map((r) => ({ id: r.info.id, label: r.info.label, steps: r.steps, evals: r.evals }));
  }

  private marks(): Mark[] {
    return runList().flatMap((r) => [
      ...r.checkpoints.map((c) => ({ run: r.info.id, step: c.step, kind: 'checkpoint' as const })),
      ...r.alarms
        .filter((a) => a.kind !== 'hang' && a.kind !== 'job-ended')
        .map((a) => ({ run: r.info.id, step: a.step, kind: 'alarm' as const })),
    ]);
  }

  render(): void {
    const runs = this.inputs();
    const keys = allKeys(runs);
    if (keys.join('\n') !== this.keys.join('\n')) this.updateKeys(keys);
    const specs = this.specs();
    for (const [id, c] of this.charts)
      if (!specs.some((s) => s.id === id)) {
        c.destroy();
        c.root.remove();
        this.charts.delete(id);
      }
    const marks = this.marks();
    for (const spec of specs) {
      let c = this.charts.get(spec.id);
      if (!c) {
        c = new RunChart(spec, { png: (s, url) => this.savePng(s, url), remove: (s) => this.removeKey(s) });
        this.charts.set(spec.id, c);
        this.grid.append(c.root);
      }
      c.update(chartData(spec, runs, { x: view.ui.x, smoothing: view.ui.smoothing, keys }), view.ui.x, marks);
    }
    document.body.dataset.steps = String(runs.reduce((n, r) => n + r.steps.length, 0));
  }

  /** The key picker offers every key, the ones not on screen first. */
  private updateKeys(keys: string[]): void {
    this.keys = keys;
    const shown = shownKeys(this.specs(), keys);
    const order = [...keys.filter((k) => !shown.has(k)), ...keys.filter((k) => shown.has(k))];
    this.keyList.replaceChildren(...order.map((k) => el('option', { value: k })));
  }

  /** The key picker, for the toolbar. */
  pickerElement(): HTMLElement {
    return this.picker;
  }

  private addKey(key: string): void {
    if (!key || !this.keys.includes(key) || view.ui.added.includes(key)) return;
    view.ui.added.push(key);
    saveUi();
    this.picker.value = '';
    this.render();
    this.charts.get(`key:${key}`)?.root.scrollIntoView({ block: 'nearest' });
  }

  private removeKey(spec: ChartSpec): void {
    view.ui.added = view.ui.added.filter((k) => `key:${k}` !== spec.id);
    saveUi();
    this.render();
  }

  private savePng(spec: ChartSpec, dataUrl: string): void {
    const name = exportName(
      runList().map((r) => r.info),
      'png',
      spec.id.replace(/^key:/, ''),
    );
    ask(messenger.request({ type: 'savePng', name, dataUrl }), () => undefined);
  }
}
