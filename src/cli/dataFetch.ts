/**
 * `codedance data fetch REPO`: a training dataset (CodeDance-SFT, CodeDance-RL) from the Hub, on
 * this machine into the Hugging Face cache (optionally linked into --to DIR), or on a cluster as
 * a job (`--cluster NAME --to DIR`: its node has the bandwidth and the disk), and the RL
 * template's data.train_files / data.val_files filled from the parquet files fetched.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  clusterFetchJob,
  fetchedFromLog,
  fetchFiles,
  hubSettings,
  NO_DOWNLOADER_EXIT,
  splitDataFiles,
  templateFlags,
  underRoot,
  type HubSettings,
} from '../core/hub';
import { createBackend, isTerminal, type JobBackend, type JobInfo } from '../core/jobs';
import { downloadPrinter } from './benchmark';
import { CliError, EXIT } from './errors';
import { onInterrupt } from './interrupt';
import { jobsErrorToCli, parseEnvArgs, pickProfile } from './jobs';

export const FETCH_USAGE = `codedance data fetch REPO [--revision REV] [--to DIR] [--cluster NAME] [options]
  REPO                     a Hub dataset, e.g. Peterwatwec/CodeDance-RL or Peterwatwec/CodeDance-SFT
  --revision REV           a branch, tag or commit (default main)
  --to DIR                 here: also link the files into DIR (same paths as in the repository);
                           with --cluster: the folder on the cluster to download into (required)
  --cluster NAME           download on the cluster as a job (a profile of codedance jobs clusters;
                           or --ssh [USER@]HOST[:PORT] / --ray URL, --clusters FILE): it runs hf download
                           (huggingface_hub) there, with $HF_TOKEN passed as a secret of the job
  --env KEY=VALUE          with --cluster: a variable for the job (repeatable), e.g. where huggingface_hub is
  --hub-url URL            the Hub or a mirror (default $HF_ENDPOINT)
  --json                   print the files and the RL template's train/val files as JSON
  --quiet                  no progress line
Prints the RL template's --train-files / --val-files for codedance jobs submit.`;

const FETCH_OPTIONS = {
  revision: { type: 'string', default: 'main' },
  to: { type: 'string' },
  cluster: { type: 'string' },
  clusters: { type: 'string' },
  'workspace-profiles': { type: 'boolean', default: false },
  ssh: { type: 'string' },
  ray: { type: 'string' },
  identity: { type: 'string' },
  'jobs-dir': { type: 'string' },
  'hub-url': { type: 'string' },
  env: { type: 'string', multiple: true },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} as const;

interface FetchResult {
  repo: string;
  revision: string;
  commit?: string;
  where: string;
  /** absolute folder of the files (here: the snapshot or --to; on the cluster: the --to folder) */
  dir: string;
  files: string[];
  train_files: string[];
  val_files: string[];
}

/** Hard links (no second copy on the same disk; a copy across disks) of the fetched files under `to`. */
async function linkInto(to: string, files: { path: string; file: string }[]): Promise<void> {
  for (const f of files) {
    const dest = path.join(to, ...f.path.split('/'));
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await fs.rm(dest, { force: true });
    const blob = await fs.realpath(f.file);
    await fs.link(blob, dest).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EXDEV' && e.code !== 'EPERM') throw e;
      return fs.copyFile(blob, dest); // another disk (or links refused): a copy
    });
  }
}

async function fetchHere(
  repo: string,
  v: { revision: string; to?: string; quiet: boolean },
  settings: HubSettings,
  signal: AbortSignal,
): Promise<FetchResult> {
  const printer = downloadPrinter(v.quiet);
  printer.phase(`fetching datasets/${repo}@${v.revision} into ${settings.cacheDir}`);
  let got;
  try {
    got = await fetchFiles({ id: repo, type: 'dataset' }, v.revision, 'all', {
      settings,
      signal,
      onProgress: printer.progress,
      offlineHint: `unset HF_HUB_OFFLINE and run \`codedance data fetch ${repo}\` with the network on`,
    });
  } finally {
    printer.end();
  }
  const dir = v.to ? path.resolve(v.to) : got.snapshot;
  if (v.to) await linkInto(dir, got.files);
  const files = got.files.map((f) => f.path);
  const split = splitDataFiles(files);
  return {
    repo,
    revision: v.revision,
    commit: got.commit,
    where: 'here',
    dir,
    files,
    train_files: underRoot(dir, split.train),
    val_files: underRoot(dir, split.val),
  };
}

