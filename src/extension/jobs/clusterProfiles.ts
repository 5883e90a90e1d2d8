import * as vscode from 'vscode';
import {
  mergeProfiles,
  parseClusterProfile,
  type ClusterProfile,
  type ProfileEntry,
  type ProfileOrigin,
  type TemplateParams,
} from '../../core/jobs';

/**
 * A profile from settings, with its optional template defaults (`defaults`), `${workspaceFolder}`
 * expanded, and where it came from (user settings, or the workspace's).
 */
export type EditorClusterProfile = ClusterProfile & { defaults?: Partial<TemplateParams>; origin?: ProfileOrigin };

function expandVars(value: unknown, folder: string | undefined): unknown {
  if (typeof value === 'string') return folder ? value.replace(/\$\{workspaceFolder\}/g, folder) : value;
  if (Array.isArray(value)) return value.map((v) => expandVars(v, folder));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandVars(v, folder)]));
  return value;
}

/**
 * `codedance.jobs.clusters`, checked; problems come back as text (shown on the tree, never thrown).
 * User settings win: a workspace profile with the name of a user profile is dropped (a problem),
 * the others are marked `origin: 'workspace'`. An untrusted workspace's value is never read.
 */
export function readClusterProfiles(): { profiles: EditorClusterProfile[]; problems: string[] } {
  const seen = vscode.workspace.getConfiguration('codedance').inspect<unknown[]>('jobs.clusters');
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const problems: string[] = [];
  const read = (raw: unknown, origin: ProfileOrigin, source: string): ProfileEntry<EditorClusterProfile>[] => {
    const out: ProfileEntry<EditorClusterProfile>[] = [];
    for (const r of Array.isArray(raw) ? raw : []) {
      try {
        const p = { ...(parseClusterProfile(expandVars(r, folder)) as EditorClusterProfile), origin };
        if (out.some((x) => x.profile.name === p.name)) throw new Error(`two cluster profiles are named '${p.name}' in ${source}`);
        out.push({ profile: p, origin, source });
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    return out;
  };
  const user = read(seen?.globalValue, 'user', 'user settings');
  // a restricted setting: an untrusted workspace's value does not count
  const workspace = vscode.workspace.isTrusted
    ? read([...asList(seen?.workspaceValue), ...asList(seen?.workspaceFolderValue)], 'workspace', 'workspace settings')
    : [];
  const merged = mergeProfiles(user, workspace);
  for (const s of merged.shadowed)
    problems.push(`the workspace's cluster profile '${s.profile.name}' is ignored: your user settings have a profile of that name`);
  return { profiles: merged.entries.map((e) => e.profile), problems };
}

function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
