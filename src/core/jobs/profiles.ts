/**
 * Where the CLI finds cluster profiles: a JSON file (`--clusters FILE` or $CODEDANCE_CLUSTERS:
 * a list, or `{"codedance.jobs.clusters": [...]}`), else the workspace's .vscode/settings.json
 * (the same profiles the editor uses), else ~/.codedance/clusters.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseClusterProfile } from './createBackend';
import { JobsError } from './errors';
import type { ClusterProfile } from './types';

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

export function profilesFromJson(text: string, source: string): ClusterProfile[] {
  let data: unknown;
  try {
    data = JSON.parse(stripJsonc(text));
  } catch (e) {
    throw new JobsError('config', `${source} is not valid JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(data) ? data : (data as Record<string, unknown>)?.['codedance.jobs.clusters'];
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new JobsError('config', `${source}: codedance.jobs.clusters must be a list`);
  return list.map((p) => parseClusterProfile(p));
}

export function loadProfiles(opts: { file?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): { profiles: ClusterProfile[]; source?: string } {
  const env = opts.env ?? process.env;
  const explicit = opts.file ?? env.CODEDANCE_CLUSTERS;
  if (explicit) {
    if (!existsSync(explicit)) throw new JobsError('config', `clusters file not found: ${explicit}`);
    return { profiles: profilesFromJson(readFileSync(explicit, 'utf8'), explicit), source: explicit };
  }
  for (const f of [path.join(opts.cwd ?? process.cwd(), '.vscode/settings.json'), path.join(os.homedir(), '.codedance/clusters.json')]) {
    if (!existsSync(f)) continue;
    const profiles = profilesFromJson(readFileSync(f, 'utf8'), f);
    if (profiles.length) return { profiles, source: f };
  }
  return { profiles: [] };
}
