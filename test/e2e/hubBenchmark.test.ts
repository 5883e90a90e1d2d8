/**
 * e2e: a catalog benchmark from the Hugging Face Hub, evaluated and compared, in a real VS Code
 * (code-server 4.100.3 + Debian chromium). The fixture Hub (test/fixtures/hub-server.ts) serves
 * `craigwu/vstar_bench` at the catalog's pinned commit, shaped as the repository holds it (its
 * test_questions.jsonl naming each image, 191 rows as the catalog expects: six circle-counting
 * questions the fixture model measures with code, then the V* fixture rows, which it cannot);
 * code-server's environment points at it (HF_ENDPOINT) with an HF_HOME in the run folder.
 *
 *  (a) "Run CodeDance Eval" → "A benchmark from the Hugging Face Hub…" → V* ticked → downloaded
 *      into the cache and converted → endpoints, workers, judge (prefilled) → the run with the
 *      fixture model, real kernels and the fixture judge → "Open Report"; the run manifest names
 *      the set and its commit.
 *  (b) A second run from the CLI on an offline copy of the set, then "CodeDance: Compare Eval
 *      Runs (Results Table)…" on both run folders → the table with the V* row, the flags (the
 *      scoring, and the revision: an offline copy's cannot be checked) and the flipped samples.
 *
 * Screenshots at the default window size: test/e2e/.artifacts/hub-*.png.
 */
import * as assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { HUB_FIXTURES, VSTAR_INSTRUCTION, VSTAR_ROWS } from '../fixtures/benchmarks/hubFixtures';
import { CLI, runCli } from '../fixtures/cli';
import { startFixtureModel, type FixtureModel } from '../fixtures/fixtureModel';
import { startHubServer, type HubServer } from '../fixtures/hub-server';
import { circlesImage, circlesQuestion } from '../fixtures/images';
import { startJudgeServer, type JudgeServer } from '../fixtures/judgeServer';
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
const VSTAR_COMMIT = 'd9ae62c903da0c98336e85c5ee89cd863b04b4da';
const MODEL = 'codedance-fixture-7b';
const CIRCLE_COUNTS = [2, 3, 4, 5, 3, 2];
const log = (msg: string) => console.log(`      [hub-e2e] ${msg}`);

/** Every file under `dir`, as repository paths → bytes. */
function tree(dir: string, prefix = ''): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) Object.assign(out, tree(p, `${prefix}${e.name}/`));
    else out[`${prefix}${e.name}`] = readFileSync(p);
  }
  return out;
}

/** craigwu/vstar_bench as the fixture Hub serves it: 191 rows (the catalog's count), the first six circle counts. */
function vstarRepo(): Record<string, Buffer> {
  const files = tree(path.join(HUB_FIXTURES, 'craigwu/vstar_bench'));
  const lines = Array.from({ length: 191 }, (_, i) => {
    if (i >= CIRCLE_COUNTS.length) return JSON.stringify({ ...VSTAR_ROWS[i % VSTAR_ROWS.length], question_id: i });
    const n = CIRCLE_COUNTS[i];
    const image = `counting/circles_${i}.png`;
    files[image] = circlesImage({ red: n, blue: 2, seed: 40 + i }).png;
    const options = [n - 1, n, n + 1, n + 2];
    return JSON.stringify({
      image,
      text: `${circlesQuestion('red')}\n${options.map((o, k) => `(${'ABCD'[k]}) ${o}`).join('\n')}\n${VSTAR_INSTRUCTION}`,
      category: 'counting',
      question_id: i,
      label: 'B',
    });
  });
  return { ...files, 'test_questions.jsonl': Buffer.from(`${lines.join('\n')}\n`) };
}

