/**
 * The setup of the serve e2e (serve.test.ts): code-server's types, the workspace (the fixture
 * images, two 2-row eval parquets, the settings naming the Slurm cluster behind the extra sshd),
 * and the Training Jobs tree's context menu.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { circlesImage, circlesQuestion } from '../fixtures/images';
import { writeEvalParquet } from '../fixtures/parquetWriter';
import type { SlurmCluster } from '../fixtures/slurmCluster';
import { ensureFixtureWorkspace } from './fixtures/images';

export type CodeServerModule = typeof import('../../scripts/codeServer.mjs');
export type Server = Awaited<ReturnType<CodeServerModule['startCodeServer']>>;

export const DEV_HOST_TITLE = '[Extension Development Host]';
export const log = (msg: string) => console.log(`      [serve-e2e] ${msg}`);

/** The workspace under `runDir` and the settings text written to it (serving must leave it as it was). */
export function writeServeWorkspace(runDir: string, slurm: SlurmCluster, sshPort: number): { workspace: string; settingsText: string } {
  const workspace = path.join(runDir, 'workspace');
  cpSync(ensureFixtureWorkspace(), workspace, { recursive: true });
  mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
  mkdirSync(path.join(workspace, 'benchmarks'));
  writeEvalParquet(path.join(workspace, 'benchmarks', 'mini_served.parquet'), [
    { dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: circlesImage({ red: 3, blue: 2, seed: 7 }).png },
    { dataSource: 'vstar', question: circlesQuestion('blue'), answer: '4', image: circlesImage({ blue: 4, seed: 12 }).png },
  ]);
  // the same rows, scored by a served judge (a result file keeps the scoring it was started with)
  writeEvalParquet(path.join(workspace, 'benchmarks', 'mini_judged.parquet'), [
    { dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: circlesImage({ red: 3, blue: 2, seed: 7 }).png },
    { dataSource: 'vstar', question: circlesQuestion('blue'), answer: '4', image: circlesImage({ blue: 4, seed: 12 }).png },
  ]);
  const settingsText = JSON.stringify(
    {
      'codedance.jobs.clusters': [
        {
          name: 'hpc',
          kind: 'slurm',
          host: '127.0.0.1',
          port: sshPort,
          user: slurm.user,
          identityFile: slurm.identityFile,
          strictHostKeyChecking: 'no',
          knownHosts: path.join(runDir, 'known_hosts'),
          jobsDir: path.join(slurm.dir, 'serve-e2e-jobs'),
          defaults: { repoDir: '/scratch/me/CodeDance' },
        },
      ],
      'codedance.jobs.pollSeconds': 1,
      // nothing listens here: an answer can only come from the served model
      'codedance.model.endpoints': ['http://127.0.0.1:9/v1'],
      'codedance.python.interpreter': '/usr/bin/python3',
      'codedance.execution.approval': 'auto',
      'codedance.eval.numWorkers': 2,
      // a served judge is asked under its served name ('judge'), not this one
      'codedance.judge.model': 'qwen-judge-elsewhere',
      'remote.autoForwardPorts': false,
    },
    null,
    2,
  );
  writeFileSync(path.join(workspace, '.vscode', 'settings.json'), settingsText);
  return { workspace, settingsText };
}

/** Right-click → the context menu's item `label`. */
export async function contextMenuItem(page: Page, row: Locator, label: string): Promise<void> {
  const menu = page.locator('.context-view .monaco-menu');
  await row.click({ button: 'right' });
  await menu.waitFor({ timeout: 5000 });
  await page.waitForTimeout(150); // VS Code arms menu items 100 ms after rendering
  await menu.locator('.action-item .action-label', { hasText: new RegExp(`^${label}$`) }).click();
}
