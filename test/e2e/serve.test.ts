/**
 * e2e: serve → reach → use → stop in a real VS Code (code-server + chromium), on a real one-node
 * Slurm cluster behind a real sshd (127.0.0.1). The "vLLM" is the project's fixture model server,
 * started by a stand-in `vllm` that the batch script finds on the PATH of the login node's
 * sessions. Palette → Serve Model on Cluster → policy, checkpoint, 2 replicas → the batch script
 * opens for review → Start Serving → ready: the status bar names the replicas, the Training Jobs
 * tree marks the job → a chat question answered through the SSH tunnel (the configured endpoint is
 * a dead port) → a 2-row eval through the replicas → stop from the status bar: the job is cancelled and the endpoints are gone.
 * The workspace and its settings: serveHelpers.ts. Screenshots: test/e2e/.artifacts/serve-*.png.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ensureSlurmCluster, slurmPrerequisites, stopSlurmCluster, type SlurmCluster } from '../fixtures/slurmCluster';
import { fakeVllmEnv } from '../integration/serve/fakeVllm';
import { ensureExtensionBuilt, ROOT } from './build';
import { ask, exchange, showCodeDance, withCode } from './chatHarness';
import { type CodeServerModule, contextMenuItem, DEV_HOST_TITLE, log, type Server, writeServeWorkspace } from './serveHelpers';
import {
  activityBarItem,
  ARTIFACTS,
  failureScreenshot,
  findWebviewFrame,
  keepServerLogs,
  leaveOneWebviewForReload,
  notificationToast,
  openWorkbench,
  paneHeader,
  removeRunDir,
  runCommand,
  screenshot,
  waitForNotification,
} from './workbench';

describe('e2e: Serve Model on Cluster (real Slurm + sshd), used by chat through the tunnel', function () {
  this.timeout(300_000);
  let cs: CodeServerModule;
  let server: Server | undefined;
  let runDir: string;
  let workspace: string;
  let settingsText: string;
  let browser: BrowserContext | undefined;
  let page: Page;
  let slurm: SlurmCluster;

  before(async function () {
    const why = slurmPrerequisites();
    if (why) {
      log(`skipped: ${why}`);
      this.skip();
    }
    cs = await import('../../scripts/codeServer.mjs');
    await cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
    ensureExtensionBuilt(log);
    mkdirSync(ARTIFACTS, { recursive: true });
    slurm = await ensureSlurmCluster();
    // the login node's sessions find the stand-in `vllm` on their PATH (sbatch passes it to the job)
    const env = await fakeVllmEnv(slurm.dir);
    const sshPort = await slurm.startExtraSshd([
      `SetEnv PATH=${env.PATH} SLURM_CONF=${slurm.conf}${env.SERVE_ADVERTISE_HOST ? ` SERVE_ADVERTISE_HOST=${env.SERVE_ADVERTISE_HOST}` : ''}`,
    ]);
    runDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-serve-e2e-'));
    ({ workspace, settingsText } = writeServeWorkspace(runDir, slurm, sshPort));
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
    keepServerLogs('serve', server?.logFile, runDir);
    await stopSlurmCluster();
    if (runDir) await removeRunDir(runDir, log);
  });

  afterEach(async function () {
    await failureScreenshot('serve', page, this.currentTest);
  });

  it('serve 2 replicas → reviewed → ready (status bar, tree) → a chat answer through the tunnel → stop removes them', async () => {
    const t0 = Date.now();
    await runCommand(page, 'CodeDance: Serve Model on Cluster');
    const what = page.locator('.quick-input-widget', { hasText: /\(2\/4\): what to serve/ });
    await what.waitFor({ timeout: 20_000 });
    await what.locator('.monaco-list-row', { hasText: 'Judge' }).waitFor({ timeout: 5000 });
    await page.keyboard.press('Enter'); // Policy model
    const ckpt = page.locator('.quick-input-widget', { hasText: /\(3\/4\): checkpoint/ });
    await ckpt.waitFor({ timeout: 10_000 });
    await ckpt.locator('input').fill('/scratch/ckpt/codedance-7b-hf');
    await page.keyboard.press('Enter');
    const reps = page.locator('.quick-input-widget', { hasText: /\(4\/4\): replicas/ });
    await reps.waitFor({ timeout: 10_000 });
    await reps.locator('input').fill('2');
    await page.keyboard.press('Enter');

    // the batch script opens for review, with the vLLM command
    const editor = page.locator('.part.editor .monaco-editor').first();
    await editor.locator('.view-lines', { hasText: '#SBATCH --ntasks=2' }).waitFor({ timeout: 30_000 });
    const script = (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
    assert.match(script, /#SBATCH --gpus-per-task=1/);
    assert.match(script, /export SERVED_MODEL_NAME=codedance-7b/);
    assert.match(script, /exec vllm serve "\$MODEL_PATH"/);
    await screenshot(page, 'serve-review.png');
    const review = notificationToast(page, /Review the vLLM job for hpc/).first();
    await review.waitFor({ timeout: 10_000 });
    await review.locator('.monaco-button', { hasText: 'Start Serving' }).click();

    // ready: a notification, the status bar, the tree
    await waitForNotification(page, /codedance-7b is ready on hpc \(2 replicas\); chat and eval use it now/, 120_000);
    const readyMs = Date.now() - t0;
    log(`ready ${readyMs} ms after the command (review included)`);
    const bar = page.locator('.statusbar-item', { hasText: 'CodeDance: hpc · 2 replicas · codedance-7b' });
    await bar.waitFor({ timeout: 10_000 });
    await showCodeDance(page);
    await paneHeader(page, 'Training Jobs').waitFor({ timeout: 10_000 });
    const jobsPane = page.locator('.part.sidebar .pane', { has: page.locator('.pane-header h3.title', { hasText: /^Training Jobs$/i }) });
    await jobsPane.locator('.monaco-list-row', { hasText: /serving codedance-7b · 2\/2 ready/ }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'serve-ready.png');

    // use it: a chat question, answered by the served model through the tunnel
    const frame = await findWebviewFrame(page, '.compose #question', 30_000);
    await ask(frame, withCode('Compute it.', "print('answer', 6 * 7)"));
    const x = exchange(frame, 0);
    await x.locator('.answer', { hasText: 'answer 42' }).waitFor({ timeout: 90_000 });
    // the chat's status line names a tunnel's local port and the served model, not the dead configured endpoint
    const status = await frame.locator('.status-line').innerText();
    assert.match(status, /127\.0\.0\.1:\d{4,} \+/, status);
    assert.doesNotMatch(status, /127\.0\.0\.1:9\b/, status);
    assert.match(status, /codedance-7b/, status);
    await page.locator('.statusbar-item', { hasText: 'codedance-7b' }).first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'serve-chat.png');

    // a small eval: the endpoint box is prefilled with the served replicas, no judge
    await runCommand(page, 'Run CodeDance Eval');
    const quickInput = (title: RegExp) => page.locator('.quick-input-widget', { hasText: title });
    await quickInput(/dataset/)
      .locator('.monaco-list-row', { hasText: 'mini_served.parquet' })
      .waitFor({ timeout: 20_000 });
    await quickInput(/dataset/)
      .locator('input')
      .fill('mini_served');
    await page.waitForTimeout(200);
    await page.keyboard.press('Enter');
    await quickInput(/model endpoint/).waitFor({ timeout: 10_000 });
    const prefilled = await quickInput(/model endpoint/)
      .locator('input')
      .inputValue();
    assert.match(prefilled, /^http:\/\/127\.0\.0\.1:\d{4,}\/v1,http:\/\/127\.0\.0\.1:\d{4,}\/v1$/, prefilled);
    await page.keyboard.press('Enter');
    await quickInput(/workers/).waitFor({ timeout: 10_000 });
    await page.waitForTimeout(200);
    await page.keyboard.press('Enter');
    await quickInput(/scoring/).waitFor({ timeout: 10_000 });
    await quickInput(/scoring/)
      .locator('input')
      .fill('No judge');
    await page.waitForTimeout(200);
    await page.keyboard.press('Enter');
    const done = notificationToast(page, /CodeDance Eval finished/).first();
    await done.waitFor({ timeout: 180_000 });
    assert.match(await done.innerText(), /acc 100\.0% on 2 sample/);
    await screenshot(page, 'serve-eval.png');

    // close the window (reload it): the job keeps serving; the new window finds it again, re-opens
    // the tunnels, puts the replicas back in the pool and offers to stop it
    const jobId = slurm
      .slurm('squeue', ['-h', '-t', 'RUNNING', '-o', '%i %j'])
      .split('\n')
      .find((l) => l.includes('codedance-serve'))
      ?.trim()
      .split(' ')[0];
    assert.ok(jobId, 'the serve job runs');
    await leaveOneWebviewForReload(page);
    await openWorkbench(page, server!.workbenchUrl(), DEV_HOST_TITLE, activityBarItem(page, 'CodeDance'));
    const found = await waitForNotification(
      page,
      new RegExp(`codedance-7b is still served on hpc \\(job ${jobId}, 2 replicas\\): reconnected; chat and eval use it again`),
      90_000,
    );
    assert.match(found, /Stop Serving/);
    await bar.waitFor({ timeout: 10_000 });
    await showCodeDance(page);
    await jobsPane.locator('.monaco-list-row', { hasText: /serving codedance-7b · 2\/2 ready/ }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'serve-reattached.png');
    // the new window's chat starts empty; its state has arrived once the status line shows the approval mode
    const again = await findWebviewFrame(page, '.status-line [data-approval-mode]', 30_000);
    assert.equal(await again.locator('section.exchange').count(), 0);
    await ask(again, withCode('Compute it again.', "print('answer', 6 * 8)"));
    await exchange(again, 0).locator('.answer', { hasText: 'answer 48' }).waitFor({ timeout: 90_000 });
    assert.match(await again.locator('.status-line').innerText(), /127\.0\.0\.1:\d{4,} \+.*codedance-7b/s);
    assert.equal(slurm.slurm('squeue', ['-h', '-j', jobId, '-o', '%T']).trim(), 'RUNNING', 'the same job serves on');

    // stop from the status bar: the job is cancelled, the replicas leave chat's endpoints
    await bar.click();
    await waitForNotification(page, /stopped codedance-7b on hpc \(job \d+\); removed from chat's and eval's endpoints/, 30_000);
    await bar.waitFor({ state: 'hidden', timeout: 10_000 });
    await screenshot(page, 'serve-stopped.png');
    const left = slurm.slurm('squeue', ['-h', '-t', 'RUNNING,PENDING', '-o', '%j']).trim();
    assert.doesNotMatch(left, /codedance-serve/, `no serve job left running: ${left}`);
  });
  it("a finished training job's checkpoint: Serve Model on Cluster from its tree item → ready → Stop Job in the tree removes it", async () => {
    // a training run that finished on the cluster (its checkpoint: <repoDir>/checkpoints/CodeDance/<experiment>)
    const jobsDir = path.join(slurm.dir, 'serve-e2e-jobs');
    const trained = slurm
      .slurm('sbatch', [
        '--parsable',
        '-J',
        'e2e-train',
        '-D',
        jobsDir,
        '-o',
        path.join(jobsDir, 'e2e-train-%j.out'),
        '--wrap',
        'echo trained',
      ])
      .trim();
    const jobsPane = page.locator('.part.sidebar .pane', { has: page.locator('.pane-header h3.title', { hasText: /^Training Jobs$/i }) });
    await showCodeDance(page);
    const row = jobsPane.locator('.monaco-list-row', { hasText: new RegExp(`e2e-train\\s*succeeded \\(completed\\) · ${trained}`) });
    await row.waitFor({ timeout: 30_000 });
    await contextMenuItem(page, row, 'Serve Model on Cluster');
    const ckpt = page.locator('.quick-input-widget', { hasText: /Serve the checkpoint of e2e-train/ });
    await ckpt.waitFor({ timeout: 10_000 });
    assert.equal(await ckpt.locator('input').inputValue(), '/scratch/me/CodeDance/checkpoints/CodeDance/e2e-train');
    await screenshot(page, 'serve-from-job.png');
    await page.keyboard.press('Enter');
    const reps = page.locator('.quick-input-widget', { hasText: /\(4\/4\): replicas/ });
    await reps.waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter'); // 1
    const editor = page.locator('.part.editor .monaco-editor').first();
    await editor.locator('.view-lines', { hasText: '#SBATCH --ntasks=1' }).waitFor({ timeout: 30_000 });
    assert.match(
      (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' '),
      /export MODEL_PATH=\/scratch\/me\/CodeDance\/checkpoints\/CodeDance\/e2e-train/,
    );
    await notificationToast(page, /Review the vLLM job for hpc/)
      .first()
      .locator('.monaco-button', { hasText: 'Start Serving' })
      .click();
    await waitForNotification(page, /codedance-7b is ready on hpc \(1 replica\); chat and eval use it now/, 120_000);
    await page.locator('.statusbar-item', { hasText: 'CodeDance: hpc · 1 replica · codedance-7b' }).waitFor({ timeout: 10_000 });
    const serving = jobsPane.locator('.monaco-list-row', { hasText: /serving codedance-7b · 1\/1 ready/ });
    await serving.waitFor({ timeout: 20_000 });
    const servedId = slurm
      .slurm('squeue', ['-h', '-t', 'RUNNING', '-o', '%i %j'])
      .split('\n')
      .find((l) => l.includes('codedance-serve'))
      ?.trim()
      .split(' ')[0];
    assert.ok(servedId, 'the serve job runs');

    // the seed's judge beside it (its GPU line removed in the review: the 2 fake GPUs are taken) → eval's first judge choice
    await runCommand(page, 'CodeDance: Serve Model on Cluster');
    await page
      .locator('.quick-input-widget', { hasText: /\(2\/4\): what to serve/ })
      .locator('.monaco-list-row', { hasText: 'Judge' })
      .click();
    const hub = page.locator('.quick-input-widget', { hasText: /\(3\/4\): checkpoint/ });
    await hub.waitFor({ timeout: 10_000 });
    assert.equal(await hub.locator('input').inputValue(), 'Qwen/Qwen2.5-72B-Instruct');
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget', { hasText: /\(4\/4\): replicas/ }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    const gpuLine = editor.locator('.view-line', { hasText: '#SBATCH --gpus-per-task=8' });
    await gpuLine.waitFor({ timeout: 30_000 });
    assert.match((await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' '), /export SERVED_MODEL_NAME=judge/);
    await gpuLine.click();
    await page.keyboard.press('End');
    await page.keyboard.press('Shift+Home');
    await page.keyboard.type('# no GPU for the stand-in judge', { delay: 5 });
    await notificationToast(page, /Review the vLLM job for hpc/)
      .first()
      .locator('.monaco-button', { hasText: 'Start Serving' })
      .click();
    await waitForNotification(
      page,
      /judge is ready on hpc \(1 replica\); eval offers it as the judge \(in the cluster: http:\/\/[^/]+:18901\/v1\)/,
      120_000,
    );
    await page
      .locator('.statusbar-item', { hasText: 'CodeDance: hpc · 1 replica · codedance-7b · judge on hpc' })
      .waitFor({ timeout: 10_000 });
    await runCommand(page, 'Run CodeDance Eval');
    const quickInput = (title: RegExp) => page.locator('.quick-input-widget', { hasText: title });
    await quickInput(/dataset/)
      .locator('input')
      .fill('mini_judged');
    await quickInput(/dataset/)
      .locator('.monaco-list-row', { hasText: 'mini_judged.parquet' })
      .waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    await quickInput(/model endpoint/).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await quickInput(/workers/).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    const scoring = quickInput(/scoring/);
    await scoring.locator('.monaco-list-row', { hasText: 'Judge served on hpc' }).waitFor({ timeout: 10_000 });
    assert.match(
      await scoring.locator('.monaco-list-row').first().innerText(),
      /Judge served on hpc/,
      'the served judge is the first choice',
    );
    await screenshot(page, 'serve-judge-pick.png');
    await page.keyboard.press('Enter');
    const judged = notificationToast(page, /CodeDance Eval finished/).first();
    await judged.waitFor({ timeout: 180_000 });
    assert.match(await judged.innerText(), /acc 100\.0% on 2 sample/);
    // the served judge answered (as 'judge', although codedance.judge.model names another model): its verdicts are cached
    const cache = readFileSync(path.join(workspace, 'codedance-eval', 'codedance-7b', 'judge_cache.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(cache.length, 2, cache.join('\n'));
    assert.match(cache.join('\n'), /Judgement: 1/);

    // a training job on this cluster gets the served judge's in-cluster URL as LLM_AS_A_JUDGE_BASE
    await runCommand(page, 'CodeDance: Start Training Job');
    await page
      .locator('.quick-input-widget', { hasText: /\(1\/3\): cluster/ })
      .locator('.monaco-list-row', { hasText: 'hpc' })
      .waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    await page
      .locator('.quick-input-widget', { hasText: /\(2\/3\): template/ })
      .locator('.monaco-list-row', { hasText: 'CodeDance RL (verl main_ppo' })
      .waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget', { hasText: /\(3\/3\): experiment name/ }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await editor.locator('.view-lines', { hasText: 'LLM_AS_A_JUDGE_BASE' }).waitFor({ timeout: 30_000 });
    assert.match(
      (await editor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' '),
      /export LLM_AS_A_JUDGE_BASE='?http:\/\/[^/\s']+:18901\/v1'?\n/,
    );
    await notificationToast(page, /Review the batch script for hpc/)
      .first()
      .locator('.monaco-button', { hasText: 'Cancel' })
      .click();
    await runCommand(page, 'View: Revert and Close Editor');

    // Stop Job on the tree item: the job ends, the replica leaves the pool, and a notification says so
    await contextMenuItem(page, serving, 'Stop Job');
    await waitForNotification(
      page,
      new RegExp(`job ${servedId} was stopped: codedance-7b is gone from hpc; removed from chat's and eval's endpoints`),
      60_000,
    );
    await page.locator('.statusbar-item', { hasText: 'CodeDance: judge on hpc' }).waitFor({ timeout: 10_000 });
    await screenshot(page, 'serve-from-job-stopped.png');
    // the judge: from the status bar
    await page.locator('.statusbar-item', { hasText: 'CodeDance: judge on hpc' }).click();
    await waitForNotification(page, /stopped judge on hpc \(job \d+\); removed from chat's and eval's endpoints/, 30_000);
    await page.locator('.statusbar-item', { hasText: 'judge on hpc' }).waitFor({ state: 'hidden', timeout: 10_000 });
    const left = slurm.slurm('squeue', ['-h', '-t', 'RUNNING,PENDING', '-o', '%j']).trim();
    assert.doesNotMatch(left, /codedance-(serve|judge)/, `no serve job left running: ${left}`);
    // serving, using and stopping wrote nothing to the settings
    assert.equal(readFileSync(path.join(workspace, '.vscode', 'settings.json'), 'utf8'), settingsText);
  });
});
