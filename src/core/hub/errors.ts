/**
 * Errors of the Hugging Face Hub layer, subclasses of the one root `CodeDanceError`. Each names
 * the repository and file, the cause and the fix; the token is never in one (every message goes
 * through redaction with it).
 */
import { CodeDanceError, type ErrorFix, type ErrorKind } from '../errors';
import { formatBytes } from '../files/diskFull';
import { redactSecrets } from '../secrets';

/**
 * - `gated`: 401/403, the repository is gated or private and the token is missing or lacks access
 * - `not-found`: no such repository, revision or file
 * - `offline-miss`: HF_HUB_OFFLINE is set and the file is not in the cache
 * - `integrity`: the downloaded bytes do not match the Hub's hash (or size): refused
 * - `network`: the Hub or its CDN cannot be reached, or the transfer broke (what was downloaded is kept: rerun to resume)
 * - `server`: the Hub answered with an error of its own
 * - `token`: the token cannot be used as given
 * - `disk-space`: not enough free space for the download
 * - `cancelled`: the user cancelled (the partial file is kept for a resume)
 */
export type HubErrorCode =
  'gated' | 'not-found' | 'offline-miss' | 'integrity' | 'network' | 'server' | 'token' | 'disk-space' | 'cancelled';

const KIND: Record<HubErrorCode, ErrorKind> = {
  gated: 'config',
  'not-found': 'dataset',
  'offline-miss': 'dataset',
  integrity: 'dataset',
  network: 'dataset',
  server: 'dataset',
  token: 'config',
  'disk-space': 'disk-full',
  cancelled: 'cancelled',
};

/** A failure to get a file from the Hub (or from its cache); `code` says which. */
export class HubError extends CodeDanceError {
  override name = 'HubError';
  declare readonly code: HubErrorCode;
  /** the HTTP status, when the Hub answered */
  readonly status?: number;
  constructor(
    code: HubErrorCode,
    reason: string,
    o: { fix?: ErrorFix | string; status?: number; secrets?: readonly (string | undefined)[]; cause?: unknown } = {},
  ) {
    const secrets = o.secrets ?? [];
    const fix = typeof o.fix === 'string' ? { text: o.fix } : o.fix;
    super(KIND[code], redactSecrets(reason, secrets), {
      code,
      fix: fix && { ...fix, text: redactSecrets(fix.text, secrets) },
      retryable: code === 'network' || code === 'server',
      cause: o.cause,
    });
    this.status = o.status;
  }
}

/** The web page of a repository (where its terms are accepted). */
export function repoPage(endpoint: string, repoId: string, type: 'dataset' | 'model' = 'dataset'): string {
  return `${endpoint.replace(/\/+$/, '')}/${type === 'model' ? '' : `${type}s/`}${repoId}`;
}

/** 401/403 from the Hub: a gated or private repository, and how to get access. */
export function gatedError(o: {
  endpoint: string;
  repoId: string;
  status: number;
  tokenSource?: string;
  secrets: (string | undefined)[];
}): HubError {
  const page = repoPage(o.endpoint, o.repoId);
  const tokens = `${o.endpoint.replace(/\/+$/, '')}/settings/tokens`;
  const reason = o.tokenSource
    ? `the Hub refused access to datasets/${o.repoId} (HTTP ${o.status}) with the token from ${o.tokenSource}: it is gated or private, and this account has not been granted access`
    : `datasets/${o.repoId} is gated or private (HTTP ${o.status}) and no Hugging Face token was sent`;
  const fix = o.tokenSource
    ? `open ${page}, accept its terms (or request access) with the account of that token, then run it again`
    : `open ${page} and accept its terms (or request access), then create a read token at ${tokens} and set it as HF_TOKEN (in VS Code: the "Set Hugging Face Token…" button, kept in SecretStorage)`;
  return new HubError('gated', reason, { fix, status: o.status, secrets: o.secrets });
}

/** Not enough room for a download: the bytes needed and free, where, and what to do. */
export function diskSpaceError(o: { what: string; needed: number; free: number; dir: string; mount?: string }): HubError {
  const where = o.mount ? `the disk mounted at ${o.mount}` : o.dir;
  return new HubError(
    'disk-space',
    `not enough disk space to download ${o.what}: ${formatBytes(o.needed)} (${o.needed} bytes) needed, ${formatBytes(o.free)} (${o.free} bytes) free on ${where} (the Hugging Face cache ${o.dir})`,
    { fix: `free space on ${o.mount ?? o.dir}, or point HF_HUB_CACHE (or HF_HOME) at a folder on a disk with room` },
  );
}
