/**
 * The Hub's API through @huggingface/hub (its URLs, headers and auth), with one fetch that adds
 * the cancel signal and keeps the last error answer, and every failure turned into a HubError
 * that names the repository and says what to do.
 */
import { datasetInfo, fileDownloadInfo, HubApiError, listFiles, modelInfo, pathsInfo } from '@huggingface/hub';
import { gatedError, HubError } from './errors';
import type { RepoRef } from './cacheLayout';
import type { HubSettings } from './settings';

/** A file of a repository at a commit, as the Hub describes it. */
export interface RemoteFile {
  path: string;
  size: number;
  /** the blob's name in the cache: the LFS sha256, else the git blob sha1 */
  etag: string;
  hash: 'sha256' | 'git-sha1';
}

/** What a call needs: where the Hub is, the token, the cancel signal. */
export interface HubContext {
  settings: HubSettings;
  repo: RepoRef;
  signal?: AbortSignal;
}

interface Answer {
  status: number;
  errorCode?: string;
  errorMessage?: string;
}

/** `fetch` with the cancel signal; `last` keeps the latest error answer's X-Error-Code / X-Error-Message. */
export function hubFetch(signal: AbortSignal | undefined, last: { answer?: Answer } = {}): typeof fetch {
  return async (input, init) => {
    const r = await fetch(input, { ...init, signal });
    if (!r.ok)
      last.answer = {
        status: r.status,
        errorCode: r.headers.get('x-error-code') ?? undefined,
        errorMessage: r.headers.get('x-error-message') ?? undefined,
      };
    return r;
  };
}

function credentials(s: HubSettings): { accessToken?: string; hubUrl: string } {
  return { hubUrl: s.endpoint, ...(s.token ? { accessToken: s.token } : {}) };
}

/** Runs one library call; its failure as a HubError (`what`: the thing asked for, e.g. "data/x.parquet at 1a2b3c4"). */
export async function callHub<T>(c: HubContext, what: string, call: (f: typeof fetch) => Promise<T>): Promise<T> {
  const last: { answer?: Answer } = {};
  try {
    return await call(hubFetch(c.signal, last));
  } catch (e) {
    throw hubError(e, c, what, last.answer);
  }
}

/** Any failure of a Hub request as a HubError. */
export function hubError(e: unknown, c: HubContext, what: string, answer?: Answer): HubError {
  if (e instanceof HubError) return e;
  const where = `${c.repo.type}s/${c.repo.id}`;
  if (c.signal?.aborted || (e as Error)?.name === 'AbortError') return new HubError('cancelled', `cancelled: ${what} of ${where}`);
  if (e instanceof TypeError && /access token must start with/.test(e.message))
    return new HubError(
      'token',
      `the Hugging Face token (from ${c.settings.tokenSource}) is not a Hub access token (those start with hf_)`,
      {
        fix: `create a read token at ${c.settings.endpoint}/settings/tokens and set it as HF_TOKEN`,
      },
    );
  const status = e instanceof HubApiError ? e.statusCode : answer?.status;
  if (status !== undefined) return statusError(status, e, c, what, answer);
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return new HubError(
    'network',
    `cannot reach ${c.settings.endpoint} for ${what} of ${where}: ${cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e)}`,
    {
      secrets: [c.settings.token],
      cause: e,
      fix: 'check the network (a proxy, HF_ENDPOINT for a mirror), or set HF_HUB_OFFLINE=1 to use only what is already in the cache',
    },
  );
}

const NOT_FOUND: Record<string, string> = { RevisionNotFound: 'revision', EntryNotFound: 'file', RepoNotFound: 'repository' };