async function waitJob(backend: JobBackend, id: string, signal: AbortSignal, quiet: boolean): Promise<JobInfo> {
  for await (const chunk of backend.tailLogs(id, { signal })) if (!quiet) process.stderr.write(chunk);
  for (;;) {
    const j = await backend.status(id);
    if (isTerminal(j.status) || signal.aborted) return j;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function fetchOnCluster(
  repo: string,
  v: Record<string, string | boolean | string[] | undefined>,
  settings: HubSettings,
  signal: AbortSignal,
): Promise<FetchResult> {
  if (typeof v.to !== 'string') throw new CliError('--cluster needs --to DIR: the folder on the cluster to download into', EXIT.usage);
  const profile = pickProfile(v);
  const spec = clusterFetchJob({ repo, revision: String(v.revision), to: v.to, settings });
  Object.assign(spec.env, parseEnvArgs((v.env as string[] | undefined) ?? []));
  const backend = createBackend(profile, {
    token: process.env.CODEDANCE_RAY_TOKEN,
    passphrase: process.env.CODEDANCE_SSH_PASSPHRASE,
    password: process.env.CODEDANCE_SSH_PASSWORD,
  });
  try {
    const { id } = await backend.submit(spec);
    if (!v.quiet)
      process.stderr.write(
        `submitted ${id} to ${profile.name}: downloading datasets/${repo}@${v.revision} into ${v.to}${settings.token ? ` (the token from ${settings.tokenSource} passed as a secret of the job)` : ''}\n`,
      );
    const job = await waitJob(backend, id, signal, !!v.quiet);
    if (signal.aborted)
      throw new CliError(
        `stopped waiting: job ${id} goes on on ${profile.name} (codedance jobs status ${id}; codedance jobs stop ${id})`,
        EXIT.cancelled,
      );
    const log = await backend.logs(id);
    if (job.status !== 'SUCCEEDED') {
      const tail = log.trim().split('\n').slice(-5).join('\n');
      const why =
        job.exitCode === NO_DOWNLOADER_EXIT
          ? 'no Hugging Face downloader on the cluster: install huggingface_hub there (python3 -m pip install -U huggingface_hub)'
          : `the job ended ${job.rawStatus}${job.exitCode !== undefined ? ` (exit ${job.exitCode})` : ''}`;
      throw new CliError(`fetching ${repo} on ${profile.name} failed: ${why}; the end of its log:\n${tail}`, EXIT.cluster);
    }
    const got = fetchedFromLog(log);
    const dir = got.dest ?? v.to;
    const split = splitDataFiles(got.files);
    return {
      repo,
      revision: String(v.revision),
      where: profile.name,
      dir,
      files: got.files,
      train_files: underRoot(dir, split.train),
      val_files: underRoot(dir, split.val),
    };
  } catch (e) {
    return jobsErrorToCli(e);
  } finally {
    await backend.dispose();
  }
}

function printResult(r: FetchResult, json: boolean): void {
  const { flags, note } = templateFlags({ train: r.train_files, val: r.val_files });
  if (json) {
    console.log(JSON.stringify({ ...r, template_flags: flags, ...(note ? { note } : {}) }, null, 1));
    return;
  }
  console.log(
    `fetched datasets/${r.repo}@${r.commit ?? r.revision} (${r.files.length} file(s)) ${r.where === 'here' ? 'into' : `on ${r.where} into`} ${r.dir}`,
  );
  console.log(`data.train_files: ${r.train_files.join(',') || '(no parquet file fetched)'}`);
  console.log(`data.val_files:   ${r.val_files.join(',') || "(none fetched: the template's)"}`);
  if (r.train_files.length)
    console.log(
      `RL template: codedance jobs submit --template codedance-rl ${flags.join(' ')}${r.where === 'here' ? '' : ` --cluster ${r.where}`}`,
    );
  if (note) console.error(`note: ${note}`);
}

export async function runFetch(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, allowPositionals: true, options: FETCH_OPTIONS });
  if (positionals.length !== 1) throw new CliError(`give one dataset REPO, e.g. Peterwatwec/CodeDance-RL\n\n${FETCH_USAGE}`, EXIT.usage);
  const repo = positionals[0].replace(/^datasets\//, '');
  if (!/^[^/\s]+\/[^/\s]+$/.test(repo)) throw new CliError(`'${positionals[0]}' is not a dataset repository (org/name)`, EXIT.usage);
  const settings = hubSettings({ endpoint: v['hub-url'] });
  const remote = v.cluster !== undefined || v.ssh !== undefined || v.ray !== undefined;
  const interrupt = onInterrupt(
    remote ? 'stopping the wait (the job goes on on the cluster)' : 'cancelling: what was downloaded is kept (run it again to resume)',
  );
  try {
    const r = remote
      ? await fetchOnCluster(repo, v, settings, interrupt.signal)
      : await fetchHere(repo, { revision: v.revision, to: v.to, quiet: v.quiet || v.json }, settings, interrupt.signal);
    printResult(r, v.json);
    return EXIT.ok;
  } finally {
    interrupt.dispose();
  }
}
