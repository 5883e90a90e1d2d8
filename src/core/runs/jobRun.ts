/**
 * The run behind a training job: its state, where it writes (runConfig.ts, read from the job's own
 * command) and how its files are reached. Slurm: the batch script and WorkDir (`scontrol show
 * job`) over the profile's SSH connection, whose files are then read over SFTP on the same
 * connection. Ray: the entrypoint; the files live on the cluster's nodes, out of the dashboard
 * API's reach: they are read over SFTP on the profile's jump host when the caller gives a
 * connection to it (`JobRunOptions.rayHost`), else not at all (give a mounted folder instead).
 */
import type { JobBackend, JobInfo } from '../jobs';
import { SlurmBackend } from '../jobs/SlurmBackend';
import type { SshConnection } from '../jobs/SshConnection';
import { parseScontrol } from '../jobs/slurmText';
import { isNotFound, RunsError } from './errors';
import { runConfigFromJob, type RunConfig } from './runConfig';
import { sshRunFiles, type RunFiles } from './runFiles';

export interface JobRun {
  info: JobInfo;
  config: RunConfig;
  /** where the run's files are read from; undefined when they cannot be reached from here (Ray without a jump host) */
  files?: RunFiles;
}

export interface JobRunOptions {
  /**
   * Ray: an SSH connection to a host that sees the run's folders (the profile's `jumpHost`, as
   * `rayJumpConnection` opens it): the run's files are read over SFTP there. The caller closes it.
   */
  rayHost?: SshConnection;
}

/** The run settings whose folders hold the run's files, for messages. */
const RUN_SETTINGS: [keyof RunConfig, string][] = [
  ['rolloutDir', 'trainer.rollout_data_dir'],
  ['validationDir', 'trainer.validation_data_dir'],
  ['checkpointDir', 'trainer.default_local_dir'],
];

/** The setting a path of the run comes from (`trainer.rollout_data_dir` for `<rollout dir>/3.jsonl`). */
export function runSettingOf(config: RunConfig, p: string): string | undefined {
  for (const [key, setting] of RUN_SETTINGS) {
    const dir = config[key];
    if (typeof dir === 'string' && (p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`))) return setting;
  }
  return undefined;
}

/**
 * `files` whose "not there" errors name the run setting a path came from; with `refuse`, a path
 * it refuses (a relative one on a Ray cluster, which no host can resolve) fails with its reason.
 */
function runFilesOf(
  files: RunFiles,
  config: RunConfig,
  id: string,
  refuse?: (p: string, setting: string | undefined) => RunsError | undefined,
): RunFiles {
  const guard = async <T>(p: string, op: () => Promise<T>): Promise<T> => {
    const setting = runSettingOf(config, p);
    const refused = refuse?.(p, setting);
    if (refused) throw refused;
    try {
      return await op();
    } catch (e) {
      if (!isNotFound(e) || !setting) throw e;
      const err = e as RunsError;
      throw new RunsError('notFound', `${err.reason} (${setting} of job ${id})`, err.fix);
    }
  };
  return {
    list: (d) => guard(d, () => files.list(d)),
    read: (p) => guard(p, () => files.read(p)),
    readFrom: (p, offset) => guard(p, () => files.readFrom!(p, offset)),
    listDeep: (d, depth) => guard(d, () => files.listDeep!(d, depth)),
  };
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
  const config = runConfigFromJob(script, workDir || undefined);
  return { info, config, files: runFilesOf(files, config, id) };
}

/**
 * Ray: the folders from the entrypoint (absolute when it sets them so, or `cd`s to an absolute
 * folder first). A relative one is refused: Ray runs the entrypoint in its working_dir package,
 * unpacked on each node under Ray's session folder (`runtime_resources/working_dir_files/`,
 * ray python/ray/_private/runtime_env/working_dir.py), or without one in a folder the dashboard
 * does not report; neither is a path the jump host can name.
 */
function rayRun(info: JobInfo, host: SshConnection | undefined): JobRun {
  const config = runConfigFromJob(info.entrypoint ?? '');
  if (!host) return { info, config };
  const on = host.target.label;
  const refuse = (p: string, setting: string | undefined) => {
    if (p.startsWith('/') || p === '~' || p.startsWith('~/')) return undefined;
    const why = p.startsWith('$')
      ? 'it starts with a variable the entrypoint does not set'
      : info.workingDir
        ? `it is relative to the job's working_dir ${info.workingDir}, which Ray unpacks on each node that runs the job`
        : 'it is relative to the folder Ray starts the entrypoint in, which the dashboard does not report';
    // 'unreadable', not 'notFound': a checkpoint listing must not take it for "none yet"
    return new RunsError(
      'unreadable',
      `job ${info.id}: ${setting ? `${setting} ` : ''}${p} cannot be read on ${on}: ${why}`,
      `give ${setting ?? 'it'} an absolute path on storage ${on} sees (a shared filesystem), or give the folder mounted here`,
    );
  };
  return { info, config, files: runFilesOf(sshRunFiles(host), config, info.id, refuse) };
}

/** The job's run: its state, its folders, and its files (Slurm: over SFTP; Ray: over SFTP on `opts.rayHost`, when given). */
export async function jobRun(backend: JobBackend, id: string, opts: JobRunOptions = {}): Promise<JobRun> {
  const info = await backend.status(id);
  if (backend instanceof SlurmBackend) return slurmRun(backend, info.id, info);
  return rayRun(info, opts.rayHost);
}
