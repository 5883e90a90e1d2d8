/**
 * A job's log in an output channel of its own ("Show Logs"): the job's status, then its log
 * streamed live until it ends or the log is asked for again. One channel per job, reused.
 */
import * as vscode from 'vscode';
import { isTerminal, type JobBackend, type JobInfo } from '../../core/jobs';
import { errorMessage } from '../errors';
import type { EditorClusterProfile } from './clusterProfiles';
import type { JobsTreeProvider } from './JobsTreeProvider';

export class JobLogs implements vscode.Disposable {
  private readonly streams = new Map<string, { channel: vscode.OutputChannel; abort?: AbortController }>();

  constructor(
    private readonly backendFor: (profile: EditorClusterProfile) => Promise<JobBackend>,
    private readonly tree: JobsTreeProvider,
  ) {}

  async show(profile: EditorClusterProfile, job: JobInfo): Promise<void> {
    const key = `${profile.name}\u0000${job.id}`;
    let s = this.streams.get(key);
    s?.abort?.abort();
    if (!s) {
      s = { channel: vscode.window.createOutputChannel(`CodeDance Job: ${job.name ?? job.id} (${job.id})`) };
      this.streams.set(key, s);
    }
    const stream = s;
    stream.channel.clear();
    stream.channel.show(true);
    const ac = new AbortController();
    stream.abort = ac;
    try {
      const backend = await this.backendFor(profile);
      const current = await backend.status(job.id);
      this.tree.noteStatus(profile, current);
      stream.channel.appendLine(
        `[codedance] ${profile.name} · job ${job.id} · ${current.status}${isTerminal(current.status) ? '' : ' · streaming live'}`,
      );
      for await (const chunk of backend.tailLogs(job.id, { signal: ac.signal })) stream.channel.append(chunk);
      if (!ac.signal.aborted) {
        const end = await backend.status(job.id);
        this.tree.noteStatus(profile, end);
        stream.channel.appendLine(
          `[codedance] log ${isTerminal(end.status) ? `complete: job ${end.status}${end.exitCode !== undefined ? ` (exit ${end.exitCode})` : ''}` : 'stream closed'}`,
        );
        this.tree.refresh();
      }
    } catch (e) {
      if (!ac.signal.aborted) stream.channel.appendLine(`[codedance] ${errorMessage(e)}`);
    }
  }

  /** A deleted job: its stream stops and its channel goes. */
  forget(profile: EditorClusterProfile, jobId: string): void {
    const key = `${profile.name}\u0000${jobId}`;
    this.streams.get(key)?.abort?.abort();
    this.streams.get(key)?.channel.dispose();
    this.streams.delete(key);
  }

  dispose(): void {
    for (const s of this.streams.values()) {
      s.abort?.abort();
      s.channel.dispose();
    }
  }
}
