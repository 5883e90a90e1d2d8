/**
 * Helpers of the run view's e2e test (runs.test.ts): a training job that prints a run's log, a
 * job's checkpoint evals as "Evaluate this checkpoint" records them, a chart's legend at a step,
 * the save dialog, the extension's log, a tree item's context menu.
 */
import * as assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { checkpointEvalsFile, checkpointRunKey, recordCheckpointEval, type CheckpointEval } from '../../src/core/runs/checkpointEvals';
import { startRayJobsFixture, type RayJobsFixture } from '../fixtures/rayJobsServer';
import { ensureExtensionBuilt, ROOT } from './build';
import { ensureFixtureWorkspace } from './fixtures/images';
import { writeRunFixture } from './fixtures/runFixture';
import { activityBarItem, ARTIFACTS, openWorkbench } from './workbench';

type CodeServerModule = typeof import('../../scripts/codeServer.mjs');

export interface RunsWorkbench {
  server: Awaited<ReturnType<CodeServerModule['startCodeServer']>>;
  browser: BrowserContext;
  page: Page;
  runDir: string;
  workspace: string;
  ray: RayJobsFixture;
}

/**
 * The test's VS Code: a workspace with two run folders (the second: another learning rate, its
 * accuracy 0.04 higher), a Ray cluster (the Jobs API fixture on 127.0.0.1: its files are this
 * machine's) in the cluster settings, code-server and chromium; the webview's CSP violations are
 * pushed into `csp` (default-src 'none', styles only from the extension: uPlot must need no inline style).
 */
export async function startRunsWorkbench(log: (m: string) => void, csp: string[]): Promise<RunsWorkbench> {
  const cs: CodeServerModule = await import('../../scripts/codeServer.mjs');
  await cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
  ensureExtensionBuilt(log);
  mkdirSync(ARTIFACTS, { recursive: true });
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-runs-e2e-'));
  const workspace = path.join(runDir, 'workspace');
  cpSync(ensureFixtureWorkspace(), workspace, { recursive: true });
  writeRunFixture(path.join(workspace, 'rl-run'));
  writeRunFixture(path.join(workspace, 'rl-run-b'), { experiment: 'sa1b-grpo-lr2e6', lift: 0.04 });
  mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
  const ray = await startRayJobsFixture({ pendingMs: 300 });
  let server: RunsWorkbench['server'] | undefined;
  let browser: BrowserContext | undefined;
  try {
    server = await cs.startCodeServer({
      workspace,
      extensionDevelopmentPath: ROOT,
      runDir: path.join(runDir, 'server'),
      settings: {
        'workbench.colorTheme': 'Default Dark Modern',
        'remote.autoForwardPorts': false,
        // the alarms' early mean: the first 10 steps (the default is 50)
        'codedance.runs.alarms.earlySteps': 10,
        'codedance.jobs.clusters': [{ name: 'fixture-ray', kind: 'ray', address: ray.url }],
      },
      log: (m: string) => log(`code-server: ${m}`),
    });
    browser = await cs.launchBrowser({ userDataDir: path.join(runDir, 'chromium') });
    const page = browser.pages()[0] ?? (await browser.newPage());
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
    await openWorkbench(page, server.workbenchUrl(), '[Extension Development Host]', activityBarItem(page, 'CodeDance'));
    return { server, browser, page, runDir, workspace, ray };
  } catch (e) {
    // the test's `after` never learns of what was started: stopped here
    await browser?.close().catch((c: Error) => log(`closing the browser: ${c.message}`));
    await server?.stop();
    await ray.close();
    throw e;
  }
}

/**
 * Submits a job to the Ray fixture that prints a fixture run's log (in `dir`) a step at a time, as
 * verl does, with a command that names the run's folders as Hydra overrides. It holds before its
 * 6th step until the file it returns exists (the test opens the gate once it saw the first steps).
 */
