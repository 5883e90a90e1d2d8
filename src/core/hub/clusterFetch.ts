/**
 * A Hub dataset downloaded on a cluster (its login or compute node has the bandwidth and the
 * disk) as a job through the JobBackend: the job runs the ecosystem's own downloader there —
 * `hf download` (huggingface_hub ≥ 0.34), else `huggingface-cli download`, else
 * `huggingface_hub.snapshot_download` from python3 — into `--local-dir DIR` (the repository's
 * files at the same paths), then lists the parquet files it holds, one `CODEDANCE_FETCHED <path>`
 * line each, which `fetchedFromLog` reads back. The token goes as a secret of the job (never in the
 * script), HF_ENDPOINT as a plain variable.
 */
import { shQuote } from '../jobs/slurmText';
import type { JobSpec } from '../jobs/types';
import { HubError } from './errors';
import type { HubSettings } from './settings';

export const FETCHED_MARK = 'CODEDANCE_FETCHED';
export const DEST_MARK = 'CODEDANCE_DEST';
/** the exit code of the job when no downloader is installed on the node */
export const NO_DOWNLOADER_EXIT = 127;

export interface ClusterFetchRequest {
  /** org/name of a dataset repository */
  repo: string;
  revision: string;
  /** the folder on the cluster (relative: to the job's working folder) */
  to: string;
  settings: Pick<HubSettings, 'endpoint' | 'token'>;
}

const REPO = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** The job that downloads `r.repo` at `r.revision` into `r.to` on the cluster. */
export function clusterFetchJob(r: ClusterFetchRequest): JobSpec {
  if (!REPO.test(r.repo))
    throw new HubError('not-found', `'${r.repo}' is not a repository id`, { fix: 'give it as org/name, e.g. Peterwatwec/CodeDance-RL' });
  if (!/^[A-Za-z0-9_./~+-]+$/.test(r.to))
    throw new HubError('not-found', `--to ${JSON.stringify(r.to)}: use a folder path of letters, digits and / . _ - ~`, {
      fix: 'pick a plain path on the cluster, e.g. data/codedance-rl',
    });
  const py = [
    'import sys, huggingface_hub as h',
    'h.snapshot_download(sys.argv[1], repo_type="dataset", revision=sys.argv[2], local_dir=sys.argv[3])',
  ].join('; ');
  const entrypoint = [
    'set -eo pipefail',
    `REPO=${shQuote(r.repo)}`,
    `REV=${shQuote(r.revision)}`,
    `DEST=${shQuote(r.to)}`,
    'mkdir -p "$DEST"',
    'if command -v hf >/dev/null 2>&1; then hf download "$REPO" --repo-type dataset --revision "$REV" --local-dir "$DEST"',
    'elif command -v huggingface-cli >/dev/null 2>&1; then huggingface-cli download "$REPO" --repo-type dataset --revision "$REV" --local-dir "$DEST"',
    `elif python3 -c 'import huggingface_hub' >/dev/null 2>&1; then python3 -c ${shQuote(py)} "$REPO" "$REV" "$DEST"`,
    `else echo "codedance: no Hugging Face downloader on $(hostname): neither hf, huggingface-cli nor python3 with huggingface_hub; install it there: python3 -m pip install -U huggingface_hub" >&2; exit ${NO_DOWNLOADER_EXIT}; fi`,
    `echo "${DEST_MARK} $(cd "$DEST" && pwd -P)"`,
    `(cd "$DEST" && find . -name '*.parquet' -not -path './.cache/*' | LC_ALL=C sort | sed 's|^\\./|${FETCHED_MARK} |')`,
  ].join('\n');
  const env: Record<string, string> = { HF_HUB_DISABLE_PROGRESS_BARS: '1' };
  if (r.settings.endpoint !== 'https://huggingface.co') env.HF_ENDPOINT = r.settings.endpoint;
  return {
    name: `fetch-${r.repo.split('/')[1]}`.slice(0, 64),
    entrypoint,
    env,
    nodes: 1,
    gpusPerNode: 0,
    metadata: { template: 'hub-fetch', repo: r.repo, revision: r.revision, dest: r.to },
    ...(r.settings.token ? { secretEnv: { HF_TOKEN: r.settings.token } } : {}),
  };
}

/** The folder (absolute on the cluster) and the parquet files (repository paths) a finished fetch job reported. */
export function fetchedFromLog(log: string): { dest?: string; files: string[] } {
  const files: string[] = [];
  let dest: string | undefined;
  for (const line of log.split(/\r?\n/)) {
    if (line.startsWith(`${FETCHED_MARK} `)) files.push(line.slice(FETCHED_MARK.length + 1).trim());
    else if (line.startsWith(`${DEST_MARK} `)) dest = line.slice(DEST_MARK.length + 1).trim();
  }
  return { dest, files };
}
