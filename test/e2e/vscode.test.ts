/**
 * e2e: the extension in a real VS Code — code-server 4.100.3 (VS Code 1.100.3, real Node extension
 * host) driven headless through Debian's chromium with playwright-core. Runs offline.
 *   (a) the in-host mocha suite (test/e2e/suite) through VS Code's extensionTestsPath contract
 *   (b) the UI: activity bar view, command palette, explorer context menu, with screenshots in
 *       test/e2e/.artifacts/
 * Setup (code-server install on first run, ~40 s) is scripts/codeServer.mjs.
 */
import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { buildHostSuite, ensureExtensionBuilt, ROOT } from './build';
import { ensureFixtureWorkspace } from './fixtures/images';
import { runHostSuite } from './hostSuite';
import {
  activityBarItem,
  ARTIFACTS,
  explorerContextMenu,
  explorerRow,
  findWebviewFrame,
  menuItem,
  openViewContainer,
  openWorkbench,
  paneHeader,
  removeRunDir,
  runCommand,
  screenshot,
  waitForTextInUi,
} from './workbench';

type CodeServerModule = typeof import('../../scripts/codeServer.mjs');
type Server = Awaited<ReturnType<CodeServerModule['startCodeServer']>>;

const DEV_HOST_TITLE = '[Extension Development Host]';
const log = (msg: string) => console.log(`      [e2e] ${msg}`);
const timings: Record<string, unknown> = {};

