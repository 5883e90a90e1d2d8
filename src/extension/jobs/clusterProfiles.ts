import * as vscode from 'vscode';
import { parseClusterProfile, type ClusterProfile, type JobSecrets, type TemplateParams } from '../../core/jobs';

/** A profile from settings, with its optional template defaults (`defaults`), `${workspaceFolder}` expanded. */
export type EditorClusterProfile = ClusterProfile & { defaults?: Partial<TemplateParams> };

function expandVars(value: unknown, folder: string | undefined): unknown {
  if (typeof value === 'string') return folder ? value.replace(/\$\{workspaceFolder\}/g, folder) : value;
  if (Array.isArray(value)) return value.map((v) => expandVars(v, folder));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandVars(v, folder)]));
  return value;
}

/** `codedance.jobs.clusters`, checked; problems come back as text (shown on the tree, never thrown). */
export function readClusterProfiles(): { profiles: EditorClusterProfile[]; problems: string[] } {
  // a restricted setting: in an untrusted workspace VS Code returns only the user-level value
  const raw = vscode.workspace.getConfiguration('codedance').get<unknown[]>('jobs.clusters', []);
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const profiles: EditorClusterProfile[] = [];
  const problems: string[] = [];
  for (const r of Array.isArray(raw) ? raw : []) {
    try {
      const p = parseClusterProfile(expandVars(r, folder)) as EditorClusterProfile;
      if (profiles.some((x) => x.name === p.name)) throw new Error(`two cluster profiles are named '${p.name}'`);
      profiles.push(p);
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return { profiles, problems };
}

export type SecretKind = keyof JobSecrets;

/** Cluster secrets live in SecretStorage only, keyed by profile name. */
export class ClusterSecrets {
  constructor(private readonly storage: vscode.SecretStorage) {}

  private key(cluster: string, kind: SecretKind): string {
    return `codedance.jobs.${kind}.${cluster}`;
  }

  async get(cluster: string): Promise<JobSecrets> {
    const [token, passphrase, password] = await Promise.all((['token', 'passphrase', 'password'] as const).map((k) => this.storage.get(this.key(cluster, k))));
    return { token, passphrase, password };
  }

  async set(cluster: string, kind: SecretKind, value: string | undefined): Promise<void> {
    if (value) await this.storage.store(this.key(cluster, kind), value);
    else await this.storage.delete(this.key(cluster, kind));
  }
}
