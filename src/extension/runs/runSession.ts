/**
 * One run of a run view: its log followed into a MetricsStore (resumed from the saved offset),
 * the steps sent to the view as they come, the alarms evaluated on every update (and on a timer
 * while the job runs, for a hang), the checkpoints listed now and then, the folders it writes
 * read from its command or its log, its checkpoints' evals (the window's checkpoint-eval index,
 * read again when this window records one or the file changes), and what it kept saved for a
 * window reload.
 */
import { MetricsStore } from '../../core/runs/metricsStore';
import { evaluateAlarms } from '../../core/runs/alarms';
import { checkpointEvalsOf, onCheckpointEvalRecorded, type CheckpointEval } from '../../core/runs/checkpointEvals';
import { listCheckpoints } from '../../core/runs/checkpoints';
import type { Alarm, AlarmThresholds, Checkpoint, StepMetrics } from '../../core/runs/types';
import type { RunInfo, ToRuns } from '../../protocol/runs';
import { checkpointEvalsMessageOf } from './checkpointEvalPoints';
import { logHints, mergeHints, type LogHints } from './logHints';
import type { RunStore } from './runStore';
import { FileTruncatedError, type RunFolders, type RunSource } from './runSourceTypes';

export interface SessionHost {
  post(m: ToRuns): void;
  store: RunStore;
  thresholds(): AlarmThresholds;
  /** an alarm kind the run had not raised (or that had cleared since): told once */
  alarmRaised(session: RunSession, alarm: Alarm): void;
  /** the run's alarms changed (the tree's badge follows) */
  alarmsChanged(session: RunSession): void;
  log: { info(m: string): void; warn(m: string): void };
  /** the checkpoint-eval index this window records into (checkpointEvalsFileForWindow) */
  checkpointEvalsFile(): string;
  /** `fn` is called when the index file changed on disk (the CLI wrote it); returns the unsubscribe */
  onCheckpointEvalsChanged(fn: () => void): { dispose(): void };
}

const ALARM_EVERY_MS = 30_000;
const CHECKPOINTS_EVERY_MS = 60_000;
const SAVE_AFTER_MS = 2000;
const TAIL_BYTES = 65_536;

export class RunSession {
  private store = new MetricsStore();
  private readonly abort = new AbortController();
  private info: RunInfo;
  private hints: LogHints = { dumpDirs: [] };
  private tail = '';
  private told = new Set<string>();
  alarms: Alarm[] = [];
  checkpoints: Checkpoint[] = [];
  private evals: { list: readonly CheckpointEval[]; note?: string } = { list: [] };
  private running = false;
  private job?: { status: string; exitCode?: number };
  private timers: NodeJS.Timeout[] = [];
  private readonly unsubscribe: (() => void)[] = [];
  private saveTimer?: NodeJS.Timeout;
  private alarmTimer?: NodeJS.Timeout;
  private lastAlarmEval = 0;
  private foldersRead = false;
  private savedOnce = false;
  private disposed = false;

  constructor(
    readonly id: string,
    readonly source: RunSource,
    private readonly host: SessionHost,
  ) {
    this.info = { id, label: source.name, where: source.where, source: source.kind, ref: source.ref, state: 'starting', rollouts: {} };
  }

  get label(): string {
    return this.info.label;
  }

  folders(): RunFolders {
    return this.source.folders(this.hints);
  }

  /** Sends everything the view shows of this run (a view that was reloaded asks again). */
  sendAll(): void {
    this.host.post({ type: 'run', run: this.info });
    this.host.post({ type: 'metrics', run: this.id, steps: this.store.snapshot().steps, replace: true });
    this.host.post({ type: 'alarms', run: this.id, alarms: this.alarms });
    this.host.post({ type: 'checkpoints', run: this.id, checkpoints: this.checkpoints });
    this.host.post(checkpointEvalsMessageOf(this.id, this.evals.list, this.evals.note));
  }

