/**
 * `codedance train metrics|rollouts|watch`: an RL run as its job log and dumps show it, on the
 * same core as the editor's run view (src/core/runs): the key metrics per step, the alarms, the
 * rollouts of a step. From a local file or folder, or from a job on a cluster profile (the log
 * followed live through dropped connections; Slurm's files read over SFTP on its SSH connection,
 * a Ray job's over SFTP on the profile's jump host).
 */
import { parseArgs } from 'node:util';
import { createBackend, type ClusterProfile, type JobBackend, type JobInfo } from '../core/jobs';
import type { SshConnection } from '../core/jobs/SshConnection';
import {
  evaluateAlarms,
  followJobLog,
  jobRun,
  localRunFiles,
  MetricsStore,
  parseRolloutFile,
  readJobLog,
  rolloutStepsFromNames,
  RunsError,
  type AlarmThresholds,
  type RunFiles,
} from '../core/runs';
import type { JobRun } from '../core/runs/jobRun';
import { rayJumpConnection } from '../core/serve';
import { CliError, EXIT } from './errors';
import { jobsErrorToCli, pickProfile } from './jobs';
import { numberFlag, thresholdsFrom, TRAIN_OPTIONS, type TrainFlags } from './trainFlags';
import { alarmLines, metricsHeader, metricsRow, rolloutTable, toJson, validationLine } from './trainTable';
import { exitFor, finalStatus, watchJob } from './trainWatch';
import { runTrainCheckpoint, TRAIN_CHECKPOINT_USAGE } from './trainCheckpoint';

export const TRAIN_USAGE = `usage: codedance train <command> [options]

commands:
  metrics  LOG | --job ID   the key metrics per step and the alarms (--json: every step and key);
                            --follow (with --job): each step as the job prints it, until the job ends
  rollouts DIR | --job ID   the rollouts of one step (default: the last): score, acc, tool calls, data source;
                            --step N, --validation (the validation dumps), --json (every field, images as base64)
  watch    --job ID         a live table of the key metrics and the alarms, until the job ends
${TRAIN_CHECKPOINT_USAGE}

cluster (with --job; as for 'codedance jobs'): --cluster NAME | --clusters FILE | --workspace-profiles |
  --ray URL | --ssh [USER@]HOST[:PORT] [--identity FILE] [--jobs-dir DIR]
  (rollouts of a Ray job: over SFTP on the profile's jumpHost; without one, give the folder mounted here as DIR)

alarm thresholds (defaults in brackets):
  --tool-collapse-ratio R [0.25]  tool use below R × its mean over the early steps
  --early-steps N [50]            the steps that make that early mean
  --tool-success-drop D [0.2]     tool success rate D below its early mean
  --format-drop D [0.2]           format score D below its early mean (format errors rising)
  --clip-ratio R [0.1]            response_length/clip_ratio above R
  --hang-factor F [5]             no metric line for F × the median step time while the job runs

other: --rows N (watch: the last N steps, default 15)
JSON keeps NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity".
secrets come from the environment: CODEDANCE_RAY_TOKEN, CODEDANCE_SSH_PASSPHRASE, CODEDANCE_SSH_PASSWORD

exit codes: 0 ok (watch, --follow: the job succeeded), 1 the job failed or was stopped, 2 bad usage or an
unreadable file, 5 the cluster failed or refused, 6 no such job, 130 interrupted`;

const COMMANDS = ['metrics', 'rollouts', 'watch'];

function parseTrainArgs(rest: string[]) {
  try {
    return parseArgs({ args: rest, allowPositionals: true, options: TRAIN_OPTIONS });
  } catch (e) {
    throw new CliError(`${(e as Error).message}\n\n${TRAIN_USAGE}`, EXIT.usage);
  }
}

/** How a command's source was given: a local path, or a job on a cluster. */
type Source = { path: string } | { job: string };

