/**
 * A run of the run view (src/extension/runs/runSession.ts) over a stand-in source with the
 * fixture run's real verl log (test/e2e/fixtures/runFixture.ts): the steps reach the view as the
 * chunks come (cut inside a line), the alarms are evaluated and each told once, the folders and
 * the experiment's name come from what verl printed; what it kept (RunStore: steps, offsets, told
 * alarms, the folders; NaN kept) lets a window reload resume from the byte offset without reading the log again
 * and without telling an alarm twice; a log rewritten shorter is read again from the start; the
 * run's checkpoint evals (the index "Evaluate this checkpoint" records into) reach the view at the
 * start, when this window records one, and when the file changes on disk, as a message the
 * webview's schema takes.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as v from 'valibot';
import { DEFAULT_THRESHOLDS } from '../../../src/core/runs/alarms';
import { checkpointEvalsFile, recordCheckpointEval, type CheckpointEval } from '../../../src/core/runs/checkpointEvals';
import type { Alarm } from '../../../src/core/runs/types';
import type { LogHints } from '../../../src/extension/runs/logHints';
import { RunSession, type SessionHost } from '../../../src/extension/runs/runSession';
import { FileTruncatedError, type RunSource } from '../../../src/extension/runs/runSourceTypes';
import { RunStore } from '../../../src/extension/runs/runStore';
import { checkpointEvalsMessage, type CheckpointEvalsMessage, type RunInfo, type ToRuns } from '../../../src/protocol/runs';
import { RUN_EXPERIMENT, RUN_STEPS, runLog } from '../../e2e/fixtures/runFixture';

class Memento {
  private readonly m = new Map<string, unknown>();
  keys(): string[] {
    return [...this.m.keys()];
  }
  get<T>(k: string, d?: T): T | undefined {
    return (this.m.has(k) ? this.m.get(k) : d) as T | undefined;
  }
  async update(k: string, v: unknown): Promise<void> {
    this.m.set(k, JSON.parse(JSON.stringify(v)));
  }
}

/** A finished job whose log is `text`: follow() gives it from the offset in two chunks cut inside a line. */
class FakeJob implements RunSource {
  readonly key = 'job:hpc:4242';
  readonly ref = { kind: 'job' as const, cluster: 'hpc', id: '4242' };
  readonly kind = 'job' as const;
  readonly where = 'hpc · job 4242';
  readonly name = 'job-4242';
  offsets: number[] = [];
  truncateOnce = false;
  constructor(public text: string) {}
  async *follow(offset: number): AsyncIterable<string> {
    this.offsets.push(offset);
    if (this.truncateOnce) {
      this.truncateOnce = false;
      throw new FileTruncatedError('run.log');
    }
    const rest = Buffer.from(this.text, 'utf8').subarray(offset).toString('utf8');
    const cut = Math.floor(rest.length / 2);
    yield rest.slice(0, cut);
    yield rest.slice(cut);
  }
  async status() {
    return { running: false, job: { status: 'SUCCEEDED', exitCode: 0 } };
  }
  files() {
    return { note: 'no files in this test' };
  }
  folders(h: LogHints) {
    return { experiment: h.experiment, rolloutDir: h.rolloutDir, validationDir: h.validationDir, checkpointDir: h.checkpointDir };
  }
  async openLog() {}
}

