/**
 * Which run to show: a job the Training Jobs tree knows (newest first), a log file of the
 * workspace (`*.log`, newest first), another log file, or a run folder (the folder a trainer ran
 * in: its newest log, in it or in its `logs/`, as the seed's launch writes `logs/run_<date>.log`).
 */
import { statSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { JobInfo } from '../../core/jobs';
import { readClusterProfiles, type EditorClusterProfile } from '../jobs/clusterProfiles';
import type { JobsTreeProvider } from '../jobs/JobsTreeProvider';
import type { RunSource } from './runSourceTypes';
import { newestLog } from './runFolder';
import { FileRunSource } from './runSources';

type Item = vscode.QuickPickItem & { pick?: () => Promise<RunSource | undefined> };

function jobItems(tree: JobsTreeProvider, make: (p: EditorClusterProfile, j: JobInfo) => RunSource): Item[] {
  const items: Item[] = [];
  for (const p of readClusterProfiles().profiles) {
    const jobs = tree.jobs(p.name);
    if (jobs.length) items.push({ label: p.name, kind: vscode.QuickPickItemKind.Separator });
    for (const j of jobs.slice(0, 30))
      items.push({
        label: `$(server-process) ${j.name ?? j.id}`,
        description: `${j.status.toLowerCase()} · ${j.id}`,
        detail: `job on ${p.name}`,
        pick: async () => make(p, j),
      });
  }
  return items;
}

async function logItems(): Promise<Item[]> {
  const files = (await vscode.workspace.findFiles('**/*.log', '**/node_modules/**', 200))
    .map((u) => ({ file: u.fsPath, mtime: statSync(u.fsPath).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime)
    .slice(0, 40);
  const items: Item[] = files.length ? [{ label: 'Log files in the workspace', kind: vscode.QuickPickItemKind.Separator }] : [];
  for (const f of files)
    items.push({
      label: `$(output) ${path.basename(f.file)}`,
      description: vscode.workspace.asRelativePath(path.dirname(f.file)),
      pick: async () => new FileRunSource(f.file),
    });
  return items;
}

const browse: Item[] = [
  { label: 'Other', kind: vscode.QuickPickItemKind.Separator },
  {
    label: '$(file) Log file…',
    detail: 'a training log on this machine (or a mounted folder), followed as it grows',
    pick: async () => {
      const u = await vscode.window.showOpenDialog({
        canSelectMany: false,
        openLabel: 'Open run',
        filters: { Logs: ['log', 'out', 'txt'], All: ['*'] },
      });
      return u?.[0] && new FileRunSource(u[0].fsPath);
    },
  },
  {
    label: '$(folder) Run folder…',
    detail: 'the folder a trainer ran in: its newest log (in it or in logs/), its rollouts and checkpoints',
    pick: async () => {
      const u = await vscode.window.showOpenDialog({
        canSelectMany: false,
        canSelectFiles: false,
        canSelectFolders: true,
        openLabel: 'Open run',
      });
      if (!u?.[0]) return undefined;
      const log = newestLog(u[0].fsPath);
      if (!log) {
        void vscode.window.showWarningMessage(
          `CodeDance: ${u[0].fsPath} holds no log file (*.log, *.out, *.txt), nor does its logs/ folder.`,
        );
        return undefined;
      }
      return new FileRunSource(log);
    },
  },
];

export async function pickRunSource(
  title: string,
  tree: JobsTreeProvider,
  make: (p: EditorClusterProfile, j: JobInfo) => RunSource,
): Promise<RunSource | undefined> {
  const items = [...jobItems(tree, make), ...(await logItems()), ...browse];
  const picked = await vscode.window.showQuickPick(items, {
    title,
    placeHolder: 'a training job, a log file or a run folder',
    matchOnDescription: true,
  });
  return picked?.pick?.();
}
