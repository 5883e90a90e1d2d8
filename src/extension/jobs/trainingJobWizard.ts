/**
 * The questions of `CodeDance: Start Training Job` before its review opens: the cluster (also
 * asked by "Set Cluster Secret"), the template, the experiment name; and, for a Slurm cluster,
 * which of its secrets to set.
 */
import * as vscode from 'vscode';
import { TEMPLATES, type JobTemplate } from '../../core/jobs';
import { readClusterProfiles, type EditorClusterProfile } from './clusterProfiles';
import type { SecretKind } from './clusterSecrets';

/** The cluster: the only one, or a pick; none configured: a warning that offers the settings. */
export async function pickClusterProfile(): Promise<EditorClusterProfile | undefined> {
  const { profiles, problems } = readClusterProfiles();
  for (const p of problems) void vscode.window.showWarningMessage(`CodeDance: codedance.jobs.clusters: ${p}`);
  if (!profiles.length) {
    const a = await vscode.window.showWarningMessage(
      'CodeDance: no training cluster profiles yet. Add a Ray dashboard ({name, kind: "ray", address}) or an SSH host of a Slurm cluster ({name, kind: "slurm", host}) to the setting codedance.jobs.clusters.',
      'Open Settings',
    );
    if (a) await vscode.commands.executeCommand('workbench.action.openSettingsJson');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    profiles.map((p) => ({
      label: p.name,
      description: `${p.kind === 'ray' ? `Ray · ${p.address}` : `Slurm over SSH · ${p.user ? p.user + '@' : ''}${p.host}${p.port ? ':' + p.port : ''}`}${p.origin === 'workspace' ? ' · workspace settings' : ''}`,
      profile: p,
    })),
    { title: 'Start Training Job (1/3): cluster', placeHolder: 'Which cluster runs the job?', ignoreFocusOut: true },
  );
  return picked?.profile;
}

/** The template and the experiment name (also the job name); undefined when either is dismissed. */
export async function askTrainingJob(
  profile: EditorClusterProfile,
): Promise<{ template: JobTemplate; experimentName: string } | undefined> {
  const tpl = await vscode.window.showQuickPick(
    TEMPLATES.filter((t) => t.kinds.includes(profile.kind)).map((t) => ({ label: t.label, detail: t.description, template: t })),
    { title: 'Start Training Job (2/3): template', placeHolder: 'What to run', ignoreFocusOut: true },
  );
  if (!tpl) return undefined;
  const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
  const experimentName = await vscode.window.showInputBox({
    title: 'Start Training Job (3/3): experiment name',
    prompt: 'trainer.experiment_name (also the job name); everything else is editable in the next step',
    value: profile.defaults?.experimentName ?? `${tpl.template.id}-${stamp}`,
    ignoreFocusOut: true,
    validateInput: (v) => (/^[A-Za-z0-9_.-]{1,64}$/.test(v) ? undefined : '1-64 letters, digits, _ . -'),
  });
  if (!experimentName) return undefined;
  return { template: tpl.template, experimentName };
}

/** Which secret to set: a Ray cluster has a token; a Slurm cluster a key passphrase or a password (asked). */
export async function askSecretKind(profile: EditorClusterProfile): Promise<SecretKind | undefined> {
  if (profile.kind !== 'slurm') return 'token';
  const k = await vscode.window.showQuickPick(
    [
      { label: 'SSH key passphrase', secret: 'passphrase' as const },
      { label: 'SSH password', secret: 'password' as const },
    ],
    { title: `Secret for ${profile.name}` },
  );
  return k?.secret;
}
