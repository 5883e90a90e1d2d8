/**
 * `codedance train watch --job ID`: the job's log followed live (through dropped connections),
 * its key metrics and alarms kept current until the job ends. On a terminal the screen is redrawn
 * every second: the job's state, the last steps, the alarms. Piped, it prints each step as it
 * comes and each alarm once, when it is raised, so a log of it reads top to bottom.
 */
import { isTerminal, type JobBackend, type JobInfo } from '../core/jobs';
import { evaluateAlarms, followJobLog, MetricsStore, type Alarm, type AlarmThresholds, type StepMetrics } from '../core/runs';
import { EXIT } from './errors';
import { alarmLines, fmtNum, metricsHeader, metricsRow } from './trainTable';

export interface WatchOptions {
  thresholds: AlarmThresholds;
  signal: AbortSignal;
  /** steps shown on a terminal */
  rows: number;
  /** how often the job's state is asked (ms, default 10000) and the screen redrawn (default 1000) */
  statusEveryMs?: number;
  tickMs?: number;
}

/** What the watch knows now. */
class WatchState {
  readonly store = new MetricsStore();
  tail = '';
  note = '';
  /** the kinds of alarm raised now (piped output prints an alarm when its kind is raised, again only after it cleared) */
  private active = new Set<string>();

  constructor(
    readonly id: string,
    public info: JobInfo,
    readonly o: WatchOptions,
  ) {}

  alarms(): Alarm[] {
    return evaluateAlarms(this.store.snapshot(), this.o.thresholds, {
      now: Date.now(),
      running: this.info.status === 'RUNNING',
      job: this.info,
      logTail: this.tail,
    });
  }

  /** the whole screen, for a terminal */
  screen(): string {
    const m = this.store.snapshot();
    const last = m.steps.at(-1);
    const head = `job ${this.id}: ${this.info.status}${this.info.exitCode !== undefined ? ` (exit ${this.info.exitCode})` : ''} · ${m.steps.length} steps${last ? `, last ${last.step}` : ''} · ${new Date().toLocaleTimeString()}`;
    const alarms = this.alarms();
    return [
      head,
      '',
      metricsHeader(),
      ...m.steps.slice(-this.o.rows).map(metricsRow),
      '',
      ...(alarms.length ? alarmLines(alarms) : ['no alarms']),
      ...(this.note ? ['', this.note] : []),
    ].join('\n');
  }

  /** piped: the alarms raised since the last call */
  newAlarms(): string[] {
    const now = this.alarms();
    const fresh = now.filter((a) => !this.active.has(a.kind));
    this.active = new Set(now.map((a) => a.kind));
    return alarmLines(fresh);
  }
}

/** The job's final state: the engine may take a moment to settle it after the log ends. */
export async function finalStatus(backend: JobBackend, id: string): Promise<JobInfo> {
  let j = await backend.status(id);
  for (let i = 0; i < 50 && !isTerminal(j.status); i++) {
    await new Promise((r) => setTimeout(r, 200));
    j = await backend.status(id);
  }
  return j;
}

/** 0 when the job succeeded (or still runs), 1 when it failed or was stopped. */
export function exitFor(j: JobInfo): number {
  return isTerminal(j.status) && j.status !== 'SUCCEEDED' ? EXIT.noAnswer : EXIT.ok;
}

const tty = () => process.stdout.isTTY === true;

function draw(w: WatchState): void {
  if (tty()) process.stdout.write(`\x1b[H\x1b[J${w.screen()}\n`);
  else for (const l of w.newAlarms()) console.log(l);
}

/** Piped: the new steps, then what alarms they raised. On a terminal the next redraw shows them. */
function printSteps(w: WatchState, steps: StepMetrics[]): void {
  if (tty() || !steps.length) return;
  for (const s of steps) console.log(metricsRow(s));
  draw(w);
}

/** Asks the job's state every `ms`, one question at a time. */
function pollStatus(backend: JobBackend, w: WatchState, ms: number): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    backend
      .status(w.id)
      .then((info) => {
        w.info = info;
      })
      .catch((e: unknown) => {
        w.note = `the job's state could not be read (${(e as Error).message}); trying again`;
      })
      .finally(() => (busy = false));
  }, ms);
  return () => clearInterval(timer);
}

export async function watchJob(backend: JobBackend, id: string, o: WatchOptions): Promise<number> {
  const w = new WatchState(id, await backend.status(id), o);
  if (!tty()) console.log(metricsHeader());
  const stopPolling = pollStatus(backend, w, o.statusEveryMs ?? 10_000);
  const ticker = setInterval(() => draw(w), o.tickMs ?? 1000);
  try {
    const onReconnect = ({ attempt, offset }: { attempt: number; offset: number }) => {
      w.note = `the log stream dropped: reconnecting (try ${attempt}, after byte ${offset})`;
      if (!tty()) console.error(`codedance: ${w.note}`);
    };
    for await (const chunk of followJobLog(backend, id, { signal: o.signal, onReconnect })) {
      w.tail = (w.tail + chunk).slice(-200_000);
      w.note = '';
      printSteps(w, w.store.feed(chunk, Date.now()));
    }
  } finally {
    clearInterval(ticker);
    stopPolling();
  }
  if (o.signal.aborted) return EXIT.cancelled;
  printSteps(w, w.store.end(Date.now()));
  w.info = await finalStatus(backend, id);
  draw(w);
  const m = w.store.snapshot();
  const last = m.steps.at(-1);
  console.error(
    `codedance: job ${id} ${w.info.status}${w.info.exitCode !== undefined ? ` (exit ${w.info.exitCode})` : ''}; ${m.steps.length} steps${last ? `, the last ${last.step} (score ${fmtNum(last.values['critic/score/mean'])})` : ''}`,
  );
  return exitFor(w.info);
}