function sourceOf(sub: string, v: TrainFlags, positionals: string[]): Source {
  const what = sub === 'metrics' ? 'LOG' : 'DIR';
  if (positionals.length > 1) throw new CliError(`codedance train ${sub}: one ${what} at most, got ${positionals.length}`, EXIT.usage);
  if (positionals.length && v.job) throw new CliError(`codedance train ${sub}: give ${what} or --job ID, not both`, EXIT.usage);
  if (sub === 'watch' && !v.job) throw new CliError('codedance train watch needs --job ID (and the cluster)', EXIT.usage);
  if (v.job) return { job: v.job };
  if (!positionals.length) throw new CliError(`codedance train ${sub} needs ${what} or --job ID`, EXIT.usage);
  if (v.follow) throw new CliError('--follow follows a job: use --job ID (and the cluster) instead of a file', EXIT.usage);
  return { path: positionals[0] };
}

export async function runTrain(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '-h' || sub === '--help' || sub === 'help') {
    console.log(TRAIN_USAGE);
    return sub ? EXIT.ok : EXIT.usage;
  }
  if (sub === 'eval-checkpoint' || sub === 'serve-checkpoint') return runTrainCheckpoint(sub, rest);
  if (!COMMANDS.includes(sub)) throw new CliError(`unknown train command '${sub}'.\n\n${TRAIN_USAGE}`, EXIT.usage);
  const { values: v, positionals } = parseTrainArgs(rest);
  if (v.help) {
    console.log(TRAIN_USAGE);
    return EXIT.ok;
  }
  const t = thresholdsFrom(v);
  const src = sourceOf(sub, v, positionals);
  if ('path' in src) return sub === 'metrics' ? localMetrics(src.path, v, t) : showRollouts(localRunFiles(), src.path, v);
  return onCluster(sub, src.job, v, t);
}

async function onCluster(sub: string, id: string, v: TrainFlags, t: AlarmThresholds): Promise<number> {
  let backend: JobBackend;
  let profile: ClusterProfile;
  const secrets = {
    token: process.env.CODEDANCE_RAY_TOKEN,
    passphrase: process.env.CODEDANCE_SSH_PASSPHRASE,
    password: process.env.CODEDANCE_SSH_PASSWORD,
  };
  try {
    profile = pickProfile(v);
    backend = createBackend(profile, secrets);
  } catch (e) {
    jobsErrorToCli(e);
  }
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (sub === 'watch')
      return await watchJob(backend, id, { thresholds: t, signal: ac.signal, rows: numberFlag(v.rows, 'rows', true) ?? 15 });
    if (sub === 'rollouts')
      return await jobRollouts(backend, id, v, profile.kind === 'ray' ? rayJumpConnection(profile, secrets) : undefined);
    return v.follow ? await followMetrics(backend, id, v, t, ac.signal) : await jobMetrics(backend, id, v, t);
  } catch (e) {
    jobsErrorToCli(e);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await backend.dispose();
  }
}

/** the log's tail kept for the traceback of a job that died */
const TAIL_CHARS = 200_000;

function printMetrics(store: MetricsStore, v: TrainFlags, t: AlarmThresholds, job?: JobInfo, log = ''): void {
  const m = store.snapshot();
  const alarms = evaluateAlarms(m, t, { now: Date.now(), running: job?.status === 'RUNNING', job, logTail: log.slice(-TAIL_CHARS) });
  if (v.json) {
    console.log(toJson({ ...m, alarms, ...(job && { job }) }, 2));
    return;
  }
  if (!m.steps.length) console.log('no metric lines (verl prints one per step: step:N - key:value - …)');
  else console.log([metricsHeader(), ...m.steps.map(metricsRow)].join('\n'));
  const val = m.steps.map(validationLine).filter((x): x is string => !!x);
  if (val.length) console.log(['', ...val].join('\n'));
  if (alarms.length) console.log(['', ...alarmLines(alarms)].join('\n'));
}

async function localMetrics(file: string, v: TrainFlags, t: AlarmThresholds): Promise<number> {
  const text = await localRunFiles().read(file);
  const store = new MetricsStore();
  store.feed(text);
  store.end();
  printMetrics(store, v, t, undefined, text);
  return EXIT.ok;
}

