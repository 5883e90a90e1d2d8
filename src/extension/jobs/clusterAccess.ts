/**
 * How the Training Jobs feature reaches its clusters: one backend per profile and secrets
 * (core's BackendCache), and the secrets themselves (SecretStorage), asked for when a cluster
 * refuses us or from the tree's "Set Cluster Secret".
 */
import * as vscode from 'vscode';
import { BackendCache, JobsAuthError, profileEndpoint, type JobBackend } from '../../core/jobs';
import { errorMessage } from '../errors';
import type { EditorClusterProfile } from './clusterProfiles';
import { ClusterSecrets, type SecretKind } from './clusterSecrets';

export class ClusterAccess implements vscode.Disposable {
  private readonly secrets: ClusterSecrets;
  private readonly backends = new BackendCache();

  /** `onSecretChanged`: after a secret was stored or removed (the tree reads the clusters again) */
  constructor(
    storage: vscode.SecretStorage,
    private readonly log: vscode.LogOutputChannel,
    private readonly onSecretChanged: () => void,
  ) {
    this.secrets = new ClusterSecrets(storage);
  }

  async backendFor(profile: EditorClusterProfile): Promise<JobBackend> {
    return this.backends.get(profile, await this.secrets.get(profile));
  }

  /** Offers to set the missing/wrong secret when a cluster refuses us; true when one was set. */
  async offerSecret(profile: EditorClusterProfile, e: unknown): Promise<boolean> {
    if (!(e instanceof JobsAuthError)) return false;
    const kind: SecretKind = profile.kind === 'ray' ? 'token' : e.fix?.setting === 'jobs.sshPassphrase' ? 'passphrase' : 'password';
    const a = await vscode.window.showErrorMessage(
      `CodeDance: ${errorMessage(e)}`,
      kind === 'token' ? 'Set Token' : kind === 'passphrase' ? 'Set Key Passphrase' : 'Set Password',
    );
    if (!a) return false;
    return this.setSecret(profile, kind);
  }

  /** Asks for the secret (empty removes it); true when one was stored or removed. */
  async setSecret(profile: EditorClusterProfile, kind: SecretKind): Promise<boolean> {
    const where = `${profile.name} (${profileEndpoint(profile)}${profile.origin === 'workspace' ? ', from the workspace settings' : ''})`;
    const what =
      kind === 'token'
        ? `Ray dashboard token for ${where}`
        : kind === 'passphrase'
          ? `SSH key passphrase for ${where}`
          : `SSH password for ${where}`;
    const value = await vscode.window.showInputBox({
      prompt: `${what} (kept in VS Code's secret storage; empty removes it)`,
      password: true,
      ignoreFocusOut: true,
    });
    if (value === undefined) return false;
    await this.secrets.set(profile, kind, value);
    this.log.info(`jobs: ${what} ${value ? 'stored' : 'removed'}`);
    this.onSecretChanged();
    return true;
  }

  dispose(): void {
    this.backends.dispose();
  }
}
