/**
 * e2e: "Run CodeDance Eval" in a real VS Code (code-server 4.100.3 + Debian chromium): the
 * command palette → the quick picks (dataset, endpoints, workers, judge; prefilled from the
 * workspace settings) → a parquet benchmark through the fixture model, real ipykernels and the
 * fixture judge, with the progress notification → "Open Report" → the report webview shows the
 * accuracy chart, the seed's training reward (score histogram, components, a sample's values and
 * its cells' markers) and a sample's trajectory with its images; the correct samples exported as
 * CodeDance-RL parquet from the report; a sample opened in the chat with its reward. Screenshots:
 * test/e2e/.artifacts/eval-*.png.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startFixtureModel, type FixtureModel } from '../fixtures/fixtureModel';
import { circlesImage, circlesQuestion } from '../fixtures/images';
import { startJudgeServer, type JudgeServer } from '../fixtures/judgeServer';
import { readParquetRows } from '../../src/core/data/parquet';
import { writeEvalParquet } from '../fixtures/parquetWriter';
import { ensureExtensionBuilt, ROOT } from './build';
import { ensureFixtureWorkspace } from './fixtures/images';
import {
  activityBarItem,
  ARTIFACTS,
  failureScreenshot,
  findWebviewFrame,
  keepServerLogs,
  notificationToast,
  openWorkbench,
  removeRunDir,
  runCommand,
  screenshot,
} from './workbench';

type CodeServerModule = typeof import('../../scripts/codeServer.mjs');
type Server = Awaited<ReturnType<CodeServerModule['startCodeServer']>>;

const DEV_HOST_TITLE = '[Extension Development Host]';
const log = (msg: string) => console.log(`      [eval-e2e] ${msg}`);

describe('e2e: Run CodeDance Eval and the eval report in a real VS Code', function () {
  this.timeout(300_000);
  let cs: CodeServerModule;
  let model: FixtureModel;
  let judge: JudgeServer;
  let server: Server | undefined;
  let runDir: string;
  let workspace: string;
  let browser: BrowserContext | undefined;
  let page: Page;

  before(async function () {
    cs = await import('../../scripts/codeServer.mjs');
    await cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
    ensureExtensionBuilt(log);
    mkdirSync(ARTIFACTS, { recursive: true });
    model = await startFixtureModel({ chunkDelayMs: 1 });
    judge = await startJudgeServer();
    runDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-eval-e2e-'));
    workspace = path.join(runDir, 'workspace');
    cpSync(ensureFixtureWorkspace(), workspace, { recursive: true });
    mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    writeFileSync(
      path.join(workspace, '.vscode', 'settings.json'),
      JSON.stringify(
        {
          'codedance.model.endpoints': [model.baseUrl],
          'codedance.judge.endpoint': judge.baseUrl,
          'codedance.eval.numWorkers': 2,
          'codedance.python.interpreter': '/usr/bin/python3',
          'remote.autoForwardPorts': false,
        },
        null,
        2,
      ),
    );
    const imgs = [
      circlesImage({ red: 3, blue: 2, seed: 7 }),
      circlesImage({ red: 5, green: 1, seed: 8 }),
      circlesImage({ blue: 4, seed: 12 }),
    ];
    mkdirSync(path.join(workspace, 'benchmarks'));
    writeEvalParquet(path.join(workspace, 'benchmarks', 'mini_vstar.parquet'), [
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '3', image: imgs[0].png },
      { dataSource: 'vstar', question: circlesQuestion('red'), answer: '5', image: imgs[1].png },
      { dataSource: 'chart', question: circlesQuestion('blue'), answer: '4', image: imgs[2].png },
      { dataSource: 'chart', question: circlesQuestion('blue'), answer: '9', image: imgs[2].png }, // wrong ground truth: a "wrong" row
    ]);
    server = await cs.startCodeServer({
      workspace,
      extensionDevelopmentPath: ROOT,
      runDir: path.join(runDir, 'server'),
      settings: { 'workbench.colorTheme': 'Default Dark Modern' },
      log: (m: string) => log(`code-server: ${m}`),
    });
    browser = await cs.launchBrowser({ userDataDir: path.join(runDir, 'chromium') });
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.setViewportSize({ width: 1500, height: 950 }).catch(() => {});
    await openWorkbench(page, server.workbenchUrl(), DEV_HOST_TITLE, activityBarItem(page, 'CodeDance'));
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close().catch(() => {});
    await server?.stop();
    keepServerLogs('eval', server?.logFile, runDir);
    await model?.close();
    await judge?.close();
    if (runDir) await removeRunDir(runDir, log);
  });

  afterEach(async function () {
    await failureScreenshot('eval', page, this.currentTest);
  });

  const quick = () => page.locator('.quick-input-widget');

  async function acceptQuickInput(title: RegExp, filter?: string): Promise<void> {
    const w = page.locator('.quick-input-widget', { hasText: title });
    await w.waitFor({ timeout: 20_000 });
    if (filter) await w.locator('input').fill(filter);
    await page.waitForTimeout(200);
    await page.keyboard.press('Enter');
  }

  it('palette → quick picks → progress → results → report with the accuracy chart and a trajectory', async () => {
    await runCommand(page, 'Run CodeDance Eval');
    await quick().locator('.monaco-list-row', { hasText: 'mini_vstar.parquet' }).waitFor({ timeout: 20_000 });
    await screenshot(page, 'eval-pick-dataset.png');
    await acceptQuickInput(/dataset/, 'mini_vstar');
    const endpoints = page.locator('.quick-input-widget', { hasText: /model endpoint/ });
    await endpoints.waitFor({ timeout: 10_000 });
    assert.equal(await endpoints.locator('input').inputValue(), model.baseUrl, 'prefilled from codedance.model.endpoints');
    await page.keyboard.press('Enter');
    await acceptQuickInput(/workers/);
    const judgePick = page.locator('.quick-input-widget', { hasText: /scoring/ });
    await judgePick.waitFor({ timeout: 10_000 });
    assert.match(await judgePick.innerText(), new RegExp(`LLM judge at ${judge.baseUrl.replace(/[.:/]/g, '\\$&')}`));
    await screenshot(page, 'eval-pick-judge.png');
    await page.keyboard.press('Enter');

    const t0 = Date.now();
    const progressToast = notificationToast(page, /CodeDance Eval: mini_vstar\.parquet/).first();
    await progressToast.waitFor({ timeout: 30_000 });
    // counts and accuracy so far, once the first sample is in — or the end, when the run is faster than
    // that (waiting for the progress alone then let the finished toast hide before it was looked for)
    const progressOrDone = notificationToast(page, /[123]\/4 · acc \d|CodeDance Eval finished/).first();
    await progressOrDone.waitFor({ timeout: 180_000 });
    if (/CodeDance Eval finished/.test(await progressOrDone.innerText())) log('the run finished before a progress count was seen');
    else await screenshot(page, 'eval-progress.png');
    const done = notificationToast(page, /CodeDance Eval finished/).first();
    await done.waitFor({ timeout: 180_000 });
    log(`eval finished in ${((Date.now() - t0) / 1000).toFixed(1)} s: "${(await done.innerText()).split('\n')[0]}"`);
    assert.match(await done.innerText(), /acc 75\.0% on 4 sample/);
    await screenshot(page, 'eval-finished.png');

    // the seed's files, in the workspace
    const dir = path.join(workspace, 'codedance-eval', 'codedance-fixture-7b');
    const result = path.join(dir, 'result_codedance-fixture-7b_mini_vstar.jsonl');
    assert.ok(existsSync(result), `no ${result}: ${existsSync(dir) ? readdirSync(dir).join(', ') : 'no folder'}`);
    assert.equal(readFileSync(result, 'utf8').split('\n').filter(Boolean).length, 4);
    assert.ok(existsSync(path.join(dir, 'stats_codedance-fixture-7b.json')));
    assert.ok(judge.requests.length >= 4, 'the judge was asked');

    await done.locator('.monaco-button', { hasText: 'Open Report' }).click();
    const frame = await findWebviewFrame(page, '#chart-accuracy rect.bar', 30_000);
    assert.equal(await frame.locator('#acc-A').innerText(), '75.0%');
    const bars = frame.locator('#chart-accuracy rect.bar');
    assert.equal(await bars.count(), 3, 'overall, chart, vstar');
    assert.deepEqual(await bars.evaluateAll((rs) => rs.map((r) => `${r.getAttribute('data-category')}=${r.getAttribute('data-value')}`)), [
      'overall=0.75',
      'chart=0.5',
      'vstar=1',
    ]);
    assert.ok((await frame.locator('#chart-tools rect.bar').count()) >= 1);
    assert.ok((await frame.locator('#chart-latency rect.bar').count()) >= 1);
    await page.waitForTimeout(300);
    await screenshot(page, 'eval-report.png');

    // the seed's training reward per sample: a score histogram (3 correct at 1, the wrong one at 0) and the mean components
    const reward = frame.locator('#chart-reward rect.bar');
    assert.deepEqual(
      await reward.evaluateAll((rs) => rs.map((r) => `${r.getAttribute('data-category')}=${r.getAttribute('data-value')}`)),
      ['0=1', '1=3'],
    );
    const comps = await frame
      .locator('#chart-reward-components rect.bar')
      .evaluateAll((rs) => rs.map((r) => `${r.getAttribute('data-category')}=${r.getAttribute('data-value')}`));
    assert.deepEqual(
      comps,
      ['acc=0.75', 'format_r=0', 'tool_reward_component=1.25', 'tool_success_rate=1'],
      'tool component: 1.5 × rate when correct, 0.5 × rate when wrong',
    );
    await frame.locator('#chart-reward-components').scrollIntoViewIfNeeded();
    await screenshot(page, 'eval-reward.png');

    // filter: wrong → one row; open it → its trajectory with the input image and the code
    await frame.locator('button[data-filter="wrong"]').click();
    const rows = frame.locator('tr.row');
    assert.equal(await rows.count(), 1);
    await rows.first().click();
    const sample = frame.locator('article.sample');
    await sample.locator('img.thumb').first().waitFor({ timeout: 10_000 });
    assert.match(await sample.innerText(), /sample 3: wrong/);
    assert.match(await sample.locator('pre.code').first().innerText(), /input_image/);
    const natural = await sample
      .locator('img.thumb')
      .first()
      .evaluate((i) => (i as HTMLImageElement).naturalWidth);
    assert.ok(natural > 0, 'the input image decoded');
    // the sample's reward and its call's marker
    assert.match(
      await sample.locator('.reward').innerText(),
      /score 0 · acc 0 · format_r 0 · tool_reward_component 0\.5 · tool_success_rate 1/,
    );
    assert.equal(await sample.locator('.cell-meta .step').first().innerText(), 'reward +0');
    await sample.scrollIntoViewIfNeeded();
    await screenshot(page, 'eval-sample.png');
  });

  it('exports the selected samples (all correct) as CodeDance-RL parquet with the dataset’s ground truths', async () => {
    const frame = await findWebviewFrame(page, '#chart-accuracy rect.bar', 10_000);
    await frame.locator('button[data-filter="all"]').click();
    await frame.locator('button[data-select="correct"]').click();
    assert.equal(await frame.locator('input[data-pick]:checked').count(), 3);
    await frame.locator('button[data-action="export"]').click();
    const fmt = page.locator('.quick-input-widget', {
      hasText: /Training data format for 3 sample\(s\) of result_codedance-fixture-7b_mini_vstar\.jsonl/,
    });
    await fmt.waitFor({ timeout: 15_000 });
    await fmt.locator('input').fill('CodeDance-RL');
    await fmt.locator('.monaco-list-row', { hasText: 'CodeDance-RL' }).waitFor({ timeout: 5000 });
    await page.keyboard.press('Enter');
    // the save dialog (code-server's simple dialog, the path prefilled beside the results file)
    await page.waitForFunction(
      () =>
        /codedance_rl_export\.parquet$/.test((document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value ?? ''),
      undefined,
      { timeout: 15_000 },
    );
    await page.keyboard.press('Enter');
    const done = notificationToast(page, /wrote 3 CodeDance-RL row/).first();
    await done.waitFor({ timeout: 30_000 });
    await screenshot(page, 'eval-export.png');
    const out = path.join(workspace, 'codedance-eval', 'codedance-fixture-7b', 'codedance_rl_export.parquet');
    const rows: Record<string, unknown>[] = [];
    for await (const r of readParquetRows(out)) rows.push(r.row);
    const got = rows.map((r) =>
      [(r.extra_info as { index: bigint }).index, r.data_source, (r.reward_model as { ground_truth: string }).ground_truth].join(' '),
    );
    // in the results file's order (samples finish in any order with 2 workers)
    assert.deepEqual(
      got.sort(),
      ['0 vstar 3', '1 vstar 5', '2 chart 4'],
      'the correct samples, ground truth and data_source from the eval record',
    );
  });

  it('compares two runs (A/B): both on the chart, a "differs" filter, trajectories side by side', async () => {
    // run B from the CLI on the same dataset (3 rows, no judge) into the workspace; asynchronously,
    // since the fixture model answers from this process
    const args = [
      path.join(ROOT, 'dist/cli.js'),
      'eval',
      '--model-name',
      'fx-b',
      '--api-url',
      model.baseUrl,
      '--data-path',
      path.join(workspace, 'benchmarks', 'mini_vstar.parquet'),
      '--save-path',
      path.join(workspace, 'codedance-eval'),
      '--num-workers',
      '2',
      '--limit',
      '3',
      '--no-judge',
      '--quiet',
      '--python',
      '/usr/bin/python3',
    ];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, args, { stdio: 'ignore' });
      child.on('error', reject);
      child.on('close', resolve);
    });
    assert.equal(code, 0, 'the CLI run for B');
    const frame = await findWebviewFrame(page, '#chart-accuracy rect.bar', 10_000);
    await frame.locator('button[data-action="pickB"]').click();
    const pick = page.locator('.quick-input-widget', { hasText: /Compare/ });
    await pick.waitFor({ timeout: 15_000 });
    await pick.locator('input').fill('result_fx-b');
    await pick.locator('.monaco-list-row', { hasText: 'result_fx-b_mini_vstar.jsonl' }).waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    await frame.locator('#acc-B').waitFor({ timeout: 20_000 });
    assert.equal(await frame.locator('#acc-B').innerText(), '100.0%');
    assert.equal(await frame.locator('#chart-accuracy rect.bar').count(), 6, 'A and B bars for overall, chart, vstar');
    assert.equal(await frame.locator('#chart-accuracy rect.bar-b').count(), 3);
    await frame.locator('button[data-filter="differs"]').click();
    assert.equal(await frame.locator('tr.row').count(), 1, 'sample 3: wrong in A, not in B');
    await frame.locator('button[data-filter="correct"]').click();
    await frame.locator('tr.row').first().click();
    await frame.locator('article.sample[data-run="B"]').waitFor({ timeout: 10_000 });
    assert.equal(await frame.locator('article.sample').count(), 2, 'A and B side by side');
    await page.waitForTimeout(300);
    await screenshot(page, 'eval-ab.png');

    // "Open in chat": the sample continues in the chat panel (codedance.openTrajectoryInChat)
    await frame.locator('article.sample[data-run="A"] button[data-action="openInChat"]').click();
    const chat = await findWebviewFrame(page, 'section.exchange', 30_000);
    const opened = chat.locator('section.exchange', { hasText: 'How many red circles are there?' }).first();
    await opened.waitFor({ timeout: 15_000 });
    // the answer's training reward against the sample's ground truth (the eval's verdict), and the call's marker
    await opened.locator('.exchange-reward').waitFor({ timeout: 10_000 });
    assert.match(
      await opened.locator('.exchange-reward').innerText(),
      /Training reward: reward 1 · acc 1 · format 0 · tool 1\.5 · tool calls 1\/1 good/,
    );
    assert.equal(await opened.locator('.cell-reward').first().innerText(), 'reward +0');
    await screenshot(page, 'eval-open-in-chat.png');
  });
});
