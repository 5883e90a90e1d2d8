/**
 * e2e: Training Jobs in a real VS Code (code-server 4.100.3 + Debian chromium). The cluster is the
 * Ray Job Submission API contract fixture (test/fixtures/rayJobsServer.ts), where jobs really run
 * as bash processes: the palette → cluster → template → experiment name → the request opens in an
 * editor, is edited by typing, and submitted (the workspace's trainer/ folder uploaded as the
 * working_dir zip) → the job in the Training Jobs tree → Show Logs from its context menu streams
 * the log into an output channel → a notification when it ends → Stop on a second job.
 * An untrusted workspace: jobsUntrusted.test.ts. Screenshots: test/e2e/.artifacts/jobs-*.png.
 */
import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { startRayJobsFixture, type RayJobsFixture } from '../fixtures/rayJobsServer';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../fixtures/slurmCluster';
import { ensureExtensionBuilt, ROOT } from './build';
import { ensureFixtureWorkspace } from './fixtures/images';
import { type CodeServerModule, DEV_HOST_TITLE, log, type Server } from './jobsHelpers';
import {
  activityBarItem,
  ARTIFACTS,
  failureScreenshot,
  keepServerLogs,
  notificationToast,
  openViewContainer,
  openWorkbench,
  paneHeader,
  removeRunDir,
  runCommand,
  screenshot,
  waitForNotification,
} from './workbench';

/** set in the editor (SecretStorage) before the Slurm job: it must reach the job's environment and nothing else */
const WANDB_SECRET = `wk-e2e-${randomBytes(12).toString('hex')}`;

/** Every file under `dir` whose bytes hold `needle`. */
function filesHolding(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.isFile() && statSync(f).size < 50_000_000 && readFileSync(f).includes(needle)) hits.push(f);
    }
  };
  walk(dir);
  return hits;
}