async function jobMetrics(backend: JobBackend, id: string, v: TrainFlags, t: AlarmThresholds): Promise<number> {
  const job = await backend.status(id);
  const text = await readJobLog(backend, id);
  const store = new MetricsStore();
  store.feed(text);
  store.end();
  printMetrics(store, v, t, job, text);
  return EXIT.ok;
}

async function followMetrics(backend: JobBackend, id: string, v: TrainFlags, t: AlarmThresholds, signal: AbortSignal): Promise<number> {
  const store = new MetricsStore();
  let tail = '';
  const print = (steps: ReturnType<MetricsStore['feed']>) => {
    for (const s of steps) console.log(v.json ? toJson(s) : metricsRow(s));
  };
  if (!v.json) console.log(metricsHeader());
  const onReconnect = ({ attempt, offset }: { attempt: number; offset: number }) =>
    console.error(`codedance: the log stream of ${id} ended early: reconnecting (try ${attempt}, after byte ${offset})`);
  for await (const chunk of followJobLog(backend, id, { signal, onReconnect })) {
    tail = (tail + chunk).slice(-TAIL_CHARS);
    print(store.feed(chunk, Date.now()));
  }
  if (signal.aborted) return EXIT.cancelled;
  print(store.end(Date.now()));
  const job = await finalStatus(backend, id);
  const alarms = evaluateAlarms(store.snapshot(), t, { now: Date.now(), running: false, job, logTail: tail });
  if (v.json) console.log(toJson({ alarms, job }));
  else if (alarms.length) console.log(['', ...alarmLines(alarms)].join('\n'));
  return exitFor(job);
}

/** `rayHost`: a Ray profile's jump host, where the run's files are read over SFTP (closed here) */
async function jobRollouts(backend: JobBackend, id: string, v: TrainFlags, rayHost?: SshConnection): Promise<number> {
  try {
    return await rolloutsOf(await jobRun(backend, id, { rayHost }), id, v);
  } finally {
    rayHost?.close();
  }
}

async function rolloutsOf(run: JobRun, id: string, v: TrainFlags): Promise<number> {
  const key = v.validation ? 'trainer.validation_data_dir' : 'trainer.rollout_data_dir';
  const dir = v.validation ? run.config.validationDir : run.config.rolloutDir;
  if (!dir) throw new CliError(`job ${id} sets no ${key}: it dumps no ${v.validation ? 'validation ' : ''}rollouts`, EXIT.usage);
  if (!run.files)
    throw new CliError(
      `job ${id} writes its rollouts to ${dir} on the cluster's nodes, which the Ray dashboard does not serve: give that folder (mounted here) as DIR, or a jumpHost in the cluster profile (its files are then read over SFTP there)`,
      EXIT.usage,
    );
  return showRollouts(run.files, dir, v);
}

async function showRollouts(files: RunFiles, dir: string, v: TrainFlags): Promise<number> {
  const steps = rolloutStepsFromNames(await files.list(dir));
  const want = numberFlag(v.step, 'step', true);
  if (!steps.length) {
    if (want !== undefined) throw new CliError(`no rollouts in ${dir} yet: --step ${want} has none`, EXIT.usage);
    if (v.json) console.log('[]');
    else console.log(`no rollouts in ${dir} yet (the trainer writes <step>.jsonl after each step)`);
    return EXIT.ok;
  }
  const step = want ?? steps[steps.length - 1];
  if (!steps.includes(step))
    throw new CliError(
      `no rollouts of step ${step} in ${dir}: it has steps ${steps[0]}–${steps[steps.length - 1]} (${steps.length} files)`,
      EXIT.usage,
    );
  const file = `${dir.replace(/\/+$/, '')}/${step}.jsonl`;
  let rs;
  try {
    rs = parseRolloutFile(await files.read(file), step);
  } catch (e) {
    if (e instanceof RunsError) throw new CliError(`${file}: ${e.message}`, EXIT.usage);
    throw e;
  }
  if (v.json) console.log(toJson(rs, 2));
  else {
    console.log(rolloutTable(rs).join('\n'));
    console.log(`\n${rs.length} rollouts of step ${step} (${file}); steps ${steps[0]}–${steps[steps.length - 1]} (${steps.length} files)`);
  }
  return EXIT.ok;
}
