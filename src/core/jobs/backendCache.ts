/**
 * One backend per cluster profile, reused while the profile and its secrets stay the same. The
 * secrets are part of the key only as a keyed SHA-256 digest (never the values, never their
 * lengths): a corrected token of the same length makes a new backend.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { createBackend } from './createBackend';
import type { ClusterProfile, JobBackend, JobSecrets } from './types';

export class BackendCache {
  private readonly backends = new Map<string, { key: string; backend: JobBackend }>();
  /** per cache: the digests cannot be compared across processes or looked up in a table */
  private readonly salt = randomBytes(32);

  constructor(private readonly create: (profile: ClusterProfile, secrets: JobSecrets) => JobBackend = createBackend) {}

  /** What identifies a backend: the whole profile plus a digest of each secret. */
  keyOf(profile: ClusterProfile, secrets: JobSecrets): string {
    const digest = (v: string | undefined) => (v === undefined ? null : createHmac('sha256', this.salt).update(v).digest('hex'));
    return JSON.stringify([profile, digest(secrets.token), digest(secrets.passphrase), digest(secrets.password)]);
  }

  /** The backend for this profile and these secrets; a previous one with other settings is disposed. */
  get(profile: ClusterProfile, secrets: JobSecrets): JobBackend {
    const key = this.keyOf(profile, secrets);
    const have = this.backends.get(profile.name);
    if (have && have.key === key) return have.backend;
    if (have) void have.backend.dispose();
    const backend = this.create(profile, secrets);
    this.backends.set(profile.name, { key, backend });
    return backend;
  }

  dispose(): void {
    for (const b of this.backends.values()) void b.backend.dispose();
    this.backends.clear();
  }
}
