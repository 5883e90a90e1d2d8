/**
 * e2e: the run view (issue #23) in a real VS Code (code-server 4.100.3 + Debian chromium), on a
 * run folder as the seed's launch leaves it (test/e2e/fixtures/runFixture.ts: verl's console log,
 * rollout and validation dumps, checkpoints). The palette → "Open Run View…" → the workspace's
 * log → the editor tab "CodeDance Run: <experiment>" with the uPlot charts of the first screen,
 * the tool-use-collapse alarm (a notification and the view's list, with the threshold setting's
 * early steps), the checkpoints at their steps; new lines appended to the log show up; CSV export
 * through the save dialog; a validation rollout drawn by the chat's renderer with its input
 * image, code cell, tool response and reward; a training job's checkpoint evals (the index
 * "Evaluate this checkpoint" records into, written by core's recordCheckpointEval) as points on
 * the accuracy chart, and its checkpoints' Evaluate button starting the command on the job and
 * step. Screenshots: test/e2e/.artifacts/runs-*.png at the default window size.
 */
import * as assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import type { RayJobsFixture } from '../fixtures/rayJobsServer';
import {
  contextMenuItem,
  extensionLogLines,
  hoverStep,
  legendValue,
  recordJobEvals,
  saveAs,
  startRunsWorkbench,
  submitPrintingJob,
  type RunsWorkbench,
} from './runsHelpers';
import { RUN_EXPERIMENT, RUN_LOG, RUN_STEPS } from './fixtures/runFixture';
import {
  failureScreenshot,
  findWebviewFrame,
  keepServerLogs,
  removeRunDir,
  runCommand,
  screenshot,
  waitForNotification,
} from './workbench';

const log = (msg: string) => console.log(`      [runs-e2e] ${msg}`);

