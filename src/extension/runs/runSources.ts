/**
 * Where a run view reads a run from: a training job (its log followed through the cluster's
 * backend, its folders from its own command, its files over the Slurm profile's SSH connection),
 * or a log file on this machine (read as it grows; its folders from what verl printed into it,
 * relative to the folder the trainer ran in: the log's folder or the one above it).
 */
import { existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import * as posix from 'node:path/posix';
import * as vscode from 'vscode';
import { isTerminal, SlurmBackend, type JobBackend, type JobInfo } from '../../core/jobs';
import type { SshConnection } from '../../core/jobs/SshConnection';
import { followJobLog } from '../../core/runs/follow';
import { jobRun } from '../../core/runs/jobRun';
import { runConfigFromJob } from '../../core/runs/runConfig';
import { localRunFiles, sshRunFiles, type RunFiles } from '../../core/runs/runFiles';
import { rayJumpConnection } from '../../core/serve';
import type { RunRef } from '../../protocol/runs';
import type { EditorClusterProfile } from '../jobs/clusterProfiles';
import { JobNode } from '../jobs/JobsTreeProvider';
import type { LogHints } from './logHints';
import { FileTruncatedError, type RunFolders, type RunSource } from './runSourceTypes';

const isLocalHost = (url: string) => /^[a-z]+:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:|\/|$)/i.test(url);

export class JobRunSource implements RunSource {
  readonly key: string;
  readonly ref: RunRef;
  readonly kind = 'job' as const;
  readonly where: string;
  readonly name: string;
  private script?: string;
  /** Ray with a jump host: the SSH connection the run's files are read over, and the run's files there */
  private jump?: SshConnection;
  private jumpRun?: Promise<RunFiles>;

  constructor(
    readonly profile: EditorClusterProfile,
    private job: JobInfo,
    private readonly backend: () => Promise<JobBackend>,
    private readonly noteStatus: (profile: EditorClusterProfile, job: JobInfo) => void,
  ) {
    this.key = `job:${profile.name}:${job.id}`;
    this.ref = { kind: 'job', cluster: profile.name, id: job.id, ...(job.name && { name: job.name }) };
    this.where = `${profile.name} · job ${job.id}`;
    this.name = job.name ?? job.id;
  }

  async *follow(offset: number, signal: AbortSignal, onNote: (note: string) => void): AsyncIterable<string> {
    const b = await this.backend();
    await this.readScript(b);
    yield* followJobLog(b, this.job.id, {
      offset,
      signal,
      onReconnect: ({ attempt, error }) => onNote(`reconnecting (try ${attempt})${error ? `: ${(error as Error).message}` : ''}`),
    });
  }

  /** Slurm: the batch script's text (its path is the job's command), read once, for the run's folders. */
  private async readScript(b: JobBackend): Promise<void> {
    if (this.script !== undefined || !(b instanceof SlurmBackend) || !this.job.entrypoint?.startsWith('/')) return;
    this.script = await sshRunFiles(b.ssh)
      .read(this.job.entrypoint)
      .catch(() => ''); // the script was removed: the folders then come from the log
  }

  async status(): Promise<{ running: boolean; job?: { status: string; exitCode?: number }; note?: string }> {
    const info = await (await this.backend()).status(this.job.id);
    this.job = { ...this.job, ...info };
    this.noteStatus(this.profile, info);
    const job = { status: info.status, ...(info.exitCode !== undefined && { exitCode: info.exitCode }) };
    return { running: !isTerminal(info.status), job, note: info.status.toLowerCase() };
  }

  files(): { files: RunFiles; join: (dir: string, name: string) => string } | { note: string } {
    const join = (d: string, n: string) => posix.join(d, n);
    if (this.profile.kind === 'slurm') {
      return { files: slurmFiles(this.backend), join };
    }
    if (isLocalHost(this.profile.address)) return { files: localRunFiles(), join: (d, n) => path.join(d, n) };
    if (this.profile.jumpHost?.host) return { files: this.jumpHostFiles(), join };
    return {
      note: `the job runs on the Ray cluster at ${this.profile.address}, whose files the editor cannot read: give the profile a jumpHost that sees the run's folders (they are then read over SFTP there)`,
    };
  }

  /** Ray: the run's files over SFTP on the profile's jump host (core's jobRun: absolute folders only, a relative one refused with why). */
  private jumpHostFiles(): RunFiles {
    const files = async (): Promise<RunFiles> => {
      if (this.profile.kind !== 'ray') throw new Error('not a Ray cluster');
      this.jump ??= rayJumpConnection(this.profile);
      this.jumpRun ??= jobRun(await this.backend(), this.job.id, { rayHost: this.jump }).then((r) => r.files!);
      return this.jumpRun;
    };
    return {
      list: async (d) => (await files()).list(d),
      read: async (p) => (await files()).read(p),
      listDeep: async (d, depth) => (await files()).listDeep!(d, depth),
    };
  }

