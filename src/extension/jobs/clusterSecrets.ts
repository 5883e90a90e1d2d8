/**
 * Cluster secrets in VS Code's SecretStorage (only its interface is used here, so this runs in
 * plain Node too): keyed by profile name and address (secretStorageKey), never in settings.
 */
import type * as vscode from 'vscode';
import { secretStorageKey, type ClusterProfile, type JobSecrets, type ProfileOrigin } from '../../core/jobs';

export type SecretKind = keyof JobSecrets;

/** Cluster secrets live in SecretStorage only, keyed by profile name and address (secretStorageKey). */
export class ClusterSecrets {
  constructor(private readonly storage: vscode.SecretStorage) {}

  async get(profile: ClusterProfile & { origin?: ProfileOrigin }): Promise<JobSecrets> {
    const [token, passphrase, password] = await Promise.all(
      (['token', 'passphrase', 'password'] as const).map((k) => this.read(profile, k)),
    );
    return { token, passphrase, password };
  }

  private async read(profile: ClusterProfile & { origin?: ProfileOrigin }, kind: SecretKind): Promise<string | undefined> {
    const value = await this.storage.get(secretStorageKey(profile, kind));
    if (value !== undefined || profile.origin !== 'user') return value;
    // secrets of earlier versions were keyed by name only: a user profile takes its own over once
    const legacyKey = `codedance.jobs.${kind}.${profile.name}`;
    const legacy = await this.storage.get(legacyKey);
    if (legacy === undefined) return undefined;
    await this.storage.store(secretStorageKey(profile, kind), legacy);
    await this.storage.delete(legacyKey);
    return legacy;
  }

  async set(profile: ClusterProfile, kind: SecretKind, value: string | undefined): Promise<void> {
    if (value) await this.storage.store(secretStorageKey(profile, kind), value);
    else await this.storage.delete(secretStorageKey(profile, kind));
  }
}
