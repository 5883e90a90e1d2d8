/**
 * What the run view keeps of a run over a window reload: the parsed steps (a file in the
 * extension's workspace storage; they can be megabytes), and in workspaceState the byte and line
 * offsets they cover, the alarms already told, and the end of the log (for a traceback). A run
 * opened again resumes from the offset instead of reading the whole log again.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import type * as vscode from 'vscode';
import { writeFileAtomic } from '../../core/files/atomicWrite';
import type { MetricsStoreState } from '../../core/runs/metricsStore';
import type { StepMetrics } from '../../core/runs/types';
import type { LogHints } from './logHints';

export interface SavedRun extends MetricsStoreState {
  /** alarm kinds already told (each is told again only after it cleared) */
  told: string[];
  /** the last bytes of the log read, for the traceback of a job that died */
  tail: string;
  /** the run's folders as its log named them (the config verl printed at the start is long gone from the tail) */
  hints?: LogHints;
}

interface SavedIndex {
  bytesRead: number;
  linesRead: number;
  told: string[];
  tail: string;
  hints?: LogHints;
  file: string;
}

const KEY = 'codedance.runs.saved';

/** NaN and ±Infinity survive JSON as strings. */
function encode(steps: StepMetrics[]): string {
  return JSON.stringify(steps, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
}
function decode(text: string): StepMetrics[] {
  return JSON.parse(text, (k, v: unknown) =>
    k !== 'step' && k !== 'line' && (v === 'NaN' || v === 'Infinity' || v === '-Infinity') ? Number(v) : v,
  ) as StepMetrics[];
}

export class RunStore {
  constructor(
    private readonly state: vscode.Memento,
    private readonly dir: string,
    private readonly log: { warn(message: string): void },
  ) {}

  private index(): Record<string, SavedIndex> {
    return this.state.get<Record<string, SavedIndex>>(KEY) ?? {};
  }

  private static id(key: string): string {
    return createHash('sha256').update(key).digest('hex').slice(0, 24);
  }

  /** What was kept of run `key`, or undefined (never opened, or its steps file is gone). */
  async load(key: string): Promise<SavedRun | undefined> {
    const saved = this.index()[RunStore.id(key)];
    if (!saved) return undefined;
    let steps: StepMetrics[];
    try {
      steps = decode(await readFile(path.join(this.dir, saved.file), 'utf8'));
    } catch (e) {
      // the storage folder was cleared or the file is damaged: the run is read again from the start
      this.log.warn(`runs: the saved steps of ${key} cannot be read (${(e as Error).message}); reading its log again`);
      return undefined;
    }
    const keys = [...new Set(steps.flatMap((s) => Object.keys(s.values)))].sort();
    return {
      metrics: { steps, keys },
      bytesRead: saved.bytesRead,
      linesRead: saved.linesRead,
      told: saved.told,
      tail: saved.tail,
      ...(saved.hints && { hints: saved.hints }),
    };
  }

  async save(
    key: string,
    run: { steps: StepMetrics[]; bytesRead: number; linesRead: number; told: string[]; tail: string; hints: LogHints },
  ): Promise<void> {
    const id = RunStore.id(key);
    const file = `${id}.json`;
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path.join(this.dir, file), encode(run.steps));
    const index = this.index();
    index[id] = {
      bytesRead: run.bytesRead,
      linesRead: run.linesRead,
      told: run.told,
      tail: run.tail.slice(-32_768),
      hints: run.hints,
      file,
    };
    await this.state.update(KEY, index);
  }

  /** Forgets run `key` (its log was replaced: read it again from the start). */
  async forget(key: string): Promise<void> {
    const id = RunStore.id(key);
    const index = this.index();
    const had = index[id];
    delete index[id];
    await this.state.update(KEY, index);
    if (had) await rm(path.join(this.dir, had.file), { force: true });
  }
}