  async start(): Promise<void> {
    const saved = await this.host.store.load(this.source.key);
    if (saved) {
      this.store = new MetricsStore(saved);
      this.told = new Set(saved.told);
      this.tail = saved.tail;
      this.hints = saved.hints ?? logHints(saved.tail);
      this.host.log.info(
        `runs: ${this.source.key}: resuming at byte ${saved.bytesRead} with ${saved.metrics?.steps.length ?? 0} saved step(s)`,
      );
    }
    this.updateFolders();
    this.sendAll();
    this.timers.push(
      setInterval(() => void this.checkAlarms(true), ALARM_EVERY_MS),
      setInterval(() => {
        void this.refreshCheckpoints();
        void this.loadEvals(); // a watcher can miss an event: the index is one small file
      }, CHECKPOINTS_EVERY_MS),
    );
    this.watchEvals();
    await this.refreshStatus();
    void this.refreshCheckpoints();
    void this.followLoop();
  }

  /** The run's checkpoint evals: read now, again when this window records one or the index changes on disk. */
  private watchEvals(): void {
    const recorded = onCheckpointEvalRecorded((e) => {
      if (e.runKey === this.source.key && e.file === this.host.checkpointEvalsFile()) this.setEvals({ list: e.evals });
    });
    const changed = this.host.onCheckpointEvalsChanged(() => void this.loadEvals());
    this.unsubscribe.push(recorded, () => changed.dispose());
    void this.loadEvals();
  }

  private async loadEvals(): Promise<void> {
    const file = this.host.checkpointEvalsFile();
    try {
      this.setEvals({ list: await checkpointEvalsOf(file, this.source.key) });
    } catch (e) {
      this.host.log.warn(`runs: ${this.source.key}: checkpoint evals: ${(e as Error).message}`);
      this.setEvals({ list: this.evals.list, note: (e as Error).message });
    }
  }

  private setEvals(evals: { list: readonly CheckpointEval[]; note?: string }): void {
    if (this.disposed || JSON.stringify(evals) === JSON.stringify(this.evals)) return;
    this.evals = evals;
    this.host.post(checkpointEvalsMessageOf(this.id, evals.list, evals.note));
  }

  private update(patch: Partial<RunInfo>): void {
    this.info = { ...this.info, ...patch };
    if (!this.disposed) this.host.post({ type: 'run', run: this.info });
  }

  private async refreshStatus(): Promise<void> {
    try {
      const s = await this.source.status();
      this.running = s.running;
      this.job = s.job;
      if (s.note) this.update({ note: s.note });
    } catch (e) {
      this.host.log.warn(`runs: ${this.source.key}: status: ${(e as Error).message}`);
    }
  }

