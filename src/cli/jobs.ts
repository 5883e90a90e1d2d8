/**
 * `codedance jobs ...`: training jobs on Ray (Job Submission API) or Slurm (over SSH), on the same
 * core as the editor's Training Jobs view. Secrets only from the environment.
 */
import { parseArgs } from 'node:util';
import {
  createBackend,
  isTerminal,
  JobNotFoundError,
  JobsError,
  loadProfiles,
  renderReview,
  TEMPLATES,
  type ClusterProfile,
  type JobBackend,
  type JobInfo,
  type TemplateId,
} from '../core/jobs';
import { CliError, describeError, EXIT } from './errors';
import { JOBS_OPTIONS, type JobsFlags } from './jobsFlags';
import { jobSpec } from './jobSpec';

export { parseEnvArgs } from './jobSpec';

export const JOBS_USAGE = `usage: codedance jobs <command> [options]

commands:
  clusters                        list the cluster profiles found
  templates                       list the job templates
  submit  --template ID [fields]  submit a job (--dry-run prints what would be submitted)
  list                            jobs on the cluster
  status  JOB_ID                  one job (exit 0 running/succeeded, 1 failed/stopped)
  logs    JOB_ID [--follow]       its log; --follow streams until the job ends
  stop    JOB_ID                  stop it (Ray: stop; Slurm: scancel)
  delete  JOB_ID                  forget a finished job

cluster (one of):
  --cluster NAME        a profile from --clusters FILE (or $CODEDANCE_CLUSTERS, else ~/.codedance/clusters.json);
                        the first one if omitted
  --workspace-profiles  also read ./.vscode/settings.json (codedance.jobs.clusters); your own profiles win
                        over a workspace profile of the same name
  --ray URL             a Ray dashboard, e.g. http://127.0.0.1:8265
  --ssh [USER@]HOST[:PORT]  a Slurm login node over SSH (key from ~/.ssh/config or --identity FILE)

submit fields (template defaults in brackets):
  --template codedance-rl|codedance-sft|ray-on-slurm   [codedance-rl]
  --experiment NAME  --model PATH  --train-files A[,B]  --val-files A[,B]  --nodes N  --gpus-per-node G
  --judge-url URL[,URL] (LLM_AS_A_JUDGE_BASE)  --repo-dir DIR (Ray: local folder to upload)  --output-dir DIR
  --data-root DIR (DATA_ROOT)  --rollout sglang|vllm  --set KEY=VALUE (change a seed override, repeatable)
  --override KEY=VALUE (a Hydra override appended last, repeatable)
  --time D-HH:MM:SS (Slurm)  --env KEY=VALUE (repeatable)  --entrypoint CMD (replace the command)
  --script FILE (Slurm: submit this batch script as is)  --follow (stream the log until the job ends)

other: --json (machine-readable output)
secrets come from the environment: CODEDANCE_RAY_TOKEN, CODEDANCE_SSH_PASSPHRASE, CODEDANCE_SSH_PASSWORD;
the job's own secrets (WANDB_API_KEY, or --secret-env NAME) are passed from your environment at submit
time, never written into the script, the request shown by --dry-run or the job's metadata

exit codes: 0 ok, 1 the job failed or was stopped, 2 bad usage, 5 cluster unreachable or refused, 6 no such job`;

export function jobsErrorToCli(e: unknown): never {
  if (e instanceof JobNotFoundError) throw new CliError(e.message, EXIT.notFound);
  if (e instanceof JobsError) throw new CliError(describeError(e, 'jobs'), e.kind === 'config' ? EXIT.usage : EXIT.cluster);
  throw e;
}

function describeProfile(p: ClusterProfile): string {
  return p.kind === 'ray' ? p.address : `${p.user ? p.user + '@' : ''}${p.host}${p.port ? ':' + p.port : ''}`;
}

