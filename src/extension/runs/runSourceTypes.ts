/**
 * What a run view reads a run from (runSources.ts: a job, a log file), as the run's session sees
 * it: its log as it grows, its state, its files and folders.
 */
import type { RunFiles } from '../../core/runs/runFiles';
import type { RunInfo, RunRef } from '../../protocol/runs';
import type { LogHints } from './logHints';

/** The folders of a run, as far as they are known. */
export interface RunFolders {
  experiment?: string;
  rolloutDir?: string;
  validationDir?: string;
  checkpointDir?: string;
}

export interface RunSource {
  /** stable across reloads: what the saved offsets are kept under */
  readonly key: string;
  readonly ref: RunRef;
  readonly kind: RunInfo['source'];
  readonly where: string;
  readonly name: string;
  /** the log from byte `offset` on, as it grows, until the job ends (a file: until `signal` aborts) */
  follow(offset: number, signal: AbortSignal, onNote: (note: string) => void): AsyncIterable<string>;
  /** whether the job still runs, and its end state once it ended */
  status(): Promise<{ running: boolean; job?: { status: string; exitCode?: number }; note?: string }>;
  /** where the run's files are read, or why they cannot be */
  files(): { files: RunFiles; join: (dir: string, name: string) => string } | { note: string };
  /** the run's folders: from the job's command, else from what the log printed (`hints`) */
  folders(hints: LogHints): RunFolders;
  openLog(): Promise<void>;
  /** closes what the source opened to read the run (an SSH connection) */
  dispose?(): void;
}

/** A followed log file became shorter than what was read of it (rewritten): it is read again from the start. */
export class FileTruncatedError extends Error {
  constructor(file: string) {
    super(`${file} became shorter than what was read of it`);
  }
}