export async function submitPrintingJob(ray: RayJobsFixture, dir: string, experiment: string, id: string): Promise<string> {
  const log = writeRunFixture(dir, { experiment, lift: 0.02 });
  const feed = path.join(dir, 'feed.sh');
  const gate = path.join(dir, 'gate');
  writeFileSync(
    feed,
    [
      'n=0',
      'while IFS= read -r l; do',
      '  case "$l" in *step:*) n=$((n+1)); if [ $n -eq 6 ]; then while [ ! -e "$2" ]; do sleep 0.1; done; fi; sleep 0.1;; esac',
      `  printf '%s\\n' "$l"`,
      'done < "$1"',
      '',
    ].join('\n'),
  );
  const entrypoint = [
    `bash ${feed} ${log} ${gate}`,
    `trainer.experiment_name=${experiment}`,
    `trainer.rollout_data_dir=${dir}/rollout_sft_step`,
    `trainer.validation_data_dir=${dir}/validation_sft_step`,
    `trainer.default_local_dir=${dir}/checkpoints/codedance_rl/${experiment}`,
  ].join(' ');
  const r = await fetch(`${ray.url}/api/jobs/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ entrypoint, submission_id: id, metadata: { job_name: experiment } }),
  });
  assert.equal(r.status, 200, await r.text());
  return gate;
}

/** Right-clicks a tree row (again if no menu opened) and clicks the menu item `label`. */
export async function contextMenuItem(page: Page, row: Locator, label: string): Promise<void> {
  const menu = page.locator('.context-view .monaco-menu');
  for (let attempt = 1; !(await menu.isVisible()); attempt++) {
    await row.click({ button: 'right' });
    await menu.waitFor({ timeout: 3000 }).catch((e: Error) => {
      if (attempt === 3) throw e;
    });
  }
  await page.waitForTimeout(150); // VS Code arms menu items 100 ms after rendering
  await menu.locator('.action-item .action-label', { hasText: new RegExp(`^${label}$`) }).click();
}

/** An eval of checkpoint `step` (under `ckptDir`) on `dataset`, its results in the workspace's eval folder, judged. */
export function checkpointEvalAt(
  workspace: string,
  ckptDir: string,
  step: number,
  dataset: string,
  accuracy: number,
  n: number,
): CheckpointEval {
  return {
    step,
    accuracy,
    n,
    dataset,
    dataFile: `/scratch/data/${dataset}.parquet`,
    evalDir: path.join(workspace, 'codedance-eval', `e2e-job-step${step}`),
    model: path.join(ckptDir, `global_step_${step}`, 'merged_hf'),
    judged: true,
    finishedAt: new Date(Date.UTC(2025, 10, 20, 12, step)).toISOString(),
  };
}

/**
 * Records checkpoint evals of job `jobId` as the editor's "Evaluate this checkpoint" does (core's
 * recordCheckpointEval, in the workspace's eval folder, under the run view's key): vstar_val at
 * steps 10, 20, 30 (0.583, 0.627, 0.651 on 300 samples), chartqa_val at 30 (0.512 on 120); and one
 * of another job, which the view must not draw.
 */
export async function recordJobEvals(workspace: string, cluster: string, jobId: string, ckptDir: string): Promise<void> {
  const index = checkpointEvalsFile(path.join(workspace, 'codedance-eval'));
  const key = checkpointRunKey(cluster, jobId);
  for (const [step, accuracy] of [
    [10, 0.583],
    [20, 0.627],
    [30, 0.651],
  ])
    await recordCheckpointEval(index, key, checkpointEvalAt(workspace, ckptDir, step, 'vstar_val', accuracy, 300));
  await recordCheckpointEval(index, key, checkpointEvalAt(workspace, ckptDir, 30, 'chartqa_val', 0.512, 120));
  await recordCheckpointEval(index, checkpointRunKey(cluster, 'other'), checkpointEvalAt(workspace, ckptDir, 20, 'vstar_val', 0.9, 10));
}

/** Hovers a chart (its figure) at `step` of a run whose steps go from 1 to `last` (uPlot's x scale spans the data). */
export async function hoverStep(figure: Locator, step: number, last: number): Promise<void> {
  const plot = figure.locator('.u-over');
  const box = await plot.boundingBox();
  assert.ok(box, 'the chart has a plot area');
  await plot.hover({ position: { x: (box.width * (step - 1)) / (last - 1), y: box.height / 2 } });
}

/** The legend's value of a chart's series, by its label (null when the chart has no such series). */
export function legendValue(figure: Locator, label: string): Promise<string | null> {
  return figure.evaluate(
    (f, l) =>
      [...f.querySelectorAll('.u-legend .u-series')].find((s) => s.querySelector('.u-label')?.textContent === l)?.querySelector('.u-value')
        ?.textContent ?? null,
    label,
  );
}

/** Accepts the save dialog (code-server's simple dialog) once it offers `name` in the workspace; returns the file written. */
export async function saveAs(page: Page, workspace: string, name: string): Promise<string> {
  await page.waitForFunction(
    (n) => ((document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value ?? '').endsWith(n),
    name,
    { timeout: 15_000 },
  );
  await page.keyboard.press('Enter');
  const out = path.join(workspace, name);
  const deadline = Date.now() + 15_000;
  while (!existsSync(out) && Date.now() < deadline) await page.waitForTimeout(200);
  return out;
}

/** The lines of the extension's CodeDance logs (under `logsDir`) that match `re` (global), once there are `count` of them (15 s at most). */
export async function extensionLogLines(page: Page, logsDir: string, re: RegExp, count: number): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  let found: string[] = [];
  while (Date.now() < deadline) {
    found = readdirSync(logsDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('CodeDance.log'))
      .flatMap((f) => readFileSync(path.join(logsDir, f), 'utf8').match(re) ?? []);
    if (found.length >= count) break;
    await page.waitForTimeout(300);
  }
  return found;
}