export function pickProfile(v: Record<string, string | boolean | string[] | undefined>): ClusterProfile {
  if (typeof v.ray === 'string') return { name: v.ray, kind: 'ray', address: v.ray };
  if (typeof v.ssh === 'string') {
    const m = /^(?:([^@]+)@)?([^:]+)(?::(\d+))?$/.exec(v.ssh);
    if (!m) throw new CliError(`--ssh: expected [USER@]HOST[:PORT], got '${v.ssh}'`, EXIT.usage);
    return {
      name: v.ssh,
      kind: 'slurm',
      host: m[2],
      user: m[1],
      port: m[3] ? Number(m[3]) : undefined,
      identityFile: v.identity as string | undefined,
      jobsDir: v['jobs-dir'] as string | undefined,
    };
  }
  const loaded = loadProfiles({ file: v.clusters as string | undefined, workspace: v['workspace-profiles'] === true });
  const hint = loaded.workspaceIgnored ? ` (${loaded.workspaceIgnored} has profiles: pass --workspace-profiles to use them)` : '';
  if (!loaded.entries.length)
    throw new CliError(
      `no cluster: pass --ray URL or --ssh HOST, or list profiles in ~/.codedance/clusters.json or --clusters FILE${hint}`,
      EXIT.usage,
    );
  const name = v.cluster as string | undefined;
  const e = name ? loaded.entries.find((x) => x.profile.name === name) : loaded.entries[0];
  if (!e)
    throw new CliError(`no cluster profile '${name}': have ${loaded.entries.map((x) => x.profile.name).join(', ')}${hint}`, EXIT.usage);
  for (const s of loaded.shadowed)
    if (s.profile.name === e.profile.name)
      console.error(
        `codedance: the workspace's profile '${s.profile.name}' (${s.source}) is ignored: your own profile of that name is used`,
      );
  if (e.origin === 'workspace')
    console.error(`codedance: using the workspace's cluster profile '${e.profile.name}' (${describeProfile(e.profile)}) from ${e.source}`);
  return e.profile;
}

function fmtTime(ms?: number): string {
  return ms
    ? new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '-';
}

function printJobs(jobs: JobInfo[]): void {
  if (!jobs.length) {
    console.log('no jobs');
    return;
  }
  const rows = jobs.map((j) => [j.id, j.status, j.rawStatus !== j.status ? j.rawStatus : '', j.name ?? '', fmtTime(j.startTime)]);
  const head = ['ID', 'STATUS', 'STATE', 'NAME', 'STARTED'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows])
    console.log(
      r
        .map((c, i) => c.padEnd(w[i]))
        .join('  ')
        .trimEnd(),
    );
}

