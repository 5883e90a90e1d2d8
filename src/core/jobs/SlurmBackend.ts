/**
 * Slurm over SSH: `sbatch --parsable` of a generated (or user-edited) batch script, `squeue`,
 * `scontrol show job` and (when accounting is on) `sacct` for status, `tail -F` of the job's
 * output file streamed back (from a byte offset, for a follower that resumes), `scancel`. Needs nothing on the cluster but SSH and the Slurm
 * client commands every login node has.
 */
import { JobNotFoundError, JobsError } from './errors';
import { checkSecretEnv, redactingSecrets } from './secretEnv';
import { SshConnection } from './SshConnection';
import {
  parseSacct,
  parseScontrol,
  parseSqueue,
  renderSbatchScript,
  scontrolToInfo,
  scriptJobName,
  shQuote,
  slurmJobName,
  SQUEUE_FORMAT,
} from './slurmText';
import type { ClusterInfo, JobBackend, JobInfo, JobSecrets, JobSpec, SlurmClusterProfile, SubmitResult, TailOptions } from './types';
import { isTerminal } from './types';

const JOB_ID = /^\d+(?:_\d+)?$/;

/** A remote path for the shell: `~/x` stays expandable, the rest is quoted. */
function remotePath(p: string): string {
  if (p === '~') return '"$HOME"';
  if (p.startsWith('~/')) return `"$HOME"/${shQuote(p.slice(2))}`;
  return shQuote(p);
}

export class SlurmBackend implements JobBackend {
  readonly kind = 'slurm' as const;
  readonly ssh: SshConnection;
  private jobsDirAbs?: string;

  constructor(
    readonly profile: SlurmClusterProfile,
    secrets: JobSecrets = {},
  ) {
    this.ssh = new SshConnection(profile, secrets);
  }

  private get where(): string {
    return `Slurm at ${this.ssh.target.label}`;
  }

  private async run(command: string, what: string, stdin?: string): Promise<string> {
    const r = await this.ssh.exec(command, stdin);
    if (r.code === 127)
      throw new JobsError('config', `${this.where}: ${what}: a Slurm command is missing (${r.stderr.trim()}): is this a Slurm login node?`);
    if (r.code !== 0)
      throw new JobsError(
        'remote',
        `${this.where}: ${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim() || 'no message'}`,
      );
    return r.stdout;
  }

  /** The absolute remote folder for scripts and output files (created on first use). */
  async jobsDir(): Promise<string> {
    if (!this.jobsDirAbs) {
      const d = remotePath(this.profile.jobsDir ?? '~/.codedance/jobs');
      this.jobsDirAbs = (await this.run(`mkdir -p ${d} && cd ${d} && pwd -P`, 'creating the jobs folder')).trim();
    }
    return this.jobsDirAbs;
  }

  async check(): Promise<ClusterInfo> {
    const out = await this.run('sbatch --version && (sinfo -h -o "%P %a %D %G" 2>/dev/null | head -20)', 'sbatch --version');
    const [version, ...rest] = out.trim().split('\n');
    return { kind: 'slurm', version: version.trim(), detail: rest.join('; ') || undefined };
  }

  /** The batch script this spec becomes (the text the user reviews before submitting). */
  async renderScript(spec: JobSpec): Promise<string> {
    if (spec.script) return spec.script;
    return renderSbatchScript({ partition: this.profile.partition, ...spec }, { jobsDir: await this.jobsDir() });
  }

  async submit(spec: JobSpec): Promise<SubmitResult> {
    let script: string;
    try {
      script = await this.renderScript(spec);
    } catch (e) {
      throw new JobsError('config', `the job script cannot be written: ${(e as Error).message}`);
    }
    if (!script.startsWith('#!')) throw new JobsError('config', 'a batch script must start with #! (e.g. #!/bin/bash)');
    const dir = await this.jobsDir();
    const name = slurmJobName(scriptJobName(script) ?? spec.name);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    const file = `${dir}/${name}-${stamp}-${Math.random().toString(36).slice(2, 6)}.sbatch`;
    // secrets: one line each on stdin before the script, read into sbatch's environment (which it
    // exports to the job), so they are in no file and on no command line
    const secrets = checkSecretEnv(spec.secretEnv);
    const readSecrets = secrets.map(([k]) => `IFS= read -r ${k} && export ${k} && `).join('');
    const stdin = secrets.map(([, v]) => v + '\n').join('') + script;
    const out = await redactingSecrets(spec.secretEnv, () =>
      this.run(`${readSecrets}cat > ${shQuote(file)} && cd ${shQuote(dir)} && sbatch --parsable ${shQuote(file)}`, 'sbatch', stdin),
    );
    const id = out.trim().split('\n').pop()!.split(';')[0].trim();
    if (!JOB_ID.test(id)) throw new JobsError('remote', `${this.where}: sbatch answered '${out.trim()}' instead of a job id`);
    return { id };
  }

