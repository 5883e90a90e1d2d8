/**
 * e2e: Training Jobs in a real VS Code (code-server + Debian chromium) whose workspace is not
 * trusted (Workspace Trust on): the workspace's cluster profiles are ignored and nothing is
 * submitted to the Ray Jobs API fixture (test/fixtures/rayJobsServer.ts). The trusted workspace's
 * jobs: jobs.test.ts. Screenshot: test/e2e/.artifacts/jobs-untrusted.png.
 */
import * as assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startRayJobsFixture, type RayJobsFixture } from '../fixtures/rayJobsServer';
import { ensureExtensionBuilt, ROOT } from './build';
import { ensureFixtureWorkspace } from './fixtures/images';
import { type CodeServerModule, DEV_HOST_TITLE, log, type Server } from './jobsHelpers';
import { activityBarItem, notificationToast, openViewContainer, openWorkbench, paneHeader, removeRunDir, screenshot } from './workbench';

describe('e2e: Training Jobs in an untrusted workspace (Workspace Trust on)', function () {
  this.timeout(180_000);
  let cs: CodeServerModule;
  let ray: RayJobsFixture;
  let server: Server | undefined;
  let runDir: string;
  let browser: BrowserContext | undefined;
  let page: Page;

  before(async function () {
    cs = await import('../../scripts/codeServer.mjs');
    await cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
    ensureExtensionBuilt(log);
    ray = await startRayJobsFixture();
    runDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-jobs-trust-e2e-'));
    const workspace = path.join(runDir, 'workspace');
    cpSync(ensureFixtureWorkspace(), workspace, { recursive: true });
    mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    // a workspace that points jobs at "its" cluster: ignored until the workspace is trusted
    writeFileSync(
      path.join(workspace, '.vscode', 'settings.json'),
      JSON.stringify({ 'codedance.jobs.clusters': [{ name: 'workspace-ray', kind: 'ray', address: ray.url }] }),
    );
    server = await cs.startCodeServer({
      workspace,
      extensionDevelopmentPath: ROOT,
      runDir: path.join(runDir, 'server'),
      trust: true,
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
    await ray?.close();
    if (runDir) await removeRunDir(runDir, log);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await screenshot(page, 'jobs-failed-untrusted.png').catch(() => {});
  });

  it("ignores the workspace's cluster profiles and submits nothing", async () => {
    // the trust dialog on open (it may come late on a busy machine): stay untrusted
    const dialog = page.locator('.monaco-dialog-box');
    const noTrust = dialog.locator('.monaco-button', { hasText: /No, I don.t trust the authors/ });
    await noTrust.waitFor({ timeout: 45_000 });
    await page.waitForTimeout(200);
    await noTrust.click();
    await dialog.waitFor({ state: 'detached', timeout: 10_000 });
    await page
      .locator('.statusbar-item', { hasText: /Restricted Mode/ })
      .first()
      .waitFor({ timeout: 15_000 });
    await openViewContainer(page, 'CodeDance');
    await paneHeader(page, 'Training Jobs').waitFor({ timeout: 20_000 });
    // Training Jobs starts collapsed under the chat (issue 13): open it as a user would
    if ((await paneHeader(page, 'Training Jobs').getAttribute('aria-expanded')) === 'false')
      await paneHeader(page, 'Training Jobs').click();
    const pane = page.locator('.part.sidebar .pane', { has: page.locator('.pane-header h3.title', { hasText: /^Training Jobs$/i }) });
    await pane.locator('.welcome-view-content', { hasText: 'No cluster profiles yet' }).waitFor({ timeout: 15_000 });
    assert.equal(await pane.locator('.monaco-list-row', { hasText: 'workspace-ray' }).count(), 0);
    // the view's own "Start Training Job" button (the chat input holds the keyboard focus here)
    await pane.locator('.welcome-view-content .monaco-button', { hasText: 'Start Training Job' }).click();
    await notificationToast(page, /does not submit training jobs in an untrusted workspace/)
      .first()
      .waitFor({ timeout: 15_000 });
    await screenshot(page, 'jobs-untrusted.png');
    assert.equal(ray.requests.length, 0, 'no request reached the cluster');
  });
});
