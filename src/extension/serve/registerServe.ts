/**
 * `CodeDance: Serve Model on Cluster`: cluster → policy or the seed's judge → checkpoint → the vLLM
 * job opens for review (as training jobs do) → submit → the replicas are discovered and reached
 * (Slurm: SSH tunnels) → ready: they join chat's and eval's endpoints (status bar
 * `CodeDance: hpc · 2 replicas · codedance-7b`), a served judge becomes eval's judge choice. When
 * the job stops or ends they are removed and the tunnels close. Nothing is written to settings.
 * The window remembers its serve jobs (workspace state: cluster name, job id, what it serves —
 * serveRecords.ts): closing the window leaves them running; the next window finds them again,
 * re-opens the tunnels and puts the replicas back in the pool. VS Code gives an extension no way
 * to ask before a window closes, so "Stop Serving" is offered when a model is ready or found again.
 * The questions: serveWizard.ts; the jobs themselves: ServedJobs.ts.
 */
import * as vscode from 'vscode';
import type { ServedEndpoints } from '../../core/serve';
import type { JobNode, JobsTreeProvider } from '../jobs/JobsTreeProvider';
import { onFirstUse } from '../onFirstUse';
import { serveRecords } from './serveRecords';
import type { ServeModelArgs } from './serveWizard';

/** `served`: this window's served models (created in activate()), filled from here, read by chat and eval. */
export function registerServe(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  served: ServedEndpoints,
  tree?: JobsTreeProvider,
): void {
  context.subscriptions.push(serveStatusItem(served));
  // the serve jobs' code (ServedJobs.ts, a chunk) loads with the first command, or at once when there are jobs to find again
  const jobs = onFirstUse(async () => new (await import('./ServedJobs')).ServedJobs(context, log, served, tree));
  const reg = (id: string, fn: (...args: unknown[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg('codedance.serveModel', async (arg) => (await jobs.get()).serve(arg as ServeModelArgs | JobNode | undefined));
  reg('codedance.serve.stop', async (arg) => (await jobs.get()).stopCommand(arg));
  reg('codedance.serve.list', () => served.list());
  // the jobs this workspace served before the window closed: found again once the workspace is trusted
  const findServed = (): void => {
    if (serveRecords(context.workspaceState).length) void jobs.get().then((j) => j.findServed());
  };
  if (vscode.workspace.isTrusted) findServed();
  else context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(findServed));
  context.subscriptions.push(jobs);
}

/** The status bar item of the served models (click: stop one); the `codedance.serve.active` context key with it. */
function serveStatusItem(served: ServedEndpoints): vscode.Disposable {
  const status = vscode.window.createStatusBarItem('codedance.serveStatus', vscode.StatusBarAlignment.Right, 99);
  status.command = 'codedance.serve.stop';
  status.name = 'CodeDance served models';
  const update = (): void => {
    const p = served.policy();
    const j = served.judge();
    void vscode.commands.executeCommand('setContext', 'codedance.serve.active', !!(p || j));
    if (!p && !j) return status.hide();
    status.text = `$(server-process) CodeDance: ${p ? p.summary : ''}${p && j ? ' · ' : ''}${j ? `judge on ${j.clusterName}` : ''}`;
    status.tooltip =
      [...served.list()]
        .map((m) => `${m.servedModelName} (${m.role}) on ${m.clusterName}, job ${m.jobId}: ${m.baseUrls.join(', ')}`)
        .join('\n') + '\nClick to stop one.';
    status.show();
  };
  const off = served.onChange(update);
  return { dispose: () => (off(), status.dispose()) };
}
