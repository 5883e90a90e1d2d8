/**
 * Training jobs: one interface (`JobBackend`) over the engines users already run — the Ray Job
 * Submission API and Slurm over SSH. Every method is async and speaks plain data; the editor and
 * the CLI reach a cluster only through this interface.
 */

/** Job states, normalized: Ray's own five, Slurm's mapped onto them (see slurmStatus.ts). */
export type JobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

export const TERMINAL_STATUSES: readonly JobStatus[] = ['STOPPED', 'SUCCEEDED', 'FAILED'];

export function isTerminal(s: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(s);
}

/** What a job looks like to the UI and the CLI, whatever the backend. */
export interface JobInfo {
  /** the id to pass back to status/logs/stop/delete (Ray: submission_id; Slurm: job id) */
  id: string;
  name?: string;
  status: JobStatus;
  /** the engine's own state word (Slurm: RUNNING, CANCELLED, TIMEOUT, …; Ray: the status) */
  rawStatus: string;
  message?: string;
  entrypoint?: string;
  /** Unix ms */
  startTime?: number;
  endTime?: number;
  exitCode?: number;
  metadata?: Record<string, string>;
  /** Slurm: the job's output file on the cluster */
  logPath?: string;
  /** Ray: the IP of the node the entrypoint (driver) runs on */
  driverNodeIp?: string;
  /** Ray: the job's runtime_env.working_dir (a package URI such as gcs://_ray_pkg_….zip, which Ray unpacks on each node that runs the job) */
  workingDir?: string;
}

/** A submission, whatever the backend. Templates produce one; the user may edit it first. */
export interface JobSpec {
  /** a short name: the Slurm job name / the prefix of the Ray submission id */
  name: string;
  /** shell command that runs the training (Ray: the entrypoint; Slurm: the body of the script) */
  entrypoint: string;
  env: Record<string, string>;
  /** Ray: a local folder to upload as working_dir, or a remote URI (gcs://, https://, s3://); Slurm: the remote folder to run in */
  workingDir?: string;
  metadata?: Record<string, string>;
  nodes?: number;
  gpusPerNode?: number;
  cpusPerTask?: number;
  /** Slurm: `--ntasks` (one task per served replica); default one task per node */
  tasks?: number;
  /** Slurm: `--gpus-per-task` (a replica's tensor-parallel GPUs) */
  gpusPerTask?: number;
  /** Slurm: `--time` (e.g. 2-00:00:00) */
  timeLimit?: string;
  /** Slurm: `--partition` */
  partition?: string;
  /** Ray: GPUs/CPUs reserved for the entrypoint process itself (verl's driver needs none: its workers ask Ray) */
  entrypointNumGpus?: number;
  entrypointNumCpus?: number;
  /** Ray: the submission id (default: name + time) */
  submissionId?: string;
  /** Slurm: the complete batch script; when set it is submitted as is (the user's edited version) */
  script?: string;
  /**
   * secrets the job gets in its environment (WANDB_API_KEY, …), added at submit time only: never
   * in the review document, the script file, metadata or a log line (secretEnv.ts)
   */
  secretEnv?: Record<string, string>;
}

export interface ClusterInfo {
  kind: 'ray' | 'slurm';
  /** Ray: ray_version; Slurm: `sbatch --version` */
  version: string;
  detail?: string;
}

export interface SubmitResult {
  id: string;
  /** Ray: the gcs:// URI of the uploaded working_dir */
  workingDirUri?: string;
}

export interface TailOptions {
  signal?: AbortSignal;
  /** Slurm: lines of history to start with (tail -n); default: the whole file */
  fromStart?: boolean;
  /**
   * Slurm: start after this many bytes of the output file (`tail -c +<fromByte+1> -F`), so a
   * follower that resumes sends only what is new; default 0. Ray ignores it: the dashboard's
   * stream always starts at the top of the log.
   */
  fromByte?: number;
}

export interface JobBackend {
  readonly kind: 'ray' | 'slurm';
  /** connects and reads the engine's version; throws a JobsError naming the cause */
  check(): Promise<ClusterInfo>;
  submit(spec: JobSpec): Promise<SubmitResult>;
  list(): Promise<JobInfo[]>;
  status(id: string): Promise<JobInfo>;
  /** the whole log so far */
  logs(id: string): Promise<string>;
  /** live log chunks until the job ends (or the signal aborts) */
  tailLogs(id: string, opts?: TailOptions): AsyncIterable<string>;
  /** asks the engine to stop the job; true when it was running and is being stopped */
  stop(id: string): Promise<boolean>;
  /** forgets a finished job (Ray: DELETE; Slurm: removes the output file) */
  delete(id: string): Promise<boolean>;
  dispose(): Promise<void>;
}

/** A cluster profile as kept in settings (`codedance.jobs.clusters`); secrets are not in it. */
export type ClusterProfile = RayClusterProfile | SlurmClusterProfile;

export interface RayClusterProfile {
  name: string;
  kind: 'ray';
  /** dashboard URL, e.g. http://127.0.0.1:8265 */
  address: string;
  /** whether a token is needed (it lives in SecretStorage / CODEDANCE_RAY_TOKEN) */
  auth?: 'none' | 'token';
  /** default working_dir to upload (local folder) */
  workingDir?: string;
  /** an SSH host that reaches the cluster's nodes: served models are reached through tunnels on it (default: directly) */
  jumpHost?: {
    host: string;
    user?: string;
    port?: number;
    identityFile?: string;
    knownHosts?: string;
    strictHostKeyChecking?: 'yes' | 'accept-new' | 'no';
  };
}

export interface SlurmClusterProfile {
  name: string;
  kind: 'slurm';
  /** an ssh host: a Host alias of ~/.ssh/config, or a host name */
  host: string;
  user?: string;
  port?: number;
  identityFile?: string;
  /** an ssh_config-style file to read Host blocks from (default ~/.ssh/config) */
  sshConfig?: string;
  /** jump hosts to the login node, as ssh's -J (`[user@]host[:port]`, comma-separated; `none`: dial directly); default: ssh_config's ProxyJump */
  proxyJump?: string;
  /** remote folder for scripts and output files (default ~/.codedance/jobs) */
  jobsDir?: string;
  /** `#SBATCH --partition` */
  partition?: string;
  /** known_hosts file to check the host key against (default ~/.ssh/known_hosts); 'accept-new' style trust on first use is the default */
  knownHosts?: string;
  /** yes: refuse unknown host keys; accept-new (default): remember the first; no: accept an unknown key without saving it. A changed key is always refused. */
  strictHostKeyChecking?: 'yes' | 'accept-new' | 'no';
}

/** Secrets come from the caller (SecretStorage in the editor, the environment in the CLI). */
export interface JobSecrets {
  /** Ray: the bearer token */
  token?: string;
  /** Slurm: the private key's passphrase */
  passphrase?: string;
  /** Slurm: password auth, when no key works */
  password?: string;
}