describe('e2e: a benchmark from the Hugging Face Hub, evaluated, then compared in the results table', function () {
  this.timeout(600_000);
  let cs: CodeServerModule;
  let model: FixtureModel;
  let judge: JudgeServer;
  let hub: HubServer;
  let server: Server | undefined;
  let runDir: string;
  let workspace: string;
  let hfHome: string;
  let repoFiles: Record<string, Buffer>;
  let browser: BrowserContext | undefined;
  let page: Page;
  const savedEnv: Record<string, string | undefined> = {};
  const HF_VARS = ['HF_ENDPOINT', 'HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_ASSETS_CACHE', 'HF_TOKEN', 'HF_HUB_OFFLINE'];

  before(async function () {
    cs = await import('../../scripts/codeServer.mjs');
    await cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
    ensureExtensionBuilt(log);
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'node scripts/build.mjs' first`);
    mkdirSync(ARTIFACTS, { recursive: true });
    model = await startFixtureModel({ chunkDelayMs: 1 });
    judge = await startJudgeServer();
    repoFiles = vstarRepo();
    hub = await startHubServer({ repos: [{ id: 'craigwu/vstar_bench', commit: VSTAR_COMMIT, files: repoFiles }] });
    runDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-hub-e2e-'));
    hfHome = path.join(runDir, 'hf');
    workspace = path.join(runDir, 'workspace');
    cpSync(ensureFixtureWorkspace(), workspace, { recursive: true });
    mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    writeFileSync(
      path.join(workspace, '.vscode', 'settings.json'),
      JSON.stringify({
        'codedance.model.endpoints': [model.baseUrl],
        'codedance.judge.endpoint': judge.baseUrl,
        'codedance.eval.numWorkers': 2,
        'codedance.python.interpreter': '/usr/bin/python3',
        'remote.autoForwardPorts': false,
      }),
    );
    // code-server (and its extension host) takes this process's environment: the fixture Hub, a cache of the run's own
    for (const k of HF_VARS) savedEnv[k] = process.env[k];
    for (const k of HF_VARS) delete process.env[k];
    process.env.HF_ENDPOINT = hub.url;
    process.env.HF_HOME = hfHome;
    server = await cs.startCodeServer({
      workspace,
      extensionDevelopmentPath: ROOT,
      runDir: path.join(runDir, 'server'),
      settings: { 'workbench.colorTheme': 'Default Dark Modern' },
      log: (m: string) => log(`code-server: ${m}`),
    });
    browser = await cs.launchBrowser({ userDataDir: path.join(runDir, 'chromium') });
    page = browser.pages()[0] ?? (await browser.newPage());
    await openWorkbench(page, server.workbenchUrl(), DEV_HOST_TITLE);
    // the extension's contribution: loading the development extension takes long on a busy machine
    await activityBarItem(page, 'CodeDance').waitFor({ timeout: 120_000 });
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close().catch(() => {}); // the browser may be gone already: nothing of the test's is in it
    await server?.stop();
    keepServerLogs('hub', server?.logFile, runDir);
    for (const k of HF_VARS) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
    await Promise.all([model?.close(), judge?.close(), hub?.close()]);
    if (runDir) await removeRunDir(runDir, log);
  });

  afterEach(async function () {
    await failureScreenshot('hub', page, this.currentTest);
  });

  const quickInput = (title: RegExp) => page.locator('.quick-input-widget', { hasText: title });

  /** Ticks the rows of a multi-select quick pick (the filter narrowed to each), then accepts them. */
  async function tickAndAccept(title: RegExp, labels: string[]): Promise<void> {
    const w = quickInput(title);
    await w.waitFor({ timeout: 20_000 });
    for (const label of labels) {
      await w.locator('input.input').fill(label);
      const row = w.locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
      await row.waitFor({ timeout: 10_000 });
      await row.locator('.monaco-checkbox').click();
      await page.waitForFunction(
        (l) =>
          [...document.querySelectorAll('.quick-input-widget .monaco-list-row')].some(
            (r) => r.querySelector('.label-name')?.textContent === l && r.getAttribute('aria-checked') === 'true',
          ),
        label,
        { timeout: 5000 },
      );
    }
    await w.locator('input.input').fill('');
    await page.keyboard.press('Enter');
  }

  it('(a) Run CodeDance Eval → a benchmark from the Hub → downloaded, converted, evaluated → the report', async () => {
    await runCommand(page, 'Run CodeDance Eval');
    const datasets = quickInput(/dataset/);
    await datasets.waitFor({ timeout: 20_000 });
    await datasets.locator('input.input').fill('Hugging Face');
    await datasets.locator('.monaco-list-row', { hasText: 'A benchmark from the Hugging Face Hub' }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');

    const picker = quickInput(/benchmarks from the Hugging Face Hub/);
    await picker.locator('.monaco-list-row', { hasText: 'vstar' }).first().waitFor({ timeout: 20_000 });
    await page.waitForTimeout(300);
    await screenshot(page, 'hub-benchmark-pick.png');
    await tickAndAccept(/benchmarks from the Hugging Face Hub/, ['vstar']);

    // the download and conversion (a notification), then the eval's own questions, prefilled from the settings
    const endpoints = quickInput(/model endpoint/);
    await endpoints.waitFor({ timeout: 120_000 });
    assert.equal(await endpoints.locator('input').inputValue(), model.baseUrl);
    await page.keyboard.press('Enter');
    await quickInput(/workers/).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    const scoring = quickInput(/scoring/);
    await scoring.waitFor({ timeout: 10_000 });
    assert.match(await scoring.innerText(), /LLM judge at/);
    await page.keyboard.press('Enter');

    const converted = path.join(hfHome, 'assets', 'codedance', 'benchmarks', 'converted', `vstar-${VSTAR_COMMIT}.parquet`);
    assert.ok(existsSync(converted), `converted into the assets cache: ${converted}`);
    assert.ok(
      hub.requests.some((r) => r.path.includes('/resolve/') && r.path.includes('counting/circles_0.png')),
      'the images test_questions.jsonl names were fetched from the fixture Hub',
    );

    const t0 = Date.now();
    await notificationToast(page, /CodeDance Eval: vstar-/)
      .first()
      .waitFor({ timeout: 60_000 });
    const done = notificationToast(page, /CodeDance Eval finished/).first();
    await done.waitFor({ timeout: 400_000 });
    const text = (await done.innerText()).replace(/\s+/g, ' ');
    log(`191 samples in ${((Date.now() - t0) / 1000).toFixed(1)} s: "${text}"`);
    // the six circle questions are measured with code and judged right; the V* fixture rows are not answerable
    assert.match(text, /acc 3\.1% on 191 sample/);

    const dir = path.join(workspace, 'codedance-eval', MODEL);
    const manifest = JSON.parse(readFileSync(path.join(dir, `manifest_${MODEL}_vstar-${VSTAR_COMMIT}.json`), 'utf8'));
    assert.deepEqual(manifest.benchmark, { name: 'vstar', repo: 'craigwu/vstar_bench', revision: VSTAR_COMMIT });

    await done.locator('.monaco-button', { hasText: 'Open Report' }).click();
    const frame = await findWebviewFrame(page, '#chart-accuracy rect.bar', 60_000);
    assert.equal(await frame.locator('#acc-A').innerText(), '3.1%');
    assert.deepEqual(await frame.locator('#chart-accuracy rect.bar').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-category'))), [
      'overall',
      'vstar',
    ]);
    await page.waitForTimeout(500);
    await screenshot(page, 'hub-benchmark-report.png');
  });

  it('(b) Compare Eval Runs (Results Table)… on two run folders → the table, its flags and the flipped samples', async () => {
    // run B from the CLI: the set converted from an offline copy laid out as the repository (its revision cannot be checked)
    const copy = path.join(runDir, 'vstar-copy');
    for (const [p, bytes] of Object.entries(repoFiles)) {
      mkdirSync(path.dirname(path.join(copy, p)), { recursive: true });
      writeFileSync(path.join(copy, p), bytes);
    }
    const env = {
      HF_HOME: hfHome,
      HF_ENDPOINT: hub.url,
      CODEDANCE_BASE_URL: undefined,
      CODEDANCE_API_KEY: undefined,
      OPENAI_API_KEY: undefined,
    };
    const offline = path.join(runDir, 'vstar-offline.parquet');
    const conv = await runCli(['data', 'benchmark', 'vstar', '--from', copy, '--out', offline, '--quiet'], env);
    assert.equal(conv.code, 0, conv.stderr);
    const save = path.join(workspace, 'codedance-eval');
    const b = await runCli(
      [
        'eval',
        ...['--model-name', 'fx-offline', '--api-url', model.baseUrl, '--data-path', offline, '--save-path', save],
        ...['--limit', '40', '--num-workers', '2', '--no-judge', '--quiet', '--python', '/usr/bin/python3'],
      ],
      env,
    );
    assert.equal(b.code, 0, b.stderr);

    await runCommand(page, 'CodeDance: Compare Eval Runs (Results Table)…');
    await tickAndAccept(/compare eval runs/, [MODEL, 'fx-offline']);
    const baseline = quickInput(/baseline run/);
    await baseline.waitFor({ timeout: 10_000 });
    await baseline.locator('input.input').fill(MODEL);
    await baseline.locator('.monaco-list-row', { hasText: MODEL }).first().waitFor({ timeout: 5000 });
    await page.keyboard.press('Enter');

    const frame = await findWebviewFrame(page, '#results-table tbody tr', 60_000);
    assert.deepEqual(
      await frame.locator('#results-table tbody tr').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-benchmark'))),
      ['vstar'],
      'one row: both runs evaluate V* (the manifests say so)',
    );
    const flags = await frame.locator('section.flags li').allInnerTexts();
    assert.ok(
      flags.some((f) => /vstar: benchmark revision differs .*craigwu\/vstar_bench@d9ae62c903da \(offline copy\)/.test(f)),
      flags.join('\n'),
    );
    assert.ok(
      flags.some((f) => /vstar: scoring differs/.test(f)),
      flags.join('\n'),
    );
    // run B scored without a judge: its circle answers ('3' against 'B. 3') are wrong by normalized match
    const lost = frame.locator('.flip-line.correct-to-wrong button.flip');
    assert.equal(await lost.count(), CIRCLE_COUNTS.length);
    await page.waitForTimeout(500);
    await screenshot(page, 'hub-results-table.png');
  });
});
