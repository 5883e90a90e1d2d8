/**
 * The run view's lists beside the charts: the alarms (each with its step, its numbers and, for a
 * job that died, its traceback) and the checkpoints (step, folder, merged model, the evals
 * recorded for it; actions through `checkpointAction`, one button per action the protocol names:
 * evaluate and serve need the run's cluster, so a run read from a log file has them disabled).
 */
import type { CheckpointAction } from '../../protocol/runs';
import type { RunState } from './state';
import { el } from '../dom';
import { fmt } from './charts';
import { ask, messenger, runList } from './state';

const ALARM_TITLE: Record<string, string> = {
  'tool-use-collapse': 'Tool use collapsing',
  'tool-success-falling': 'Tool success falling',
  'format-errors-rising': 'Format errors rising',
  'length-clipped': 'Responses hit the length cap',
  nan: 'NaN in the metrics',
  hang: 'No new step (hang?)',
  'job-ended': 'Job ended',
};

/** The alarms of every run, newest step first. */
export function renderAlarms(box: HTMLElement): void {
  const runs = runList();
  const items = runs.flatMap((r) => r.alarms.map((a) => ({ r, a }))).sort((x, y) => y.a.step - x.a.step);
  box.hidden = !items.length;
  box.replaceChildren();
  if (!items.length) return;
  box.append(el('h2', {}, `Alarms (${items.length})`));
  const list = el('ul', { class: 'alarm-list' });
  for (const { r, a } of items) {
    const li = el('li', { class: `alarm alarm-${a.kind}`, 'data-alarm': a.kind, 'data-step': String(a.step) });
    const head = el('div', { class: 'alarm-head' });
    head.append(
      el('span', { class: 'alarm-icon', 'aria-hidden': 'true' }, '⚠'),
      el('strong', {}, ALARM_TITLE[a.kind] ?? a.kind),
      el('span', { class: 'muted' }, ` · step ${a.step}${runs.length > 1 ? ` · ${r.info.label}` : ''}`),
    );
    li.append(head, el('div', { class: 'alarm-message' }, a.message));
    const nums = Object.entries(a.values);
    if (nums.length) li.append(el('div', { class: 'alarm-values muted' }, nums.map(([k, v]) => `${k} ${fmt(v)}`).join(' · ')));
    if (a.detail) {
      const d = el('details', { class: 'alarm-detail' });
      d.append(el('summary', {}, 'Traceback'), el('pre', {}, a.detail));
      li.append(d);
    }
    list.append(li);
  }
  box.append(list);
}

const ACTIONS: { action: CheckpointAction; label: string; title: string; needsJob?: boolean }[] = [
  {
    action: 'evaluate',
    label: 'Evaluate',
    title:
      'Evaluate this checkpoint: merge it into a Hugging Face model (a job on the cluster, unless merged), serve it with vLLM, run the eval on the run’s validation files and put the result on the chart',
    needsJob: true,
  },
  {
    action: 'serve',
    label: 'Serve',
    title: 'Serve this checkpoint with vLLM on the cluster (merged first unless merged): chat and eval can use it',
    needsJob: true,
  },
  { action: 'copyPath', label: 'Copy path', title: 'Copy the checkpoint folder’s path' },
  {
    action: 'copyMergeCommand',
    label: 'Copy merge command',
    title: 'Copy the verl.model_merger command that makes a Hugging Face model of it (to serve it with vLLM)',
  },
];

const NEEDS_JOB =
  'This run was read from a log file, so its cluster is not known: open it from the Training Jobs view (its job) to evaluate or serve its checkpoints.';

/** The evals recorded for a checkpoint: "vstar_val 61.0 % (300)", one per dataset. */
function evalsCell(r: RunState, step: number): HTMLElement {
  const td = el('td', { class: 'ckpt-evals' });
  const found = r.evals.flatMap((s) => s.points.filter((p) => p.step === step).map((p) => ({ dataset: s.dataset, p })));
  if (!found.length) td.append(el('span', { class: 'muted' }, '—'));
  for (const { dataset, p } of found)
    td.append(
      el(
        'div',
        {
          'data-dataset': dataset,
          title: `${p.n} sample(s), ${p.judged ? 'scored by the LLM judge' : 'scored by normalized match (no judge)'}`,
        },
        `${dataset} ${(p.accuracy * 100).toFixed(1)} % (${p.n})`,
      ),
    );
  return td;
}

/** The checkpoints of every run, as a table with the actions of each. */
export function renderCheckpoints(box: HTMLElement): void {
  const runs = runList();
  box.replaceChildren(el('h2', {}, 'Checkpoints'));
  const rows = runs.flatMap((r) => r.checkpoints.map((c) => ({ r, c })));
  for (const r of runs) {
    const who = runs.length > 1 ? `${r.info.label}: ` : '';
    if (r.checkpointNote) box.append(el('p', { class: 'muted' }, `${who}${r.checkpointNote}`));
    if (r.evalsNote) box.append(el('p', { class: 'ckpt-evals-note' }, `${who}checkpoint evals: ${r.evalsNote}`));
  }
  if (!rows.length) {
    box.append(el('p', { class: 'muted' }, 'No checkpoint yet (verl saves one every trainer.save_freq steps).'));
    return;
  }
  const table = el('table', { class: 'ckpt-table' });
  const head = el('tr');
  for (const h of [...(runs.length > 1 ? ['run'] : []), 'step', 'folder', 'merged model', 'evaluated', ''])
    head.append(el('th', { scope: 'col' }, h));
  table.append(el('thead'));
  table.tHead!.append(head);
  const body = el('tbody');
  for (const { r, c } of rows.sort((x, y) => y.c.step - x.c.step)) {
    const tr = el('tr', { 'data-checkpoint': String(c.step) });
    if (runs.length > 1) tr.append(el('td', {}, r.info.label));
    tr.append(el('td', {}, String(c.step)), el('td', { class: 'path', title: c.path }, c.path), el('td', {}, c.mergedPath ?? '—'));
    tr.append(evalsCell(r, c.step));
    const actions = el('td', { class: 'ckpt-actions' });
    for (const a of ACTIONS) {
      const off = a.needsJob && r.info.source !== 'job';
      const b = el('button', { type: 'button', title: off ? NEEDS_JOB : a.title, 'data-action': a.action }, a.label);
      b.disabled = !!off;
      b.addEventListener('click', () =>
        ask(messenger.request({ type: 'checkpointAction', run: r.info.id, step: c.step, action: a.action }), () => undefined),
      );
      actions.append(b);
    }
    tr.append(actions);
    body.append(tr);
  }
  table.append(body);
  box.append(table);
  if (runs.some((r) => r.info.source !== 'job' && r.checkpoints.length)) box.append(el('p', { class: 'muted ckpt-hint' }, NEEDS_JOB));
}