  dispose(): void {
    this.jump?.close();
    this.jump = undefined;
    this.jumpRun = undefined;
  }

  folders(hints: LogHints): RunFolders {
    const command = this.script || (this.profile.kind === 'ray' ? this.job.entrypoint : undefined);
    const workDir = this.profile.kind === 'slurm' && this.job.entrypoint ? posix.dirname(this.job.entrypoint) : undefined;
    const c = command ? runConfigFromJob(command, workDir) : undefined;
    const explicit = (k: string) => !!command && command.includes(k);
    const rel = (p: string | undefined) => (p && workDir && !/^[/~]/.test(p) ? posix.join(workDir, p) : p);
    return {
      experiment: (explicit('trainer.experiment_name') ? c?.experiment : undefined) ?? hints.experiment ?? this.job.name,
      rolloutDir: c?.rolloutDir ?? rel(hints.rolloutDir),
      validationDir: c?.validationDir ?? rel(hints.validationDir),
      checkpointDir:
        (explicit('trainer.default_local_dir') || explicit('trainer.experiment_name') ? c?.checkpointDir : undefined) ??
        rel(hints.checkpointDir),
    };
  }

  async openLog(): Promise<void> {
    await vscode.commands.executeCommand('codedance.jobs.showLogs', new JobNode(this.profile, this.job));
  }
}

/** Files over the Slurm backend's own SSH connection (the backend is made on first use). */
function slurmFiles(backend: () => Promise<JobBackend>): RunFiles {
  const files = async () => {
    const b = await backend();
    if (!(b instanceof SlurmBackend)) throw new Error('not a Slurm cluster');
    return sshRunFiles(b.ssh);
  };
  return {
    list: async (d) => (await files()).list(d),
    read: async (p) => (await files()).read(p),
    listDeep: async (d, depth) => (await files()).listDeep!(d, depth),
  };
}

/** How often a followed log file is looked at for new bytes. */
const FILE_POLL_MS = 1000;

export class FileRunSource implements RunSource {
  readonly key: string;
  readonly ref: RunRef;
  readonly kind = 'file' as const;
  readonly where: string;
  readonly name: string;

  constructor(readonly file: string) {
    this.key = `file:${file}`;
    this.ref = { kind: 'file', path: file };
    this.where = vscode.workspace.asRelativePath(file);
    this.name = path.basename(file).replace(/\.(log|txt|out)$/i, '');
  }

  /** The file from `offset` on, then what is appended to it, until `signal` aborts; a file cut shorter throws. */
  async *follow(offset: number, signal: AbortSignal): AsyncIterable<string> {
    const decoder = new TextDecoder('utf-8');
    let at = offset;
    while (!signal.aborted) {
      const size = existsSync(this.file) ? statSync(this.file).size : 0;
      if (size < at) throw new FileTruncatedError(this.file);
      if (size > at) {
        const fh = await open(this.file, 'r');
        try {
          const buf = Buffer.alloc(Math.min(size - at, 8 * 1024 * 1024));
          const { bytesRead } = await fh.read(buf, 0, buf.length, at);
          at += bytesRead;
          const text = decoder.decode(buf.subarray(0, bytesRead), { stream: true });
          if (text) yield text;
        } finally {
          await fh.close();
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, FILE_POLL_MS);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }

  async status(): Promise<{ running: boolean; note?: string }> {
    return { running: false };
  }

  files(): { files: RunFiles; join: (dir: string, name: string) => string } {
    return { files: localRunFiles(), join: (d, n) => path.join(d, n) };
  }

  /** Relative folders are looked for beside the log, above it (the seed logs to `logs/`), then in the workspace. */
  folders(hints: LogHints): RunFolders {
    const bases = [
      path.dirname(this.file),
      path.dirname(path.dirname(this.file)),
      ...(vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
    ];
    const resolve = (p: string | undefined) => {
      if (!p) return undefined;
      if (path.isAbsolute(p)) return p;
      const found = bases.map((b) => path.resolve(b, p)).find((d) => existsSync(d));
      return found ?? path.resolve(bases[0], p);
    };
    return {
      experiment: hints.experiment ?? this.name,
      rolloutDir: resolve(hints.rolloutDir),
      validationDir: resolve(hints.validationDir),
      checkpointDir: resolve(hints.checkpointDir),
    };
  }

  async openLog(): Promise<void> {
    await vscode.window.showTextDocument(vscode.Uri.file(this.file), { preview: true });
  }
}
