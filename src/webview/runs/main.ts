/**
 * The run view webview (bundled for the browser as dist/runs.js, uPlot's stylesheet beside it as
 * dist/runs.css). Renders what the extension sends (src/protocol/runs.ts): the runs' headers,
 * their metric steps as uPlot charts (several runs overlaid), the alarms, the checkpoints, their
 * evals (points on the accuracy chart; the message checked against its schema) and the rollouts. The toolbar: add a run, x = step or hours, EMA smoothing, a chart of any key, CSV.
 * All text goes in as text.
 */
import 'uplot/dist/uPlot.min.css';
import * as v from 'valibot';
import { decodeNonFinite } from '../../protocol/nonFinite';
import { checkpointEvalsMessage, type RunInfo, type ToRuns } from '../../protocol/runs';
import { el } from '../dom';
import { ChartsView } from './chartsView';
import { lineColor } from './charts';
import { exportName, metricsCsv } from './csv';
import { renderAlarms, renderCheckpoints } from './panels';
import { RolloutsView } from './rolloutsView';
import { mergeSteps } from './series';
import { ask, messenger, onError, runList, saveUi, showError, view } from './state';

const root = document.getElementById('root')!;
root.replaceChildren();
const errorBox = el('div', { class: 'error-box', role: 'alert', hidden: '' });
const header = el('header', { class: 'run-header' });
const title = el('h1', {}, 'CodeDance Run');
const runChips = el('div', { class: 'run-chips' });
const toolbar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Run view' });
header.append(title, runChips, toolbar);
const alarmsBox = el('section', { class: 'alarms', role: 'region', 'aria-label': 'Alarms', hidden: '' });
const tabs = el('div', { class: 'tabs', role: 'tablist' });
const charts = new ChartsView();
const checkpoints = el('section', { class: 'checkpoints', 'aria-label': 'Checkpoints' });
const metricsTab = el('div', { class: 'tab-page', role: 'tabpanel', 'data-tab': 'metrics' });
metricsTab.append(charts.root, checkpoints);
const rollouts = new RolloutsView();
const rolloutsTab = el('div', { class: 'tab-page', role: 'tabpanel', 'data-tab': 'rollouts' });
rolloutsTab.append(rollouts.root);
root.append(errorBox, header, alarmsBox, tabs, metricsTab, rolloutsTab);

onError((text) => {
  errorBox.textContent = text;
  errorBox.hidden = false;
});

// ---- toolbar ----
function toolButton(label: string, action: string, titleText: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', { type: 'button', 'data-action': action, title: titleText }, label);
  b.addEventListener('click', onClick);
  return b;
}

function buildToolbar(): void {
  const add = toolButton('Add run…', 'add-run', 'Overlay another job or log file', () => messenger.send({ type: 'addRun' }));
  const xSel = el('select', { 'aria-label': 'x axis', 'data-control': 'x' });
  xSel.append(el('option', { value: 'step' }, 'x: step'), el('option', { value: 'time' }, 'x: hours'));
  xSel.value = view.ui.x;
  xSel.title = 'hours: the sum of timing_s/step (or when the line was read)';
  xSel.addEventListener('change', () => {
    view.ui.x = xSel.value === 'time' ? 'time' : 'step';
    saveUi();
    charts.render();
  });
  const smoothing = el('input', {
    type: 'range',
    min: '0',
    max: '0.99',
    step: '0.01',
    'aria-label': 'Smoothing (EMA weight)',
    'data-control': 'smoothing',
  });
  smoothing.value = String(view.ui.smoothing);
  const smoothLabel = el('span', { class: 'smooth-value' }, view.ui.smoothing.toFixed(2));
  smoothing.addEventListener('input', () => {
    view.ui.smoothing = Number(smoothing.value);
    smoothLabel.textContent = view.ui.smoothing.toFixed(2);
    saveUi();
    charts.schedule();
  });
  const smoothBox = el('label', { class: 'field', title: 'Exponential moving average, as TensorBoard smooths (0: raw values)' });
  smoothBox.append(el('span', {}, 'smoothing'), smoothing, smoothLabel);
  const csv = toolButton('Export CSV…', 'export-csv', 'Every metric of every step of the runs, as CSV', () => {
    const runs = runList().map((r) => ({ id: r.info.id, label: r.info.label, steps: r.steps }));
    ask(messenger.request({ type: 'saveCsv', name: exportName(runs, 'csv'), csv: metricsCsv(runs) }), () => undefined);
  });
  toolbar.append(add, xSel, smoothBox, charts.pickerElement(), csv);
}

