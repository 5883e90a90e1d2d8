/**
 * Where cluster profiles come from, and which one wins. The user's own profiles (a JSON file:
 * an explicit one, else ~/.codedance/clusters.json; the editor: user settings) come first; a
 * workspace's profiles (its .vscode/settings.json) are read only when asked for, are marked as
 * such, and never replace a user profile of the same name: a cloned repository must not be able
 * to point the user's cluster — and the secrets that go with it — at a server of its own.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseClusterProfile } from './createBackend';
import { JobsError } from './errors';
import { normalizeRayAddress } from './RayJobsBackend';
import type { ClusterProfile, JobSecrets } from './types';

/** JSON with comments and trailing commas (settings.json) → JSON. */
export function stripJsonc(text: string): string {
  let out = '';
  let i = 0;
  let inString = false;
  while (i < text.length) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i += 2;
        continue;
      }
      if (c === '"') inString = false;
      i++;
    } else if (c === '"') {
      inString = true;
      out += c;
      i++;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2);
      i = i < 0 ? text.length : i + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

/** The raw list of profiles in a settings-style file (a list, or `{"codedance.jobs.clusters": [...]}`). */
function rawProfiles(text: string, source: string): unknown[] {
  let data: unknown;
  try {
    data = JSON.parse(stripJsonc(text));
  } catch (e) {
    throw new JobsError('config', `${source} is not valid JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(data) ? data : (data as Record<string, unknown>)?.['codedance.jobs.clusters'];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new JobsError('config', `${source}: codedance.jobs.clusters must be a list`);
  return list;
}

export function profilesFromJson(text: string, source: string): ClusterProfile[] {
  return rawProfiles(text, source).map((p) => parseClusterProfile(p));
}

/** Whose profile it is: the user's own, or one a workspace brought along. */
export type ProfileOrigin = 'user' | 'workspace';

export interface ProfileEntry<P extends ClusterProfile = ClusterProfile> {
  profile: P;
  origin: ProfileOrigin;
  /** the file (or settings scope) it came from */
  source: string;
}

export interface MergedProfiles<P extends ClusterProfile = ClusterProfile> {
  /** user profiles first, then the workspace's that do not reuse a user profile's name */
  entries: ProfileEntry<P>[];
  /** workspace profiles dropped because a user profile has the same name */
  shadowed: ProfileEntry<P>[];
}

/** User profiles win: a workspace profile named like a user profile is dropped (and reported). */
export function mergeProfiles<P extends ClusterProfile>(user: ProfileEntry<P>[], workspace: ProfileEntry<P>[]): MergedProfiles<P> {
  const names = new Set(user.map((e) => e.profile.name));
  return { entries: [...user, ...workspace.filter((e) => !names.has(e.profile.name))], shadowed: workspace.filter((e) => names.has(e.profile.name)) };
}

export interface LoadedProfiles extends MergedProfiles {
  /** a workspace settings file that has profiles which were not read (workspace profiles are off) */
  workspaceIgnored?: string;
}

export interface LoadProfilesOptions {
  /** the user's own clusters file (--clusters FILE); default $CODEDANCE_CLUSTERS, else ~/.codedance/clusters.json */
  file?: string;
  /** the folder whose .vscode/settings.json holds workspace profiles (default: the current folder) */
  cwd?: string;
  /** read the workspace's profiles too (off by default) */
  workspace?: boolean;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

function readEntries(file: string, origin: ProfileOrigin): ProfileEntry[] {
  return profilesFromJson(readFileSync(file, 'utf8'), file).map((profile) => ({ profile, origin, source: file }));
}

export function loadProfiles(opts: LoadProfilesOptions = {}): LoadedProfiles {
  const env = opts.env ?? process.env;
  const explicit = opts.file ?? env.CODEDANCE_CLUSTERS;
  if (explicit && !existsSync(explicit)) throw new JobsError('config', `clusters file not found: ${explicit}`);
  const userFile = explicit || path.join(opts.home ?? os.homedir(), '.codedance/clusters.json');
  const user = existsSync(userFile) ? readEntries(userFile, 'user') : [];
  const wsFile = path.join(opts.cwd ?? process.cwd(), '.vscode/settings.json');
  if (!existsSync(wsFile) || path.resolve(wsFile) === path.resolve(userFile)) return { entries: user, shadowed: [] };
  if (!opts.workspace) {
    let has = false;
    try {
      has = rawProfiles(readFileSync(wsFile, 'utf8'), wsFile).length > 0;
    } catch {
      /* a broken workspace file that is not read anyway */
    }
    return { entries: user, shadowed: [], ...(has ? { workspaceIgnored: wsFile } : {}) };
  }
  return mergeProfiles(user, readEntries(wsFile, 'workspace'));
}

/** Where a profile sends its secrets: the Ray dashboard URL, or user@host:port of the SSH login node. */
export function profileEndpoint(p: ClusterProfile): string {
  return p.kind === 'ray' ? normalizeRayAddress(p.address) : `${p.user ?? ''}@${p.host}:${p.port ?? 22}`;
}

/**
 * The storage key of one secret of a profile: by name AND endpoint, so a profile whose address
 * changed (edited, or replaced by a workspace's) does not get the old secret — it asks again.
 */
export function secretStorageKey(p: ClusterProfile, kind: keyof JobSecrets): string {
  const where = createHash('sha256').update(profileEndpoint(p)).digest('hex').slice(0, 16);
  return `codedance.jobs.${kind}.${p.name}.${where}`;
}