describe('e2e: the run view of an RL run in a real VS Code', function () {
  this.timeout(300_000);
  let server: RunsWorkbench['server'] | undefined;
  let runDir: string;
  let workspace: string;
  let browser: BrowserContext | undefined;
  let page: Page;
  let view: Frame;
  let jobView: Frame;
  let ray: RayJobsFixture;
  const cspViolations: string[] = [];

  before(async function () {
    ({ server, browser, page, runDir, workspace, ray } = await startRunsWorkbench(log, cspViolations));
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close().catch(() => {});
    await server?.stop();
    keepServerLogs('runs', server?.logFile, runDir);
    await ray?.close();
    if (runDir) await removeRunDir(runDir, log);
  });

  afterEach(async function () {
    await failureScreenshot('runs', page, this.currentTest);
  });

  it('opens a log file from the palette: the charts, the alarm (notified once), the checkpoints', async () => {
    await runCommand(page, 'CodeDance: Open Run View…');
    const pick = page.locator('.quick-input-widget', { hasText: /Open Run View/ });
    await pick.waitFor({ timeout: 20_000 });
    await pick.locator('input').fill('run_20251120');
    // the workspace's logs, newest first: this run's, and the one the overlay test adds
    const row = pick.locator('.monaco-list-row', { hasText: 'rl-run/logs' }).filter({ hasText: path.basename(RUN_LOG) });
    await row.waitFor({ timeout: 20_000 });
    await row.click();

    view = await findWebviewFrame(page, 'figure.run-chart[data-chart="score"] canvas', 45_000);
    await view.waitForFunction((n) => document.body.dataset.steps === String(n), RUN_STEPS, { timeout: 20_000 });
    await page.locator('.tabs-container .tab', { hasText: `CodeDance Run: ${RUN_EXPERIMENT}` }).waitFor({ timeout: 10_000 });

    // every chart of the first screen drew its series (the tool-use chart: the four shares)
    const series = await view
      .locator('figure.run-chart')
      .evaluateAll((fs) => Object.fromEntries(fs.map((f) => [f.getAttribute('data-chart'), Number(f.getAttribute('data-series'))])));
    assert.deepEqual(series, { score: 1, acc: 1, 'tool-success': 1, format: 1, turns: 1, length: 2, 'tool-use': 4, val: 3 });
    assert.equal(await view.locator('figure.run-chart canvas').count(), 8, 'one canvas per chart');

    // the alarm: listed with its step and numbers (early mean over the setting's 10 steps), and told once
    const alarm = view.locator('li.alarm[data-alarm="tool-use-collapse"]');
    await alarm.waitFor({ timeout: 15_000 });
    assert.equal(await alarm.getAttribute('data-step'), String(RUN_STEPS));
    assert.match(await alarm.innerText(), /share of rollouts with a tool call 0\.0\d+ at step 30, 0\.7\d* in steps 1–10/);
    const told = await waitForNotification(page, /CodeDance run sa1b-grpo-demo: tool use collapsing/);
    assert.match(told, /below 25 % of the early mean/);

    // the checkpoints verl saved every 10 steps, read from the folder the log names
    await view.locator('tr[data-checkpoint]').first().waitFor({ timeout: 15_000 });
    assert.deepEqual(await view.locator('tr[data-checkpoint]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-checkpoint'))), [
      '30',
      '20',
      '10',
    ]);
    // each with its actions; evaluate and serve need the run's cluster, which a log file does not name
    const actions = view.locator('tr[data-checkpoint="30"] .ckpt-actions button');
    assert.deepEqual(await actions.allInnerTexts(), ['Evaluate', 'Serve', 'Copy path', 'Copy merge command']);
    assert.deepEqual(await actions.evaluateAll((bs) => bs.map((b) => (b as HTMLButtonElement).disabled)), [true, true, false, false]);
    assert.match((await actions.first().getAttribute('title')) ?? '', /read from a log file.*Training Jobs view/);

    // hover: the legend shows the values at the cursor
    const plot = view.locator('figure.run-chart[data-chart="acc"] .u-over');
    const box = await plot.boundingBox();
    assert.ok(box, 'the acc chart has a plot area');
    const legend = view.locator('figure.run-chart[data-chart="acc"] .u-legend .u-value');
    const before = await legend.allInnerTexts();
    await plot.hover({ position: { x: box.width * 0.5, y: box.height * 0.5 } });
    await view.waitForFunction(
      () =>
        [...document.querySelectorAll('figure[data-chart="acc"] .u-legend .u-series:not(.raw) .u-value')].some((v) =>
          /^0\.\d+$/.test(v.textContent ?? ''),
        ),
      undefined,
      { timeout: 5000 },
    );
    const values = await legend.allInnerTexts();
    log(`legend before the hover ${JSON.stringify(before)}, at the cursor ${JSON.stringify(values)}`);
    assert.notDeepEqual(values, before, 'the legend follows the cursor');
    await page.mouse.move(5, 5);
    await page.waitForTimeout(300);
    await screenshot(page, 'runs-alarm.png');
    await runCommand(page, 'Notifications: Clear All Notifications');
    await page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'hidden', timeout: 5000 });
    await screenshot(page, 'runs-view.png');
    await view.locator('figure.run-chart[data-chart="val"]').scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await screenshot(page, 'runs-charts.png');
    await view.evaluate(() => window.scrollTo(0, 0));
  });

  it('follows the log as it grows', async () => {
    const file = path.join(workspace, 'rl-run', RUN_LOG);
    const last = readFileSync(file, 'utf8').trim().split('\n').at(-1)!;
    const next = (n: number) => last.replace(/step:30 /, `step:${n} `).replace(/training\/global_step:30/, `training/global_step:${n}`);
    appendFileSync(file, `${next(31)}\n(TaskRunner pid=2749) Dumped generations to ./rollout_sft_step/32.jsonl\n${next(32)}\n`);
    await view.waitForFunction((n) => document.body.dataset.steps === String(n), RUN_STEPS + 2, { timeout: 20_000 });
    assert.match(await view.locator('.run-chip').first().innerText(), /32 step\(s\), last 32/);
  });

  it('saves a chart as PNG, and draws x as hours of training', async () => {
    await view.locator('figure.run-chart[data-chart="acc"] button[data-action="png"]').click();
    const png = readFileSync(await saveAs(page, workspace, 'sa1b-grpo-demo_acc.png'));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG file');
    assert.ok(png.length > 5000, `the chart drawn (${png.length} bytes)`);
    await view.locator('select[data-control="x"]').selectOption('time');
    const xLabel = view.locator('figure.run-chart[data-chart="acc"] .u-legend .u-series').first();
    await view.waitForFunction(
      () => /hours/.test(document.querySelector('figure[data-chart="acc"] .u-legend .u-series')?.textContent ?? ''),
      undefined,
      {
        timeout: 5000,
      },
    );
    // 32 steps of ~62 s (timing_s/step): about half an hour
    assert.match(await xLabel.innerText(), /^hours:?\s*0\.5\d*$/);
    await view.locator('select[data-control="x"]').selectOption('step');
  });

  it('exports the metrics as CSV through the save dialog', async () => {
    await view.locator('button[data-action="export-csv"]').click();
    const out = await saveAs(page, workspace, 'sa1b-grpo-demo.csv');
    const lines = readFileSync(out, 'utf8').trim().split('\r\n');
    assert.equal(lines.length, 1 + RUN_STEPS + 2, 'a header and one row per step');
    const head = lines[0].split(',');
    assert.deepEqual(head.slice(0, 4), ['run', 'step', 'hours', 'seen_at']);
    const acc = head.indexOf('actor/acc');
    assert.ok(acc > 0, 'actor/acc is a column');
    assert.match(lines[1].split(',')[acc], /^0\.5\d+$/);
  });

  it('draws a validation rollout with the chat’s renderer: input image, code, tool response, reward', async () => {
    await view.locator('button[role="tab"][data-tab="rollouts"]').click();
    const status = view.locator('.rollouts-view [role="status"]');
    await view.waitForFunction(
      () => /step\(s\) dumped in/.test(document.querySelector('.rollouts-view [role="status"]')?.textContent ?? ''),
      undefined,
      { timeout: 15_000 },
    );
    assert.match(await status.innerText(), /30 step\(s\) dumped in .*rollout_sft_step/);
    await view.locator('select[aria-label="rollouts"]').selectOption('validation');
    const table = view.locator('.rollout-table[data-kind="validation"][data-step="30"]');
    await table.waitFor({ timeout: 15_000 });
    assert.match(await status.innerText(), /3 step\(s\) dumped in .*validation_sft_step/);
    assert.equal(await table.locator('tbody tr').count(), 4);
    assert.deepEqual(
      await table.locator('th').allInnerTexts(),
      ['', '#', 'score', 'acc', 'format', 'tools', 'tool ok', 'question'],
      'no source column: the dumps name none',
    );
    // a rollout without tool calls: its tool_success_rate is the dump's bare NaN
    assert.ok((await table.locator('tbody tr td:nth-child(7)').allInnerTexts()).includes('nan'));
    // with tool calls first: a rollout whose code ran
    await view.locator('select[aria-label="tool calls"]').selectOption('some');
    assert.equal(await table.locator('tbody tr').count(), 2);
    await table.locator('tbody tr').first().click();
    const r = view.locator('article.rollout');
    await r.locator('section.exchange').waitFor({ timeout: 15_000 });
    await r.locator('.question-images img').first().waitFor({ timeout: 10_000 });
    const natural = await r
      .locator('.question-images img')
      .first()
      .evaluate((i) => (i as HTMLImageElement).naturalWidth);
    assert.equal(natural, 224, 'the input image from multi_modal_data decoded');
    assert.match(await r.locator('.question-text').innerText(), /^How many \w+ circles are there\?$/);
    assert.match(await r.locator('details.cell pre.code').first().innerText(), /input_image/);
    assert.match(await r.locator('.answer').innerText(), /\d/);
    assert.match(await r.locator('.exchange-reward').innerText(), /Training reward: reward \d/);
    assert.match(await r.locator('.rollout-fields').innerText(), /tool_step \[(0|-0\.5)\]/);
    assert.equal(
      await r
        .locator('.turn-text')
        .first()
        .innerText()
        .then((t) => t.includes('<tool_call>')),
      false,
      'the call is drawn as its cell, not as text',
    );
    await runCommand(page, 'Notifications: Clear All Notifications');
    await view.evaluate(() => document.querySelector('.rollouts-view')?.scrollIntoView());
    await page.waitForTimeout(200);
    await screenshot(page, 'runs-rollout.png');
  });

  it('shows the same prompt at the other steps side by side', async () => {
    await view.locator('button[data-action="same-prompt"]').click();
    const cols = view.locator('.compare-cols');
    await cols.waitFor({ timeout: 15_000 });
    assert.equal(await cols.getAttribute('data-columns'), '3');
    await view.waitForFunction(() => document.querySelectorAll('.compare-cols article.rollout').length === 3, undefined, {
      timeout: 15_000,
    });
    assert.deepEqual(await cols.locator('article.rollout').evaluateAll((a) => a.map((x) => x.getAttribute('data-step'))), [
      '10',
      '20',
      '30',
    ]);
    const questions = await cols.locator('.question-text').allInnerTexts();
    assert.equal(new Set(questions).size, 1, `one prompt: ${JSON.stringify(questions)}`);
    assert.match(await view.locator('.compare > p').innerText(), /2 other rollout\(s\) of this prompt in 2 of 2 other step\(s\)/);
    await cols.scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await screenshot(page, 'runs-compare.png');
  });

  it('overlays a second run: both on every chart, one title', async () => {
    await view.locator('button[role="tab"][data-tab="metrics"]').click();
    await view.locator('button[data-action="add-run"]').click();
    const pick = page.locator('.quick-input-widget', { hasText: /Add a run to this view/ });
    await pick.waitFor({ timeout: 15_000 });
    await pick.locator('input').fill('rl-run-b');
    await pick.locator('.monaco-list-row', { hasText: 'rl-run-b' }).first().waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    await view.locator('.run-chip').nth(1).waitFor({ timeout: 15_000 });
    await view.waitForFunction(() => document.querySelector('figure[data-chart="acc"]')?.getAttribute('data-series') === '2', undefined, {
      timeout: 15_000,
    });
    await page
      .locator('.tabs-container .tab', { hasText: 'CodeDance Run: sa1b-grpo-demo vs sa1b-grpo-lr2e6' })
      .waitFor({ timeout: 10_000 });
    assert.equal(await view.locator('figure.run-chart[data-chart="tool-use"]').getAttribute('data-series'), '8', 'four shares of each run');
    // each run's alarm, each told once
    await view.waitForFunction(() => document.querySelectorAll('li.alarm[data-alarm="tool-use-collapse"]').length === 2, undefined, {
      timeout: 15_000,
    });
    await runCommand(page, 'Notifications: Clear All Notifications');
    await view.evaluate(() => window.scrollTo(0, 0));
    await page.waitForTimeout(300);
    await screenshot(page, 'runs-overlay.png');
  });

  it('comes back after a window reload with both runs, resumed from the saved offsets', async () => {
    const navigated = page.waitForEvent('framenavigated', { predicate: (f) => f === page.mainFrame(), timeout: 30_000 });
    await runCommand(page, 'Developer: Reload Window');
    await navigated;
    await page.locator('.part.statusbar .statusbar-item', { hasText: 'CodeDance:' }).first().waitFor({ timeout: 60_000 });
    await page
      .locator('.tabs-container .tab', { hasText: 'CodeDance Run: sa1b-grpo-demo vs sa1b-grpo-lr2e6' })
      .waitFor({ timeout: 30_000 });
    view = await findWebviewFrame(page, 'figure.run-chart[data-chart="acc"][data-series="2"] canvas', 45_000);
    await view.waitForFunction((n) => document.body.dataset.steps === String(n), 2 * RUN_STEPS + 2, { timeout: 20_000 });
    // the extension's log: each run read on from its saved byte offset, not from the start
    const logs = path.join(runDir, 'server', 'udd', 'logs');
    const resumed = await extensionLogLines(page, logs, /runs: file:\S+ resuming at byte \d+ with \d+ saved step\(s\)/g, 2);
    assert.equal(resumed.length, 2, `two runs resumed: ${JSON.stringify(resumed)}`);
    assert.ok(
      resumed.some((r) => /rl-run\/logs\S+ resuming at byte [1-9]\d* with 32 saved step/.test(r)),
      JSON.stringify(resumed),
    );
  });

  it('follows a training job from the Training Jobs tree: live steps, the alarm as a badge on the job', async () => {
    // the job prints the fixture run's log a step at a time, as verl does; its command names its folders
    const gate = await submitPrintingJob(ray, path.join(workspace, 'rl-run-job'), 'e2e-job', 'e2e-run-1');
    await runCommand(page, 'Focus on Training Jobs View');
    const jobsPane = page.locator('.part.sidebar .pane', { has: page.locator('.pane-header h3.title', { hasText: /^Training Jobs$/i }) });
    const row = jobsPane.locator('.monaco-list-row', { hasText: 'e2e-job' });
    await row.waitFor({ timeout: 30_000 });
    await contextMenuItem(page, row, 'Open Run View');

    await page.locator('.tabs-container .tab', { hasText: 'CodeDance Run: e2e-job' }).waitFor({ timeout: 30_000 });
    jobView = await findWebviewFrame(page, '.run-where:has-text("fixture-ray · job e2e-run-1")', 45_000);
    // live: the first 5 steps while the job holds, the rest once it goes on
    await jobView.waitForFunction(() => document.body.dataset.steps === '5', undefined, { timeout: 30_000 });
    writeFileSync(gate, '');
    await jobView.locator('li.alarm[data-alarm="tool-use-collapse"]').waitFor({ timeout: 30_000 });
    await row.filter({ hasText: /⚠ 1 alarm/ }).waitFor({ timeout: 15_000 });
    await jobView.waitForFunction((n) => document.body.dataset.steps === String(n), RUN_STEPS, { timeout: 30_000 });
    await jobView.locator('.run-chip .run-state', { hasText: /ended/ }).waitFor({ timeout: 30_000 });
    assert.deepEqual(
      await jobView.locator('tr[data-checkpoint]').evaluateAll((rs) => rs.map((x) => x.getAttribute('data-checkpoint'))),
      ['30', '20', '10'],
      'the checkpoints in the folder its command names',
    );
    await runCommand(page, 'Notifications: Clear All Notifications');
    await page.waitForTimeout(300);
    await screenshot(page, 'runs-job.png');
  });

  it('draws the checkpoint evals recorded for the job on the accuracy chart, and evaluates a checkpoint from its row', async () => {
    const acc = jobView.locator('figure.run-chart[data-chart="acc"]');
    assert.equal(await acc.getAttribute('data-eval-points'), '0', 'no eval recorded yet');
    // recorded as "Evaluate this checkpoint" records them (vstar_val at 10, 20, 30; chartqa_val at 30), and another run's
    await recordJobEvals(
      workspace,
      'fixture-ray',
      'e2e-run-1',
      path.join(workspace, 'rl-run-job', 'checkpoints', 'codedance_rl', 'e2e-job'),
    );
    await jobView.waitForFunction(
      () => document.querySelector('figure[data-chart="acc"]')?.getAttribute('data-eval-points') === '4',
      undefined,
      {
        timeout: 20_000,
      },
    );
    assert.equal(await acc.getAttribute('data-series'), '3', 'actor/acc and one point series per dataset');
    assert.deepEqual(await jobView.locator('tr[data-checkpoint="30"] .ckpt-evals div').allInnerTexts(), [
      'vstar_val 65.1 % (300)',
      'chartqa_val 51.2 % (120)',
    ]);

    // hovering the point at step 20: its accuracy and sample count in the legend
    await hoverStep(acc, 20, RUN_STEPS);
    await jobView.waitForFunction(
      () => /0\.627 · n 300/.test(document.querySelector('figure[data-chart="acc"] .u-legend')?.textContent ?? ''),
      undefined,
      { timeout: 5000 },
    );
    assert.equal(await legendValue(acc, 'eval vstar_val'), '0.627 · n 300');
    assert.equal(await legendValue(acc, 'eval chartqa_val'), '—', 'no chartqa eval at step 20');
    await runCommand(page, 'Notifications: Clear All Notifications');
    await jobView.evaluate(() => document.querySelector('figure[data-chart="acc"]')?.scrollIntoView({ block: 'start' }));
    await hoverStep(acc, 20, RUN_STEPS);
    await page.waitForTimeout(300);
    await screenshot(page, 'runs-checkpoint-evals.png');
    await jobView.locator('section.checkpoints').scrollIntoViewIfNeeded();
    await page.waitForTimeout(200);
    await screenshot(page, 'runs-checkpoints.png');

    // Evaluate on a checkpoint's row: the command on the job and its step 30 asks only what to evaluate on
    const evaluate = jobView.locator('tr[data-checkpoint="30"] button[data-action="evaluate"]');
    assert.equal(await evaluate.isDisabled(), false);
    assert.equal(await jobView.locator('tr[data-checkpoint="30"] button[data-action="serve"]').isDisabled(), false);
    await evaluate.click();
    const ask = page.locator('.quick-input-widget', { hasText: 'Evaluate Checkpoint: the dataset to evaluate on' });
    await ask.waitFor({ timeout: 20_000 });
    await page.keyboard.press('Escape');
    await ask.waitFor({ state: 'hidden', timeout: 5000 });
  });

  it('broke no rule of the webview’s CSP', async () => {
    assert.deepEqual(cspViolations, []);
    // the check sees a violation in the webview: an inline style is refused and reported
    await view.evaluate(() => document.body.setAttribute('style', 'outline: 1px solid red'));
    const deadline = Date.now() + 10_000;
    while (!cspViolations.length && Date.now() < deadline) await page.waitForTimeout(100);
    assert.match(cspViolations[0] ?? '', /inline style violates|Refused to apply inline style/);
  });
});
