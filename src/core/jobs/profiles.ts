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
import { parse, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { parseClusterProfile } from './createBackend';
import { JobsError } from './errors';
import { normalizeRayAddress } from './RayJobsBackend';
import type { ClusterProfile, JobSecrets } from './types';

/**
 * A settings-style file (JSON with comments and trailing commas, as VS Code's settings.json) →
 * its value, parsed by `jsonc-parser` (VS Code's own parser). A syntax error names the file, the
 * line and the column.
 */
export function parseJsonc(text: string, source: string): unknown {
  const errors: ParseError[] = [];
  const data: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  if (errors.length) {
    // the first error only: the parser's recovery after it reports follow-on errors at the same place
    const { line, column } = lineColumn(text, errors[0].offset);
    throw new JobsError('config', `${source} is not valid JSON: ${printParseErrorCode(errors[0].error)} at line ${line}, column ${column}`);
  }
  return data;
}

/** 1-based line and column of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const nl = before.lastIndexOf('\n');
  return { line: before.split('\n').length, column: offset - nl };
}

/** The raw list of profiles in a settings-style file (a list, or `{"codedance.jobs.clusters": [...]}`). */
function rawProfiles(text: string, source: string): unknown[] {
  const data = parseJsonc(text, source);
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
  return {
    entries: [...user, ...workspace.filter((e) => !names.has(e.profile.name))],
    shadowed: workspace.filter((e) => names.has(e.profile.name)),
  };
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
      // its profiles are not used here, only counted for a hint: a broken file is reported when
      // workspace profiles are read, and nothing is lost by leaving the hint out
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