describe('e2e: CodeDance in a real VS Code (code-server + chromium)', function () {
  this.timeout(240_000);
  const t0 = performance.now();
  let cs: CodeServerModule;
  let server: Server | undefined;
  let runDir: string;
  const browsers: BrowserContext[] = [];
  /** A fresh chromium profile per scenario, so no workbench state leaks between them. */
  const newBrowser = async (name: string) => {
    const t = performance.now();
    const browser = await cs.launchBrowser({ userDataDir: path.join(runDir, `chromium-${name}`) });
    timings[`browserLaunchSeconds.${name}`] = secondsSince(t);
    browsers.push(browser);
    return browser;
  };

  before(async function () {
    // Dynamic import: scripts/codeServer.mjs is plain ESM shared with scripts outside the tests.
    cs = await import('../../scripts/codeServer.mjs');
    let t = performance.now();
    await cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
    timings.ensureCodeServerSeconds = secondsSince(t);
    ensureExtensionBuilt(log);
    await buildHostSuite();
    // test-all.mjs empties .artifacts/ once before the e2e layer; other e2e files write there too
    mkdirSync(ARTIFACTS, { recursive: true });
    runDir = path.join(os.tmpdir(), `codedance-e2e-${process.pid}`);
    await removeRunDir(runDir, log);
    t = performance.now();
    server = await cs.startCodeServer({
      workspace: ensureFixtureWorkspace(),
      extensionDevelopmentPath: ROOT,
      runDir: path.join(runDir, 'server'),
      log: (m: string) => log(`code-server: ${m}`),
    });
    timings.serverStartSeconds = secondsSince(t);
  });

  after(async function () {
    this.timeout(30_000);
    for (const browser of browsers) await browser.close().catch((err: Error) => log(`closing chromium failed: ${err.message}`));
    await server?.stop();
    if (server) copyFileSync(server.logFile, path.join(ARTIFACTS, 'code-server.log'));
    if (runDir) await removeRunDir(runDir, log);
    timings.e2eLayerSeconds = secondsSince(t0);
    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(path.join(ARTIFACTS, 'timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
    log(`timings: ${JSON.stringify(timings)}`);
  });

  it('(a) passes the in-host mocha suite inside the extension host', async function () {
    const url = server!.workbenchUrl({ extensionTestsPath: await buildHostSuite() });
    const browser = await newBrowser('host-suite');
    const run = await runHostSuite(browser, url);
    await browser.close();
    writeFileSync(path.join(ARTIFACTS, 'host-suite.log'), `${run.log.join('\n')}\n`);
    timings.hostSuiteSeconds = Number(run.seconds.toFixed(1));
    Object.assign(timings, run.info);
    for (const t of run.tests) {
      log(`${t.state === 'passed' ? '✔' : t.state === 'failed' ? '✘' : '-'} [host] ${t.title}${t.ms ? ` (${t.ms} ms)` : ''}`);
      if (t.error) log(t.error.split('\n').join('\n        '));
    }
    const counts = run.result ?? {
      passed: run.tests.filter((t) => t.state === 'passed').length,
      failed: run.tests.filter((t) => t.state === 'failed').length + (run.exitCode === 0 ? 0 : 1),
    };
    if (process.env.CODEDANCE_E2E_COUNTS) {
      writeFileSync(process.env.CODEDANCE_E2E_COUNTS, JSON.stringify({ passed: counts.passed, failed: counts.failed }));
    }
    assert.ok(run.result, 'the in-host suite never reported CODEDANCE_E2E_RESULT (see test/e2e/.artifacts/host-suite.log)');
    assert.ok(run.tests.length > 0, 'the in-host suite ran no tests');
    assert.equal(run.result.failed, 0, `${run.result.failed} in-host test(s) failed`);
    assert.equal(run.exitCode, 0, `the extension host exited with ${run.exitCode}`);
  });

  describe('(b) workbench UI', () => {
    let page: Page;

    before(async () => {
      const browser = await newBrowser('ui');
      page = browser.pages()[0] ?? (await browser.newPage());
      const url = server!.workbenchUrl();
      // ready: laid out, titled as a development host, the extension's activity bar item shown
      const seconds = await openWorkbench(page, url, DEV_HOST_TITLE, activityBarItem(page, 'CodeDance'));
      timings.workbenchReadySeconds = Number(seconds.toFixed(1));
      log(`workbench ready in ${timings.workbenchReadySeconds} s`);
    });

    afterEach(async function () {
      if (this.currentTest?.state === 'failed' && page) {
        const name = `failed-${this.currentTest.title.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`;
        await screenshot(page, name).catch(() => {});
      }
    });

    it('loads the workbench as an Extension Development Host on the fixture workspace', async () => {
      assert.ok((await page.title()).includes(DEV_HOST_TITLE), `title is "${await page.title()}"`);
      await openViewContainer(page, 'Explorer');
      await explorerRow(page, 'circles.png').waitFor({ timeout: 15_000 });
      await page.locator('.file-icons-enabled').first().waitFor({ state: 'attached', timeout: 15_000 }); // icon theme applied
      await screenshot(page, 'workbench.png');
    });

    it('opens the CodeDance view container and shows the Chat view', async () => {
      const t = performance.now();
      await openViewContainer(page, 'CodeDance');
      await paneHeader(page, 'Chat').waitFor({ timeout: 20_000 });
      await paneHeader(page, 'Training Jobs').waitFor();
      // the chat webview rendered by dist/webview.js inside its nested iframe
      const frame = await findWebviewFrame(page, '#root > *', 20_000);
      timings.chatViewSeconds = secondsSince(t);
      assert.ok((await frame.locator('#root').innerText()).trim().length > 0, 'the chat webview rendered nothing');
      // VS Code gives the view it opened the focus: the caret lands in the question box (and the
      // focus has settled, across the webview's frames, before the next test presses keys)
      await frame.waitForFunction(() => document.hasFocus() && document.activeElement?.id === 'question', undefined, { timeout: 10_000 });
      // what a new user sees once the panel has its state: the header (endpoint, kernel) and the guide
      await frame.locator('header.panel-header').filter({ hasText: 'kernel' }).waitFor({ timeout: 20_000 });
      await screenshot(page, 'codedance-view.png');
    });

    it('runs "Run CodeDance Eval" from the command palette and asks for the dataset', async () => {
      await runCommand(page, 'Run CodeDance Eval', {
        beforeEnter: () => screenshot(page, 'palette-eval.png'),
      });
      // the real flow starts (test/e2e/eval.test.ts runs it to the end): its first quick pick
      const pick = page.locator('.quick-input-widget', { hasText: /CodeDance Eval \(1\/4\): dataset/ });
      await pick.waitFor({ timeout: 15_000 });
      log(`eval response: "${(await pick.innerText()).split('\n')[0]}"`);
      await screenshot(page, 'eval-response.png');
      await page.keyboard.press('Escape');
    });

    it('offers "Ask about image" when right-clicking an image in the explorer', async () => {
      await openViewContainer(page, 'Explorer');
      const menu = await explorerContextMenu(page, 'circles.png');
      const item = menuItem(menu, 'Ask about image');
      await item.waitFor({ timeout: 5000 });
      await item.hover(); // highlighted in the screenshot
      await screenshot(page, 'explorer-context-menu.png');
      await page.keyboard.press('Escape');

      const other = await explorerContextMenu(page, 'README.md');
      assert.equal(await menuItem(other, 'Ask about image').count(), 0, '"Ask about image" offered for README.md');
      await page.keyboard.press('Escape');
    });

    it('runs "Ask about image" from the explorer on that file and brings up the CodeDance chat', async () => {
      const menu = await explorerContextMenu(page, 'small_object.jpg');
      await menuItem(menu, 'Ask about image').click();
      await paneHeader(page, 'Chat').waitFor({ timeout: 15_000 });
      // the explorer passed the file to the command: the chat panel shows it attached to the question box
      const where = await waitForTextInUi(page, 'small_object.jpg', 20_000);
      assert.equal(where, 'webview', '"Ask about image" attaches the image in the chat panel');
      const frame = await findWebviewFrame(page, '.attachment', 10_000);
      assert.match(await frame.locator('.attachment').first().innerText(), /small_object\.jpg/);
      await screenshot(page, 'ask-about-image.png');
    });
  });
});

function secondsSince(t: number): number {
  return Number(((performance.now() - t) / 1000).toFixed(1));
}