function host(store: RunStore, evalsFile: string) {
  const posted: ToRuns[] = [];
  const told: Alarm[] = [];
  const changed = new Set<() => void>();
  const h: SessionHost = {
    checkpointEvalsFile: () => evalsFile,
    onCheckpointEvalsChanged: (fn) => {
      changed.add(fn);
      return { dispose: () => changed.delete(fn) };
    },
    post: (m) => posted.push(m),
    store,
    thresholds: () => ({ ...DEFAULT_THRESHOLDS, earlySteps: 10 }),
    alarmRaised: (_s, a) => told.push(a),
    alarmsChanged: () => undefined,
    log: { info: () => undefined, warn: () => undefined },
  };
  return { h, posted, told, changed };
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const lastRun = (posted: ToRuns[]): RunInfo | undefined =>
  posted.filter((m): m is ToRuns & { type: 'run' } => m.type === 'run').at(-1)?.run;

describe('run view: a run followed, alarmed and resumed', () => {
  let dir: string;
  let store: RunStore;
  const sessions: RunSession[] = [];
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-runs-'));
    store = new RunStore(new Memento(), path.join(dir, 'runs'), { warn: () => undefined });
  });
  afterEach(() => {
    for (const s of sessions.splice(0)) s.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(source: FakeJob) {
    const { h, posted, told } = host(store, checkpointEvalsFile(path.join(dir, 'codedance-eval')));
    const s = new RunSession('r1', source, h);
    sessions.push(s);
    await s.start();
    await until('the run to end', () => lastRun(posted)?.state === 'ended');
    // what it kept: the whole log read (its last line included)
    await until('the save', async () => (await store.load(source.key))?.bytesRead === Buffer.byteLength(source.text));
    return { s, posted, told };
  }

  it('sends the steps as they come, tells each alarm once, names the run and its folders from the log', async () => {
    const text = runLog();
    const { posted, told } = await run(new FakeJob(text));
    const steps = posted.flatMap((m) => (m.type === 'metrics' ? m.steps : []));
    assert.equal(new Set(steps.map((s) => s.step)).size, RUN_STEPS);
    assert.ok(posted.filter((m) => m.type === 'metrics' && !m.replace).length >= 2, 'two chunks, two updates');
    assert.deepEqual(told.map((a) => a.kind).sort(), ['job-ended', 'tool-use-collapse']);
    assert.match(told.find((a) => a.kind === 'tool-use-collapse')!.message, /in steps 1–10/);
    const info = lastRun(posted)!;
    assert.equal(info.label, RUN_EXPERIMENT);
    assert.deepEqual(info.rollouts, { train: './rollout_sft_step', validation: './validation_sft_step', note: 'no files in this test' });
    assert.equal(info.checkpointDir, `checkpoints/codedance_rl/${RUN_EXPERIMENT}`);
    const alarms = posted.filter((m) => m.type === 'alarms').at(-1);
    assert.ok(alarms?.type === 'alarms' && alarms.alarms.length === 2);
  });

  it('a reload resumes at the saved byte offset with the saved steps (NaN kept), and tells no alarm again', async () => {
    const nan = 'step:31 - actor/pg_loss:nan - actor/acc:0.6\n';
    // more log after the config verl printed at the start than the saved tail holds
    const filler = '(WorkerDict pid=3012) INFO: sglang engine heartbeat\n'.repeat(1000);
    const text = runLog() + filler + nan;
    const first = new FakeJob(text);
    await run(first);
    sessions.splice(0).forEach((s) => s.dispose());
    const kept = await store.load(first.key);
    assert.ok(kept, 'the run was saved');
    assert.equal(kept.bytesRead, Buffer.byteLength(text));
    assert.ok(Number.isNaN(kept.metrics!.steps.at(-1)!.values['actor/pg_loss']), 'NaN survives the saved file');

    const again = new FakeJob(text + 'step:32 - actor/acc:0.61\n');
    const { posted, told } = await run(again);
    assert.deepEqual(again.offsets, [Buffer.byteLength(text)], 'read only what is new');
    const firstMetrics = posted.find((m) => m.type === 'metrics');
    assert.ok(
      firstMetrics?.type === 'metrics' && firstMetrics.replace && firstMetrics.steps.length === RUN_STEPS + 1,
      'the saved steps first',
    );
    const fresh = posted.flatMap((m) => (m.type === 'metrics' && !m.replace ? m.steps.map((s) => s.step) : []));
    assert.deepEqual(fresh, [32]);
    assert.deepEqual(told, [], 'the alarms were told before the reload');
    // the run's name and folders, from the config at the log's start, were kept with it
    assert.equal(lastRun(posted)?.label, RUN_EXPERIMENT);
    assert.equal(lastRun(posted)?.rollouts.train, './rollout_sft_step');
  });

  it('a log rewritten shorter is read again from the start', async () => {
    const source = new FakeJob(runLog());
    await run(source);
    sessions.splice(0).forEach((s) => s.dispose());
    source.truncateOnce = true;
    source.offsets = [];
    const { posted } = await run(source);
    assert.deepEqual(source.offsets.slice(1), [0]);
    assert.ok(
      posted.some((m) => m.type === 'metrics' && m.replace && m.steps.length === 0),
      'the view is told to start over',
    );
  });
});

const evalAt = (step: number, dataset: string, accuracy: number, n = 300): CheckpointEval => ({
  step,
  accuracy,
  n,
  dataset,
  dataFile: `/scratch/data/${dataset}.parquet`,
  evalDir: `/ws/codedance-eval/exp-step${step}/${dataset}`,
  model: `/scratch/ckpt/global_step_${step}/merged_hf`,
  judged: dataset !== 'chartqa_val',
  finishedAt: '2025-11-20T12:00:00.000Z',
});

describe('run view: a run’s checkpoint evals', () => {
  let dir: string;
  let file: string;
  const sessions: RunSession[] = [];
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codedance-runs-evals-'));
    file = checkpointEvalsFile(path.join(dir, 'codedance-eval'));
  });
  afterEach(() => {
    for (const s of sessions.splice(0)) s.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const evalMessages = (posted: ToRuns[]) => posted.filter((m): m is CheckpointEvalsMessage => m.type === 'checkpointEvals');
  const lastEvals = (posted: ToRuns[]) => evalMessages(posted).at(-1);

  async function open(source: FakeJob) {
    const store = new RunStore(new Memento(), path.join(dir, 'runs'), { warn: () => undefined });
    const { h, posted, changed } = host(store, file);
    const s = new RunSession('r1', source, h);
    sessions.push(s);
    await s.start();
    await until('the run to end', () => lastRun(posted)?.state === 'ended');
    await until('the save', async () => (await store.load(source.key))?.bytesRead === Buffer.byteLength(source.text));
    return { s, posted, changed };
  }

  it('sends the evals recorded before, then each one this window records for the run (not another run’s)', async () => {
    await recordCheckpointEval(file, 'job:hpc:4242', evalAt(20, 'vstar_val', 0.61));
    await recordCheckpointEval(file, 'job:hpc:9999', evalAt(20, 'vstar_val', 0.1));
    const { posted } = await open(new FakeJob(runLog()));
    await until('the evals read', () => lastEvals(posted)?.series.length === 1);
    assert.deepEqual(lastEvals(posted), {
      type: 'checkpointEvals',
      run: 'r1',
      series: [{ dataset: 'vstar_val', points: [{ step: 20, accuracy: 0.61, n: 300, judged: true }] }],
    });

    const before = evalMessages(posted).length;
    await recordCheckpointEval(file, 'job:hpc:9999', evalAt(30, 'vstar_val', 0.2));
    await recordCheckpointEval(file, 'job:hpc:4242', evalAt(10, 'vstar_val', 0.55, 120));
    await recordCheckpointEval(file, 'job:hpc:4242', evalAt(20, 'chartqa_val', 0.48));
    // evaluating the same step on the same dataset again replaces its point
    await recordCheckpointEval(file, 'job:hpc:4242', evalAt(20, 'vstar_val', 0.63));
    await until('the recorded evals', () => evalMessages(posted).length === before + 3);
    const m = lastEvals(posted)!;
    assert.deepEqual(m.series, [
      {
        dataset: 'vstar_val',
        points: [
          { step: 10, accuracy: 0.55, n: 120, judged: true },
          { step: 20, accuracy: 0.63, n: 300, judged: true },
        ],
      },
      { dataset: 'chartqa_val', points: [{ step: 20, accuracy: 0.48, n: 300, judged: false }] },
    ]);
    assert.ok(v.safeParse(checkpointEvalsMessage, m).success, 'the message the webview checks');
  });

  it('reads the index again when the file changes on disk (the CLI wrote it), and says why it cannot', async () => {
    const { posted, changed } = await open(new FakeJob(runLog()));
    await until('the first (empty) evals', () => lastEvals(posted)?.series.length === 0);
    // another process (codedance train eval-checkpoint in the workspace) wrote the index
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(
      file,
      JSON.stringify({
        kind: 'codedance-checkpoint-evals',
        version: 1,
        runs: { 'job:hpc:4242': [evalAt(30, 'vstar_val', 0.7), { step: -1 }] },
      }),
    );
    for (const fn of changed) fn();
    await until('the evals read again', () => lastEvals(posted)?.series.length === 1);
    assert.deepEqual(lastEvals(posted)?.series[0].points, [{ step: 30, accuracy: 0.7, n: 300, judged: true }], 'the bad entry dropped');

    writeFileSync(file, '{ not json');
    for (const fn of changed) fn();
    await until('the note', () => lastEvals(posted)?.note !== undefined);
    assert.match(lastEvals(posted)!.note!, /checkpoint-evals\.json is not JSON .*delete it to start a new index/);
    assert.equal(lastEvals(posted)!.series.length, 1, 'the points read before stay');
    assert.ok(v.safeParse(checkpointEvalsMessage, lastEvals(posted)).success);
  });

  it('a run disposed hears of no more evals', async () => {
    const { s, posted, changed } = await open(new FakeJob(runLog()));
    await until('the first evals', () => evalMessages(posted).length === 1);
    s.dispose();
    assert.equal(changed.size, 0, 'the watcher released');
    await recordCheckpointEval(file, 'job:hpc:4242', evalAt(10, 'vstar_val', 0.5));
    assert.equal(evalMessages(posted).length, 1);
  });
});
