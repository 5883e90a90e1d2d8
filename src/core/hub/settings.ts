/**
 * Where the Hub and its cache are, as Python's huggingface_hub reads them (constants.py and
 * utils/_auth.py): HF_ENDPOINT (a mirror), HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / HF_HOME /
 * XDG_CACHE_HOME (the cache), HF_ASSETS_CACHE (files derived from Hub files), HF_HUB_OFFLINE (or
 * TRANSFORMERS_OFFLINE: read only the cache), and the token: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then
 * the file `huggingface-cli login` writes (HF_TOKEN_PATH, default $HF_HOME/token). A token given
 * by the caller (VS Code's SecretStorage) comes first. Never a setting, never logged.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { processSecrets } from '../secrets';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubSettings {
  /** the Hub's base URL, without a trailing slash */
  endpoint: string;
  /** the hub cache folder (datasets--org--name/… inside) */
  cacheDir: string;
  /** the assets cache folder (files derived from Hub files, per library) */
  assetsDir: string;
  /** read only the cache: no request is made */
  offline: boolean;
  token?: string;
  /** where the token came from, for messages (never the token itself) */
  tokenSource?: string;
}

export interface HubSettingsOverrides {
  endpoint?: string;
  cacheDir?: string;
  offline?: boolean;
  /** a token from the editor's secret store */
  token?: string;
  tokenSource?: string;
}

/** Python's `_is_true`: 1, ON, YES, TRUE (any case). */
export function envTrue(v: string | undefined): boolean {
  return !!v && ['1', 'ON', 'YES', 'TRUE'].includes(v.trim().toUpperCase());
}

function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface');
}

/** The hub cache, in huggingface_hub's order (the same as @huggingface/hub's getHFHubCachePath). */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE || path.join(hfHome(env), 'hub');
}

function tokenFromFile(env: NodeJS.ProcessEnv): { token: string; source: string } | undefined {
  const file = env.HF_TOKEN_PATH || path.join(hfHome(env), 'token');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined; // no token file: not logged in, which is fine for public sets
  }
  const token = text.trim();
  return token ? { token, source: `the token file ${file}` } : undefined;
}

/** The token and where it came from: the caller's, HF_TOKEN, HUGGING_FACE_HUB_TOKEN, the token file. */
function hubToken(o: HubSettingsOverrides, env: NodeJS.ProcessEnv): { token: string; source: string } | undefined {
  if (o.token?.trim()) return { token: o.token.trim(), source: o.tokenSource ?? 'the editor' };
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'] as const) {
    const t = env[name]?.trim();
    if (t) return { token: t, source: name };
  }
  return tokenFromFile(env);
}

/** The settings from the environment, with the caller's overrides (a flag, the editor's secret store) first. */
export function hubSettings(o: HubSettingsOverrides = {}, env: NodeJS.ProcessEnv = process.env): HubSettings {
  const t = hubToken(o, env);
  // whatever its source, the token is a secret of this process: no output, log or error shows it
  if (t) processSecrets.add(t.token);
  return {
    endpoint: (o.endpoint || env.HF_ENDPOINT || DEFAULT_ENDPOINT).trim().replace(/\/+$/, ''),
    cacheDir: path.resolve(o.cacheDir || hubCacheDir(env)),
    assetsDir: path.resolve(env.HF_ASSETS_CACHE || env.HUGGINGFACE_ASSETS_CACHE || path.join(hfHome(env), 'assets')),
    offline: o.offline ?? (envTrue(env.HF_HUB_OFFLINE) || envTrue(env.TRANSFORMERS_OFFLINE)),
    ...(t ? { token: t.token, tokenSource: t.source } : {}),
  };
}