/** An HTTP error answer: gated (401/403), not found (404, which thing by X-Error-Code), else the Hub's own failure. */
function statusError(status: number, e: unknown, c: HubContext, what: string, answer?: Answer): HubError {
  const secrets = [c.settings.token];
  const where = `${c.repo.type}s/${c.repo.id}`;
  if (status === 401 || status === 403)
    return gatedError({ endpoint: c.settings.endpoint, repoId: c.repo.id, status, tokenSource: c.settings.tokenSource, secrets });
  const said = e instanceof HubApiError ? e.message.replace(/\. URL: .*$/, '') : (e as Error)?.message;
  if (status === 404) {
    const which = NOT_FOUND[answer?.errorCode ?? ''] ?? 'repository, revision or file';
    const mirror =
      c.settings.endpoint === 'https://huggingface.co' ? '' : ` (HF_ENDPOINT is ${c.settings.endpoint}: a mirror may not have it)`;
    return new HubError('not-found', `${c.settings.endpoint} has no such ${which}: ${what} of ${where} (${said})`, {
      status,
      secrets,
      fix: `check the name on ${c.settings.endpoint}/${where}${mirror}`,
    });
  }
  return new HubError('server', `${c.settings.endpoint} answered HTTP ${status} for ${what} of ${where}: ${said}`, {
    status,
    secrets,
    fix: 'try again later; if it persists, check HF_ENDPOINT and the Hub status page',
  });
}

/** The commit a branch or tag points to now. */
export async function resolveCommit(c: HubContext, revision: string): Promise<string> {
  const info = await callHub(c, `revision '${revision}'`, (f) =>
    c.repo.type === 'model'
      ? modelInfo({ name: c.repo.id, revision, additionalFields: ['sha'], fetch: f, ...credentials(c.settings) })
      : datasetInfo({ name: c.repo.id, revision, additionalFields: ['sha'], fetch: f, ...credentials(c.settings) }),
  );
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha))
    throw new HubError('server', `${c.settings.endpoint} gave no commit for revision '${revision}' of ${c.repo.type}s/${c.repo.id}`);
  return sha;
}

function remoteFile(e: {
  path: string;
  type: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number };
}): RemoteFile | undefined {
  if (e.type !== 'file') return undefined;
  if (e.lfs) return { path: e.path, size: e.lfs.size, etag: e.lfs.oid, hash: 'sha256' };
  if (e.oid) return { path: e.path, size: e.size, etag: e.oid, hash: 'git-sha1' };
  return undefined;
}

/** Size and hash of each path at `commit`; a path that is not a file there is an error naming it. */
export async function describeFiles(c: HubContext, commit: string, paths: string[]): Promise<RemoteFile[]> {
  const infos = await callHub(c, `${paths.length} file(s) at ${commit.slice(0, 7)}`, (f) =>
    pathsInfo({ repo: { name: c.repo.id, type: c.repo.type }, paths, revision: commit, fetch: f, ...credentials(c.settings) }),
  );
  return paths.map((p) => {
    const r = remoteFile(infos.find((i) => i.path === p) ?? { path: p, type: 'missing', size: 0 });
    if (!r)
      throw new HubError('not-found', `${c.repo.type}s/${c.repo.id} has no file '${p}' at commit ${commit}`, {
        fix: `see the files at ${c.settings.endpoint}/${c.repo.type}s/${c.repo.id}/tree/${commit}`,
      });
    return r;
  });
}

/** Every file of the repository at `commit` (recursive). */
export async function listRepoFiles(c: HubContext, commit: string): Promise<RemoteFile[]> {
  return callHub(c, `the file list at ${commit.slice(0, 7)}`, async (f) => {
    const out: RemoteFile[] = [];
    for await (const e of listFiles({
      repo: { name: c.repo.id, type: c.repo.type },
      revision: commit,
      recursive: true,
      fetch: f,
      ...credentials(c.settings),
    })) {
      const r = remoteFile(e);
      if (r) out.push(r);
    }
    return out;
  });
}

/** The URL the file's bytes are fetched from (the Hub's resolve URL, or the CDN it redirects to on the Hub's origin). */
export async function fileUrl(c: HubContext, commit: string, file: RemoteFile): Promise<string> {
  const info = await callHub(c, `${file.path} at ${commit.slice(0, 7)}`, (f) =>
    fileDownloadInfo({
      repo: { name: c.repo.id, type: c.repo.type },
      path: file.path,
      revision: commit,
      fetch: f,
      ...credentials(c.settings),
    }),
  );
  if (!info) throw new HubError('not-found', `${c.repo.type}s/${c.repo.id} has no file '${file.path}' at commit ${commit}`);
  if (info.size !== file.size)
    throw new HubError('server', `the Hub gives two sizes for ${file.path} (${info.size} and ${file.size} bytes)`, {
      fix: 'try again later',
    });
  return info.url;
}