  async list(): Promise<JobInfo[]> {
    const dir = await this.jobsDir();
    const out = await this.run(
      `squeue -h -t all -u "$(id -un)" -o ${shQuote(SQUEUE_FORMAT)}; echo @@; cat ${shQuote(dir + '/.deleted')} 2>/dev/null; echo @@; sacct -X -n -P -S now-7days -o JobID,State,JobName,Start,End,ExitCode 2>/dev/null || true`,
      'squeue',
    );
    const [sq, deleted = '', sa = ''] = out.split('@@\n');
    const hidden = new Set(
      deleted
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const jobs = new Map<string, JobInfo>();
    for (const j of parseSacct(sa)) jobs.set(j.id, j);
    for (const j of parseSqueue(sq)) jobs.set(j.id, { ...jobs.get(j.id), ...j });
    return [...jobs.values()].filter((j) => !hidden.has(j.id)).sort((a, b) => Number(b.id.split('_')[0]) - Number(a.id.split('_')[0]));
  }

  async status(id: string): Promise<JobInfo> {
    if (!JOB_ID.test(id)) throw new JobNotFoundError(id, this.where, 'a Slurm job id is a number');
    const r = await this.ssh.exec(`scontrol show job -o ${id}`);
    if (r.code === 0 && r.stdout.includes('JobId=')) return scontrolToInfo(parseScontrol(r.stdout.trim().split('\n')[0]));
    if (r.code === 127) throw new JobsError('config', `${this.where}: scontrol is missing: is this a Slurm login node?`);
    // aged out of slurmctld (MinJobAge): accounting may still know it
    const sa = await this.ssh.exec(`sacct -X -n -P -j ${id} -o JobID,State,JobName,Start,End,ExitCode 2>/dev/null`);
    const found = parseSacct(sa.stdout).find((j) => j.id === id);
    if (found) return found;
    throw new JobNotFoundError(id, this.where, r.stderr.trim() || undefined);
  }

  /** The job's output file: StdOut of scontrol, else the file our template names (`*-ID.out` in the jobs folder). */
  private async logPath(id: string): Promise<string> {
    // the id reaches remote commands (ls, squeue -j): only a Slurm job id gets that far
    if (!JOB_ID.test(id)) throw new JobNotFoundError(id, this.where, 'a Slurm job id is a number');
    let info: JobInfo | undefined;
    try {
      info = await this.status(id);
    } catch (e) {
      if (!(e instanceof JobNotFoundError)) throw e;
    }
    if (info?.logPath) return info.logPath;
    const dir = await this.jobsDir();
    const found = (await this.ssh.exec(`ls -1 ${shQuote(dir)}/*-${id}.out 2>/dev/null | head -1`)).stdout.trim();
    if (!found) throw new JobNotFoundError(id, this.where, 'no output file');
    return found;
  }

  async logs(id: string): Promise<string> {
    const p = await this.logPath(id);
    const r = await this.ssh.exec(`test -e ${shQuote(p)} || exit 3; tail -c 20000000 ${shQuote(p)}`);
    if (r.code === 3) return ''; // pending: no output file yet
    if (r.code !== 0) throw new JobsError('remote', `${this.where}: cannot read ${p}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  tailLogs(id: string, opts: TailOptions = {}): AsyncIterable<string> {
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        const p = shQuote(await self.logPath(id));
        const from = Math.max(0, Math.floor(opts.fromByte ?? 0));
        // tail -F follows the file (also before it exists), from byte `from` on; a watcher ends
        // it once the job left the queue; EOF on stdin (the client went away) ends it too.
        const cmd = [
          'exec 3<&0',
          `tail -c +${from + 1} -F ${p} 2>/dev/null & T=$!`,
          '{ cat <&3 >/dev/null 2>&1; kill $T 2>/dev/null; } 2>/dev/null &',
          `while kill -0 $T 2>/dev/null && squeue -h -j ${id} -t PENDING,CONFIGURING,RUNNING,SUSPENDED,COMPLETING,STAGE_OUT -o %i 2>/dev/null | grep -q .; do sleep 1; done`,
          'sleep 1; kill $T 2>/dev/null; wait $T 2>/dev/null; exit 0',
        ].join('\n');
        yield* self.ssh.stream(cmd, opts.signal);
      },
    };
  }

  async stop(id: string): Promise<boolean> {
    const info = await this.status(id);
    if (isTerminal(info.status)) return false;
    await this.run(`scancel ${id}`, `scancel ${id}`);
    return true;
  }

  async delete(id: string): Promise<boolean> {
    const info = await this.status(id);
    if (!isTerminal(info.status))
      throw new JobsError('rejected', `${this.where}: job ${id} is ${info.rawStatus}: stop it before deleting it`);
    const dir = await this.jobsDir();
    const files = [info.logPath, info.entrypoint].filter((f): f is string => !!f && f.startsWith(dir + '/'));
    await this.run(
      `${files.length ? `rm -f ${files.map(shQuote).join(' ')}; ` : ''}echo ${id} >> ${shQuote(dir + '/.deleted')}`,
      `deleting job ${id}`,
    );
    return true;
  }

  async dispose(): Promise<void> {
    this.ssh.close();
  }
}