async function follow(backend: JobBackend, id: string, signal: AbortSignal): Promise<number> {
  for await (const chunk of backend.tailLogs(id, { signal })) process.stdout.write(chunk);
  if (signal.aborted) return EXIT.cancelled;
  // the stream ends with the job; its final state may take a moment to settle
  for (let i = 0; i < 50; i++) {
    const j = await backend.status(id);
    if (isTerminal(j.status)) {
      console.error(`codedance: job ${id} ${j.status}${j.exitCode !== undefined ? ` (exit ${j.exitCode})` : ''}`);
      return j.status === 'SUCCEEDED' ? EXIT.ok : EXIT.noAnswer;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return EXIT.ok;
}

function parseJobsArgs(rest: string[]) {
  try {
    return parseArgs({ args: rest, allowPositionals: true, options: JOBS_OPTIONS });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${JOBS_USAGE}`, EXIT.usage);
  }
}

const out = (x: unknown) => console.log(JSON.stringify(x, null, 2));

export async function runJobs(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    console.log(JOBS_USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  const { values: v, positionals } = parseJobsArgs(rest);
  if (v.help) {
    console.log(JOBS_USAGE);
    return EXIT.ok;
  }
  if (sub === 'templates') return listTemplates(v);
  if (sub === 'clusters') return listClusters(v);
  const known = ['submit', 'list', 'status', 'logs', 'stop', 'delete'];
  if (!known.includes(sub)) throw new CliError(`unknown jobs command '${sub}'.\n\n${JOBS_USAGE}`, EXIT.usage);
  const needsId = ['status', 'logs', 'stop', 'delete'].includes(sub);
  if (needsId && positionals.length !== 1) throw new CliError(`codedance jobs ${sub} needs one JOB_ID`, EXIT.usage);
  const id = positionals[0];

  let profile: ClusterProfile;
  try {
    profile = pickProfile(v);
  } catch (e) {
    jobsErrorToCli(e);
  }
  const backend = createBackend(profile, {
    token: process.env.CODEDANCE_RAY_TOKEN,
    passphrase: process.env.CODEDANCE_SSH_PASSPHRASE,
    password: process.env.CODEDANCE_SSH_PASSWORD,
  });
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    return await onCluster(sub, id, v, { profile, backend, signal: ac.signal });
  } catch (e) {
    jobsErrorToCli(e);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await backend.dispose();
  }
}

function listTemplates(v: JobsFlags): number {
  if (v.json) out(TEMPLATES);
  else for (const t of TEMPLATES) console.log(`${t.id.padEnd(14)} ${t.kinds.join('/').padEnd(10)} ${t.label}`);
  return EXIT.ok;
}

function listClusters(v: JobsFlags): number {
  let loaded;
  try {
    loaded = loadProfiles({ file: v.clusters, workspace: v['workspace-profiles'] });
  } catch (e) {
    jobsErrorToCli(e);
  }
  if (v.json) out(loaded.entries.map((e) => ({ ...e.profile, origin: e.origin, source: e.source })));
  else if (!loaded.entries.length) console.log('no cluster profiles (see codedance jobs --help)');
  else
    for (const e of loaded.entries)
      console.log(
        `${e.profile.name.padEnd(16)} ${e.profile.kind.padEnd(6)} ${describeProfile(e.profile)}${e.origin === 'workspace' ? `  (workspace: ${e.source})` : ''}`,
      );
  for (const s of loaded.shadowed)
    console.error(`codedance: the workspace's profile '${s.profile.name}' (${s.source}) is ignored: your own profile of that name wins`);
  if (loaded.workspaceIgnored)
    console.error(`codedance: ${loaded.workspaceIgnored} has cluster profiles: pass --workspace-profiles to use them`);
  return EXIT.ok;
}

/** The cluster the command runs on: its profile, its backend, and the signal of Ctrl+C / SIGTERM. */
interface OnCluster {
  profile: ClusterProfile;
  backend: JobBackend;
  signal: AbortSignal;
}

/** The commands that talk to the cluster (`id`: the JOB_ID of those that take one). */
async function onCluster(sub: string, id: string, v: JobsFlags, c: OnCluster): Promise<number> {
  const { backend } = c;
  switch (sub) {
    case 'list': {
      const jobs = await backend.list();
      if (v.json) out(jobs);
      else printJobs(jobs);
      return EXIT.ok;
    }
    case 'status':
      return showStatus(await backend.status(id), v);
    case 'logs':
      if (v.follow) return await follow(backend, id, c.signal);
      process.stdout.write(await backend.logs(id));
      return EXIT.ok;
    case 'stop': {
      const stopped = await backend.stop(id);
      console.log(stopped ? `stopping ${id}` : `${id} was not running`);
      return EXIT.ok;
    }
    case 'delete':
      await backend.delete(id);
      console.log(`deleted ${id}`);
      return EXIT.ok;
    case 'submit':
      return submit(v, c);
  }
  return EXIT.usage;
}

/** exit 0 running/succeeded, 1 failed/stopped */
function showStatus(j: JobInfo, v: JobsFlags): number {
  if (v.json) out(j);
  else {
    printJobs([j]);
    if (j.message) console.log(`message: ${j.message}`);
    if (j.exitCode !== undefined) console.log(`exit code: ${j.exitCode}`);
    if (j.logPath) console.log(`log: ${j.logPath}`);
  }
  return j.status === 'FAILED' || j.status === 'STOPPED' ? EXIT.noAnswer : EXIT.ok;
}

/** `submit`: the template's job with the fields, printed (--dry-run) or submitted with the job's secrets from the environment. */
async function submit(v: JobsFlags, { profile, backend, signal }: OnCluster): Promise<number> {
  const tid = v.template as TemplateId;
  if (!TEMPLATES.some((t) => t.id === tid))
    throw new CliError(`unknown --template '${tid}': use one of ${TEMPLATES.map((t) => t.id).join(', ')}`, EXIT.usage);
  const spec = jobSpec(v, profile, tid);
  if (v['dry-run']) {
    const doc = await renderReview(backend, spec);
    process.stdout.write(doc.text);
    return EXIT.ok;
  }
  const secretNames = v['secret-env'] ?? TEMPLATES.find((t) => t.id === tid)!.secretEnv;
  const secretEnv = Object.fromEntries(secretNames.filter((n) => process.env[n]).map((n) => [n, process.env[n]!]));
  if (v['secret-env'])
    for (const n of v['secret-env'])
      if (!process.env[n]) throw new CliError(`--secret-env ${n}: ${n} is not set in your environment: export it first`, EXIT.usage);
  const r = await backend.submit({ ...spec, secretEnv });
  if (!v.json && Object.keys(secretEnv).length)
    console.error(`codedance: passed ${Object.keys(secretEnv).join(', ')} from your environment to the job (not written anywhere)`);
  if (v.json) out(r);
  else console.log(`submitted ${r.id} to ${profile.name}${r.workingDirUri ? ` (working_dir ${r.workingDirUri})` : ''}`);
  if (v.follow) return await follow(backend, r.id, signal);
  return EXIT.ok;
}
