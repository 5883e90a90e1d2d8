/**
 * The run behind a training job: its state, where it writes (runConfig.ts, read from the job's own
 * command) and how its files are reached. Slurm: the batch script and WorkDir (`scontrol show
 * job`) over the profile's SSH connection, whose files are then read over the same connection.
 * Ray: the entrypoint; the files live on the cluster's nodes, out of the dashboard API's reach
 * (give a mounted folder instead).
 */
import type { JobBackend, JobInfo } from '../jobs';
import { SlurmBackend } from '../jobs/SlurmBackend';
import { parseScontrol } from '../jobs/slurmText';
import { isNotFound, RunsError } from './errors';
import { runConfigFromJob, type RunConfig } from './runConfig';
import { sshRunFiles, type RunFiles } from './runFiles';

export interface JobRun {
  info: JobInfo;
  config: RunConfig;
  /** where the run's files are read from; undefined when they cannot be reached from here (Ray) */
  files?: RunFiles;
}

async function slurmRun(backend: SlurmBackend, id: string, info: JobInfo): Promise<JobRun> {
  const files = sshRunFiles(backend.ssh);
  const scriptPath = info.entrypoint;
  if (!scriptPath)
    throw new RunsError('notFound', `Slurm job ${id}: scontrol names no batch script`, "give the run's folder as a path instead");
  let script: string;
  try {
    script = await files.read(scriptPath);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw new RunsError('notFound', `Slurm job ${id}: its batch script ${scriptPath} is gone`, "give the run's folder as a path instead");
  }
  const r = await backend.ssh.exec(`scontrol show job -o ${id}`);
  const workDir = r.code === 0 ? parseScontrol(r.stdout.trim().split('\n')[0] ?? '').WorkDir : undefined;
  return { info, config: runConfigFromJob(script, workDir || undefined), files };
}

/** The job's run: its state, its folders, and (Slurm) its files over SSH. */
export async function jobRun(backend: JobBackend, id: string): Promise<JobRun> {
  const info = await backend.status(id);
  if (backend instanceof SlurmBackend) return slurmRun(backend, info.id, info);
  return { info, config: runConfigFromJob(info.entrypoint ?? '') };
}