  private async followLoop(): Promise<void> {
    const signal = this.abort.signal;
    this.update({ state: 'following' });
    try {
      for await (const chunk of this.source.follow(this.store.bytesRead, signal, (note) => this.update({ note }))) {
        if (signal.aborted) return;
        this.ingest(chunk);
      }
      this.ingestEnd();
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof FileTruncatedError) {
        this.host.log.info(`runs: ${e.message}: reading it again`);
        await this.host.store.forget(this.source.key);
        this.store = new MetricsStore();
        this.host.post({ type: 'metrics', run: this.id, steps: [], replace: true });
        return this.followLoop();
      }
      this.host.log.warn(`runs: ${this.source.key}: ${(e as Error).message}`);
      this.update({ state: 'error', note: (e as Error).message });
      return;
    }
    if (signal.aborted) return;
    await this.refreshStatus();
    this.update({ state: 'ended' });
    await this.checkAlarms(true);
    void this.refreshCheckpoints();
    this.saveSoon(0);
  }

  private ingest(chunk: string): void {
    const steps = this.store.feed(chunk, Date.now());
    this.afterRead(chunk, steps);
  }

  private ingestEnd(): void {
    this.afterRead('', this.store.end(Date.now()));
  }

  private afterRead(chunk: string, steps: StepMetrics[]): void {
    const scan = this.tail.slice(-400) + chunk;
    this.tail = (this.tail + chunk).slice(-TAIL_BYTES);
    const named = /Dumped generations to|_data_dir'|default_local_dir'|experiment_name'|project_name'|local_global_step_folder/.test(scan);
    if (named) this.hints = mergeHints(this.hints, logHints(scan));
    // the first chunk: the job's command has been read by now
    if (named || !this.foldersRead) {
      this.foldersRead = true;
      this.updateFolders();
    }
    if (!steps.length) return;
    this.host.post({ type: 'metrics', run: this.id, steps, replace: false });
    void this.checkAlarms(false);
    // the first read (often the whole log so far) is kept at once: a reload right after it resumes from there
    this.saveSoon(this.savedOnce ? SAVE_AFTER_MS : 0);
  }

  /** The folders (and the label: the experiment's name) as the command and the log name them. */
  private updateFolders(): void {
    const f = this.folders();
    const files = this.source.files();
    const note =
      'note' in files
        ? files.note
        : !f.rolloutDir && !f.validationDir
          ? 'the run names no rollout folder (trainer.rollout_data_dir)'
          : undefined;
    const rollouts = {
      ...(f.rolloutDir && { train: f.rolloutDir }),
      ...(f.validationDir && { validation: f.validationDir }),
      ...(note && { note }),
    };
    const patch: Partial<RunInfo> = {
      label: f.experiment ?? this.source.name,
      rollouts,
      ...(f.checkpointDir && { checkpointDir: f.checkpointDir }),
    };
    if (
      JSON.stringify(patch) ===
      JSON.stringify({ label: this.info.label, rollouts: this.info.rollouts, checkpointDir: this.info.checkpointDir })
    )
      return;
    const moved = f.checkpointDir !== this.info.checkpointDir;
    this.update(patch);
    if (moved) void this.refreshCheckpoints();
  }

  /** Evaluates the alarms (at most once a second unless `force`: a later call waits its turn); tells the new ones. */
  private async checkAlarms(force: boolean): Promise<void> {
    const now = Date.now();
    if (!force && now - this.lastAlarmEval < 1000) {
      this.alarmTimer ??= setTimeout(
        () => {
          this.alarmTimer = undefined;
          if (!this.disposed) void this.checkAlarms(false);
        },
        1000 - (now - this.lastAlarmEval),
      );
      return;
    }
    this.lastAlarmEval = now;
    if (force && this.info.state === 'following' && this.source.kind === 'job') await this.refreshStatus();
    const alarms = evaluateAlarms(this.store.snapshot(), this.host.thresholds(), {
      now,
      running: this.running,
      ...(this.job && { job: this.job }),
      logTail: this.tail,
    });
    const kinds = new Set(alarms.map((a) => a.kind));
    for (const a of alarms)
      if (!this.told.has(a.kind)) {
        this.told.add(a.kind);
        this.host.alarmRaised(this, a);
      }
    for (const k of [...this.told]) if (!kinds.has(k as Alarm['kind'])) this.told.delete(k);
    if (JSON.stringify(alarms) === JSON.stringify(this.alarms)) return;
    this.alarms = alarms;
    if (this.disposed) return;
    this.host.post({ type: 'alarms', run: this.id, alarms });
    this.host.alarmsChanged(this);
  }

  private async refreshCheckpoints(): Promise<void> {
    const dir = this.folders().checkpointDir;
    const files = this.source.files();
    if (!dir || 'note' in files) {
      const note = 'note' in files ? files.note : 'the checkpoint folder (trainer.default_local_dir) is not known yet';
      this.host.post({ type: 'checkpoints', run: this.id, checkpoints: [], note });
      return;
    }
    try {
      const list = await listCheckpoints(files.files, dir);
      if (this.disposed || JSON.stringify(list) === JSON.stringify(this.checkpoints)) return;
      this.checkpoints = list;
      this.host.post({ type: 'checkpoints', run: this.id, checkpoints: list, note: `in ${dir}` });
    } catch (e) {
      this.host.post({ type: 'checkpoints', run: this.id, checkpoints: this.checkpoints, note: `${dir}: ${(e as Error).message}` });
    }
  }

  private saveSoon(ms: number): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => void this.save(), ms);
  }

  private async save(): Promise<void> {
    this.saveTimer = undefined;
    this.savedOnce = true;
    await this.host.store
      .save(this.source.key, {
        steps: this.store.snapshot().steps,
        bytesRead: this.store.bytesRead,
        linesRead: this.store.linesRead,
        told: [...this.told],
        tail: this.tail,
        hints: this.hints,
      })
      .catch((e: Error) => this.host.log.warn(`runs: saving ${this.source.key}: ${e.message}`));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.abort.abort();
    this.source.dispose?.();
    for (const t of this.timers) clearInterval(t);
    for (const u of this.unsubscribe.splice(0)) u();
    if (this.alarmTimer) clearTimeout(this.alarmTimer);
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      void this.save();
    }
  }
}