describe('e2e: Training Jobs in a real VS Code (Ray Jobs API fixture)', function () {
  this.timeout(300_000);
  let cs: CodeServerModule;
  let ray: RayJobsFixture;
  let server: Server | undefined;
  let runDir: string;
  let workspace: string;
  let browser: BrowserContext | undefined;
  let page: Page;
  let slurm: SlurmCluster | undefined;
  const noSlurm = slurmPrerequisites();

  before(async function () {
    cs = await import('../../scripts/codeServer.mjs');
    await cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
    ensureExtensionBuilt(log);
    mkdirSync(ARTIFACTS, { recursive: true });
    ray = await startRayJobsFixture({ pendingMs: 300 });
    runDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-jobs-e2e-'));
    workspace = path.join(runDir, 'workspace');
    cpSync(ensureFixtureWorkspace(), workspace, { recursive: true });
    // the trainer checkout uploaded as working_dir: a stand-in verl main_ppo (run by the seed's
    // `python3 -m verl.trainer.main_ppo` launch) that logs like a training run
    mkdirSync(path.join(workspace, 'trainer', 'verl', 'trainer'), { recursive: true });
    writeFileSync(
      path.join(workspace, 'trainer', 'verl', 'trainer', 'main_ppo.py'),
      [
        'import os, sys, time',
        "args = dict(a.split('=', 1) for a in sys.argv[1:] if '=' in a and not a.startswith('--'))",
        "print(f\"main_ppo: experiment={args.get('trainer.experiment_name')} judge={os.environ.get('LLM_AS_A_JUDGE_BASE')}\", flush=True)",
        // whether the job's environment holds the secret set in the editor, by its hash (the value is printed nowhere)
        'import hashlib',
        "w = os.environ.get('WANDB_API_KEY')",
        `print('wandb=' + ('missing' if not w else 'match' if hashlib.sha256(w.encode()).hexdigest() == '${createHash('sha256').update(WANDB_SECRET).digest('hex')}' else 'other'), flush=True)`,
        'for s in range(1, 7):',
        "    print(f'step {s}/6 loss=0.{90 - s * 7}', flush=True)",
        "    time.sleep(float(os.environ.get('STEP_SECONDS', '2')))",
        "print('training done', flush=True)",
        '',
      ].join('\n'),
    );
    mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    const clusters: unknown[] = [
      {
        name: 'fixture-ray',
        kind: 'ray',
        address: ray.url,
        workingDir: '${workspaceFolder}/trainer',
        defaults: { modelPath: '/models/CodeDance-7B', gpusPerNode: 2, judgeUrl: 'http://127.0.0.1:18901/v1' },
      },
    ];
    if (!noSlurm) {
      // real Slurm behind real sshd on 127.0.0.1: the job runs the seed launch in the workspace's trainer/
      slurm = await ensureSlurmCluster();
      clusters.push({
        name: 'local-slurm',
        kind: 'slurm',
        host: '127.0.0.1',
        port: slurm.sshPort,
        user: slurm.user,
        identityFile: slurm.identityFile,
        jobsDir: path.join(slurm.dir, 'vscode-jobs'),
        defaults: { repoDir: '${workspaceFolder}/trainer', nodes: 1, gpusPerNode: 1, judgeUrl: 'http://127.0.0.1:18901/v1' },
      });
    }
    writeFileSync(
      path.join(workspace, '.vscode', 'settings.json'),
      JSON.stringify(
        {
          'codedance.jobs.clusters': clusters,
          'codedance.jobs.pollSeconds': 1,
          'remote.autoForwardPorts': false,
        },
        null,
        2,
      ),
    );
    server = await cs.startCodeServer({
      workspace,
      extensionDevelopmentPath: ROOT,
      runDir: path.join(runDir, 'server'),
      log: (m: string) => log(`code-server: ${m}`),
    });
    browser = await cs.launchBrowser({ userDataDir: path.join(runDir, 'chromium') });
    page = browser.pages()[0] ?? (await browser.newPage());
    await openWorkbench(page, server.workbenchUrl(), DEV_HOST_TITLE, activityBarItem(page, 'CodeDance'));
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close().catch(() => {});
    await server?.stop();
    keepServerLogs('jobs', server?.logFile, runDir);
    await ray?.close();
    await stopSlurmCluster();
    if (runDir) await removeRunDir(runDir, log);
  });

  afterEach(async function () {
    await failureScreenshot('jobs', page, this.currentTest);
  });

  const jobsPane = () =>
    page.locator('.part.sidebar .pane', { has: page.locator('.pane-header h3.title', { hasText: /^Training Jobs$/i }) });
  const treeRow = (text: string | RegExp): Locator => jobsPane().locator('.monaco-list-row', { hasText: text });

  async function contextMenuItem(row: Locator, label: string): Promise<void> {
    const menu = page.locator('.context-view .monaco-menu');
    for (let attempt = 1; ; attempt++) {
      await row.click({ button: 'right' });
      try {
        await menu.waitFor({ timeout: 3000 });
        break;
      } catch (e) {
        if (attempt === 3) throw e;
        log(`no context menu after right-click #${attempt}: retrying`);
      }
    }
    await page.waitForTimeout(150); // VS Code arms menu items 100 ms after rendering
    await screenshot(page, `jobs-menu-${label.replace(/\W+/g, '-').toLowerCase()}.png`);
    await menu.locator('.action-item .action-label', { hasText: new RegExp(`^${label}$`) }).click();
  }

  it('palette → cluster → template → review (edited) → submit → the job in the tree → Show Logs → ended notification', async () => {
    const t0 = Date.now();
    await runCommand(page, 'Start Training Job');
    const clusterPick = page.locator('.quick-input-widget', { hasText: /Start Training Job \(1\/3\): cluster/ });
    await clusterPick.locator('.monaco-list-row', { hasText: 'fixture-ray' }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'jobs-pick-cluster.png');
    await page.keyboard.press('Enter');
    const tplPick = page.locator('.quick-input-widget', { hasText: /\(2\/3\): template/ });
    await tplPick.locator('.monaco-list-row', { hasText: 'CodeDance RL' }).waitFor({ timeout: 10_000 });
    assert.equal(await tplPick.locator('.monaco-list-row', { hasText: 'Ray on Slurm' }).count(), 0, 'Ray-on-Slurm is for Slurm clusters');
    await page.keyboard.press('Enter');
    const name = page.locator('.quick-input-widget', { hasText: /\(3\/3\): experiment name/ });
    await name.waitFor({ timeout: 10_000 });
    await name.locator('input').fill('e2e-rl');
    await page.keyboard.press('Enter');

    // the request opens in an editor (JSON), with the notification to submit it
    const editor = page.locator('.part.editor .monaco-editor').first();
    await editor.locator('.view-lines', { hasText: '"entrypoint"' }).waitFor({ timeout: 20_000 });
    const review = notificationToast(page, /Review the Ray job request/).first();
    await review.waitFor({ timeout: 10_000 });
    const text = (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
    assert.match(text, /python3 -m verl\.trainer\.main_ppo --config-path=/);
    assert.match(text, /"LLM_AS_A_JUDGE_BASE":\s*"http:\/\/127\.0\.0\.1:18901\/v1"/);
    assert.match(text, /"PT_CKPT_PATH":\s*"\/models\/CodeDance-7B"/);
    // edit it: a submission id and faster steps, typed into the editor
    await editor.locator('.view-lines').click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('"submission_id": "e2e-edited-1",', { delay: 5 });
    await page.waitForTimeout(300);
    await screenshot(page, 'jobs-review.png');
    const edited = await editor.locator('.view-lines').innerText();
    assert.match(edited.replace(/\u00a0/g, ' '), /"submission_id": "e2e-edited-1",/, 'typed into the review editor');
    await review.locator('.monaco-button', { hasText: 'Submit' }).click();

    // submitted with the edit; the trainer/ folder went up as the working_dir package
    await notificationToast(page, /submitted training job e2e-edited-1 to fixture-ray/)
      .first()
      .waitFor({ timeout: 30_000 });
    const submitMs = Date.now() - t0;
    const job = ray.jobs.get('e2e-edited-1');
    assert.ok(job, `the fixture has ${[...ray.jobs.keys()].join(', ')}`);
    assert.match(String((job.details.runtime_env as { working_dir?: string }).working_dir), /^gcs:\/\/_ray_pkg_[0-9a-f]+\.zip$/);
    assert.equal(ray.packages.size, 1);

    // the tree: cluster → job, with its status
    await paneHeader(page, 'Training Jobs').waitFor({ timeout: 10_000 });
    const row = treeRow(/e2e-rl/);
    await row.waitFor({ timeout: 20_000 });
    await treeRow(/running · e2e-edited-1/).waitFor({ timeout: 20_000 });
    assert.equal(await treeRow('fixture-ray').count(), 1);
    await screenshot(page, 'jobs-tree.png');

    // Show Logs from the context menu: streamed into an output channel
    await contextMenuItem(row, 'Show Logs');
    const output = page.locator('.part.panel .monaco-editor .view-lines');
    await output.filter({ hasText: 'main_ppo: experiment=e2e-rl judge=http://127.0.0.1:18901/v1' }).waitFor({ timeout: 20_000 });
    await output.filter({ hasText: /step\s2\/6/ }).waitFor({ timeout: 20_000 });
    assert.ok(!/training\sdone/.test(await output.innerText()), 'the log is streamed while the job runs');
    await screenshot(page, 'jobs-logs.png');
    const ended = notificationToast(page, /Training job e2e-rl on fixture-ray succeeded/).first();
    await ended.waitFor({ timeout: 60_000 });
    await output.filter({ hasText: /training\sdone/ }).waitFor({ timeout: 10_000 });
    await output.filter({ hasText: /log\scomplete:\sjob\sSUCCEEDED\s\(exit\s0\)/ }).waitFor({ timeout: 10_000 });
    await treeRow(/succeeded · e2e-edited-1/).waitFor({ timeout: 15_000 });
    await page.waitForTimeout(300);
    await screenshot(page, 'jobs-done.png');
    log(
      `palette → submitted in ${(submitMs / 1000).toFixed(1)} s; job ran ${(((job.details.end_time ?? 0) - job.details.start_time) / 1000).toFixed(1)} s`,
    );
  });

  it('Stop from the tree stops a running job (STOPPED) and Delete removes it', async () => {
    await runCommand(page, 'Start Training Job');
    await page.locator('.quick-input-widget', { hasText: /\(1\/3\): cluster/ }).waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget', { hasText: /\(2\/3\): template/ }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    const name = page.locator('.quick-input-widget', { hasText: /\(3\/3\): experiment name/ });
    await name.waitFor({ timeout: 10_000 });
    await name.locator('input').fill('e2e-long');
    await page.keyboard.press('Enter');
    const review = notificationToast(page, /Review the Ray job request/).first();
    await review.waitFor({ timeout: 20_000 });
    // slow steps, typed into the request's env_vars
    const editor = page.locator('.part.editor .monaco-editor').first();
    await editor.locator('.view-lines').click();
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('"submission_id": "e2e-long-1",', { delay: 5 });
    const envLine = editor.locator('.view-line', { hasText: '"env_vars": {' });
    await envLine.click();
    await page.keyboard.press('End');
    await page.keyboard.press('Enter');
    await page.keyboard.type('"STEP_SECONDS": "30",', { delay: 5 });
    // the review notification may have timed out by now: the editor's title bar has the action too
    await page.locator('.part.editor a.action-label.codicon-rocket').first().click();
    await waitForNotification(page, /submitted training job e2e-long-1/);
    assert.equal((ray.jobs.get('e2e-long-1')!.details.runtime_env as { env_vars: Record<string, string> }).env_vars.STEP_SECONDS, '30');
    const row = treeRow(/running · e2e-long-1/);
    await row.waitFor({ timeout: 20_000 });
    await contextMenuItem(row, 'Stop Job');
    await treeRow(/stopped · e2e-long-1/).waitFor({ timeout: 20_000 });
    assert.equal(ray.jobs.get('e2e-long-1')!.details.status, 'STOPPED');
    await waitForNotification(page, /Training job e2e-long on fixture-ray was stopped/, 20_000);
    await screenshot(page, 'jobs-stopped.png');
    await contextMenuItem(treeRow(/stopped · e2e-long-1/), 'Delete Job');
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    await dialog.locator('.monaco-button', { hasText: 'Delete' }).click();
    await treeRow(/e2e-long-1/).waitFor({ state: 'detached', timeout: 15_000 });
    assert.ok(!ray.jobs.has('e2e-long-1'));
    await openViewContainer(page, 'CodeDance');
    await screenshot(page, 'jobs-deleted.png');
  });
  it('Slurm over SSH: palette → the batch script in an editor → sbatch → the job in the tree → its log streamed (tail -F over SSH)', async function () {
    if (noSlurm) {
      log(`skipped: ${noSlurm}`);
      this.skip();
    }
    // the job secret, set in the editor: kept in SecretStorage, passed at submit time only
    await runCommand(page, 'CodeDance: Set Training Job Secret');
    const secretName = page.locator('.quick-input-widget', { hasText: /Training job secret: variable name/ });
    await secretName.waitFor({ timeout: 20_000 });
    assert.equal(await secretName.locator('input').inputValue(), 'WANDB_API_KEY');
    await page.keyboard.press('Enter');
    const secretValue = page.locator('.quick-input-widget', { hasText: /Training job secret WANDB_API_KEY/ });
    await secretValue.waitFor({ timeout: 10_000 });
    assert.equal(await secretValue.locator('input').getAttribute('type'), 'password');
    await secretValue.locator('input').fill(WANDB_SECRET);
    await page.keyboard.press('Enter');
    await secretValue.waitFor({ state: 'hidden', timeout: 10_000 });

    await runCommand(page, 'Start Training Job');
    const clusterPick = page.locator('.quick-input-widget', { hasText: /\(1\/3\): cluster/ });
    await clusterPick.waitFor({ timeout: 20_000 });
    await clusterPick.locator('input').fill('local-slurm');
    await clusterPick.locator('.monaco-list-row', { hasText: 'Slurm over SSH' }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    const tplPick = page.locator('.quick-input-widget', { hasText: /\(2\/3\): template/ });
    await tplPick.locator('.monaco-list-row', { hasText: 'Ray on Slurm' }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter'); // CodeDance RL
    const name = page.locator('.quick-input-widget', { hasText: /\(3\/3\): experiment name/ });
    await name.waitFor({ timeout: 10_000 });
    await name.locator('input').fill('e2e-slurm');
    await page.keyboard.press('Enter');
    const editor = page.locator('.part.editor .monaco-editor').first();
    await editor.locator('.view-lines', { hasText: '#SBATCH' }).waitFor({ timeout: 30_000 });
    const script = (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
    assert.match(script, /#SBATCH --job-name=e2e-slurm/);
    assert.match(script, /#SBATCH --gpus-per-node=1/);
    assert.match(script, /#SBATCH --chdir=\S+\/workspace\/trainer/);
    assert.match(script, /export LLM_AS_A_JUDGE_BASE=http:\/\/127\.0\.0\.1:18901\/v1/);
    assert.ok(!script.includes(WANDB_SECRET) && !/WANDB_API_KEY=/.test(script), 'the review shows no secret');
    await screenshot(page, 'jobs-slurm-review.png');
    // the earlier tests' toasts stack up (VS Code shows three at a time): start from none
    await runCommand(page, 'Notifications: Clear All Notifications');
    await page.locator('.part.editor a.action-label.codicon-rocket').first().click();
    // the job in the tree while it runs (its Slurm id from the row), then its log, live
    const row = treeRow(/e2e-slurm\s*(pending|running) · \d+/);
    await row.waitFor({ timeout: 20_000 });
    const id = /(?:pending|running) · (\d+)/.exec(await row.innerText())![1];
    await contextMenuItem(row, 'Show Logs');
    const output = page.locator('.part.panel .monaco-editor .view-lines');
    await output.filter({ hasText: /main_ppo:\sexperiment=e2e-slurm/ }).waitFor({ timeout: 30_000 });
    await output.filter({ hasText: 'wandb=match' }).waitFor({ timeout: 10_000 }); // the job saw WANDB_API_KEY with the value set in the editor
    await output.filter({ hasText: /step\s1\/6/ }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'jobs-slurm-logs.png');
    await waitForNotification(page, new RegExp(`submitted training job ${id} to local-slurm`));
    await waitForNotification(page, /Training job e2e-slurm on local-slurm succeeded/, 60_000);
    await output.filter({ hasText: /log\scomplete:\sjob\sSUCCEEDED\s\(exit\s0\)/ }).waitFor({ timeout: 15_000 });
    assert.equal(slurm!.slurm('scontrol', ['show', 'job', '-o', id]).match(/JobState=(\S+)/)?.[1], 'COMPLETED');
    await treeRow(new RegExp(`succeeded \\(completed\\) · ${id}`)).waitFor({ timeout: 15_000 });
    await screenshot(page, 'jobs-slurm-done.png');

    // the secret reached the job's environment ...
    const channel = (await output.innerText()).replace(/\u00a0/g, ' ');
    // ... and nothing else: not the job folder (script, output, serve files), not Slurm's job record
    // (scontrol: command, comment, work dir), not the output channels or the extension's log, not settings
    assert.ok(!channel.includes(WANDB_SECRET), 'the job log channel shows no secret');
    assert.deepEqual(filesHolding(path.join(slurm!.dir, 'vscode-jobs'), WANDB_SECRET), [], 'a file in the jobs folder holds the secret');
    const scontrol = slurm!.slurm('scontrol', ['show', 'job', '-o', id]);
    assert.match(scontrol, /JobName=e2e-slurm/);
    assert.ok(!scontrol.includes(WANDB_SECRET), 'the job record (scontrol show job) holds the secret');
    assert.deepEqual(filesHolding(workspace, WANDB_SECRET), [], 'a workspace file (settings, checkout) holds the secret');
    const logs = path.join(runDir, 'server', 'udd', 'logs');
    // the output channels are files there too (the job's log channel among them): the grep covers them
    assert.ok(filesHolding(logs, 'wandb=match').length >= 1, 'the job log channel is among the log files');
    assert.deepEqual(filesHolding(logs, WANDB_SECRET), [], 'a log file holds the secret');
    assert.ok(
      !readFileSync(path.join(runDir, 'server', 'udd', 'User', 'settings.json'), 'utf8').includes(WANDB_SECRET),
      'the user settings hold the secret',
    );
    // the extension's log names the variable it passed, never its value
    const extLog = filesHolding(logs, 'passed WANDB_API_KEY to the job at submit time');
    assert.equal(extLog.length, 1, `the extension log says it passed WANDB_API_KEY (${extLog.join(', ')})`);
    assert.match(readFileSync(extLog[0], 'utf8'), /job secret WANDB_API_KEY stored/);
  });
});