function buildTabs(): void {
  const pages = { metrics: metricsTab, rollouts: rolloutsTab };
  const labels = { metrics: 'Metrics', rollouts: 'Rollouts' };
  const show = (t: 'metrics' | 'rollouts') => {
    view.ui.tab = t;
    saveUi();
    for (const [k, p] of Object.entries(pages)) p.hidden = k !== t;
    for (const b of tabs.querySelectorAll('button')) b.setAttribute('aria-selected', String(b.dataset.tab === t));
    if (t === 'rollouts') rollouts.shown();
    else charts.schedule();
  };
  for (const t of ['metrics', 'rollouts'] as const) {
    const b = el('button', { type: 'button', role: 'tab', 'data-tab': t }, labels[t]);
    b.addEventListener('click', () => show(t));
    tabs.append(b);
  }
  show(view.ui.tab);
}

// ---- runs ----
const STATE_TEXT: Record<RunInfo['state'], string> = { starting: 'reading…', following: 'following live', ended: 'ended', error: 'error' };

function renderRuns(): void {
  const runs = runList();
  title.textContent = runs.length ? runs.map((r) => r.info.label).join(' vs ') : 'CodeDance Run';
  runChips.replaceChildren();
  runs.forEach((r, i) => {
    const chip = el('div', { class: `run-chip state-${r.info.state}`, 'data-run': r.info.id });
    const swatch = el('span', { class: `run-swatch dash-${i % 4}`, title: runs.length > 1 ? 'this run’s line style in the charts' : '' });
    swatch.style.borderColor = lineColor(0);
    const last = r.steps.at(-1);
    chip.append(
      swatch,
      el('strong', {}, r.info.label),
      el('span', { class: 'muted run-where', title: r.info.where }, r.info.where),
      el('span', { class: 'run-state' }, `${STATE_TEXT[r.info.state]}${r.info.note ? ` (${r.info.note})` : ''}`),
      el('span', { class: 'muted run-steps' }, `${r.steps.length} step(s)${last ? `, last ${last.step}` : ''}`),
    );
    chip.append(toolButton('Log', 'open-log', 'Open the whole log', () => messenger.send({ type: 'openLog', run: r.info.id })));
    if (runs.length > 1)
      chip.append(
        toolButton('×', 'remove-run', `Remove ${r.info.label} from this view`, () => messenger.send({ type: 'removeRun', run: r.info.id })),
      );
    runChips.append(chip);
  });
}

function onMessage(m: ToRuns): void {
  switch (m.type) {
    case 'reply':
      messenger.settle(m);
      return;
    case 'run': {
      const r = view.runs.get(m.run.id);
      if (r) r.info = m.run;
      else view.runs.set(m.run.id, { info: m.run, steps: [], alarms: [], checkpoints: [], evals: [] });
      saveUi();
      renderRuns();
      rollouts.runsChanged();
      renderCheckpoints(checkpoints);
      return;
    }
    case 'removed':
      view.runs.delete(m.run);
      saveUi();
      renderRuns();
      rollouts.runsChanged();
      renderAlarms(alarmsBox);
      renderCheckpoints(checkpoints);
      charts.schedule();
      return;
    default:
      onRunData(m);
  }
}

function onRunData(m: Exclude<ToRuns, { type: 'reply' | 'run' | 'removed' }>): void {
  const r = view.runs.get(m.run);
  if (!r) return;
  if (m.type === 'metrics') {
    r.steps = m.replace ? m.steps : mergeSteps(r.steps, m.steps);
    renderRuns();
  } else if (m.type === 'alarms') {
    r.alarms = m.alarms;
    renderAlarms(alarmsBox);
  } else if (m.type === 'checkpointEvals') {
    // read from an index file on disk: drawn only when it is what the protocol says
    const ok = v.safeParse(checkpointEvalsMessage, m);
    if (!ok.success) return showError(`the checkpoint evals of ${r.info.label} were not shown: ${v.summarize(ok.issues)}`);
    r.evals = ok.output.series;
    r.evalsNote = ok.output.note;
    renderCheckpoints(checkpoints);
  } else {
    r.checkpoints = m.checkpoints;
    r.checkpointNote = m.note;
    renderCheckpoints(checkpoints);
  }
  charts.schedule();
  document.body.dataset.ready = 'true';
}

buildToolbar();
buildTabs();
renderCheckpoints(checkpoints);
window.addEventListener('message', (ev: MessageEvent<ToRuns>) => onMessage(decodeNonFinite(ev.data)));
messenger.send({ type: 'ready' });
