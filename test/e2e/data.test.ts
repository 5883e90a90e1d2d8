/**
 * e2e: the dataset viewer in a real VS Code (code-server + chromium). A 63,000-row RL parquet in
 * the published layout (generated here) opens as the default editor of .parquet, pages as it
 * scrolls, filters by data_source and text, opens a row as a rendered trajectory and asks about
 * it in the chat; a small SFT file with one reproducing, one differing and one failing row is
 * verified from the viewer (real kernels) and its verify column filled; the chat shows the seed's
 * training reward of the answer and a −0.5 marker on a failed call (a fork with failing code); the
 * two chats are exported as SFT parquet, read back and opened in the viewer. Screenshots:
 * test/e2e/.artifacts/data-*.png.
 */
import * as assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, Frame, Page } from 'playwright-core';
import { readParquetRows } from '../../src/core/data/parquet';
import { sftRow } from '../../src/core/training-data/rows';
import { SFT_COLUMNS, sftSchema } from '../../src/core/training-data/schema';
import { writeParquetRows } from '../../src/core/training-data/writeParquet';
import { startFixtureModel, type FixtureModel } from '../fixtures/fixtureModel';
import { circlesImage } from '../fixtures/images';
import { writePublishedRl } from '../fixtures/publishedRl';
import { fixtureTrajectory, solidPng } from '../unit/data/exportFixtures';
import { ensureExtensionBuilt, ROOT } from './build';
import { ensureFixtureWorkspace } from './fixtures/images';
import {
  activityBarItem,
  ARTIFACTS,
  explorerRow,
  failureScreenshot,
  findWebviewFrame,
  keepServerLogs,
  notificationToast,
  openViewContainer,
  openWorkbench,
  removeRunDir,
  runCommand,
  screenshot,
} from './workbench';

type CodeServerModule = typeof import('../../scripts/codeServer.mjs');
type Server = Awaited<ReturnType<CodeServerModule['startCodeServer']>>;
const log = (msg: string) => console.log(`      [data-e2e] ${msg}`);
const ROWS = 63_000;

describe('e2e: dataset viewer, verify and ask in a real VS Code', function () {
  this.timeout(300_000);
  let cs: CodeServerModule;
  let model: FixtureModel;
  let server: Server | undefined;
  let runDir: string;
  let browser: BrowserContext | undefined;
  let page: Page;

  before(async function () {
    cs = await import('../../scripts/codeServer.mjs');
    await cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
    ensureExtensionBuilt(log);
    mkdirSync(ARTIFACTS, { recursive: true });
    model = await startFixtureModel({ chunkDelayMs: 1 });
    runDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-data-e2e-'));
    const workspace = path.join(runDir, 'workspace');
    cpSync(ensureFixtureWorkspace(), workspace, { recursive: true });
    mkdirSync(path.join(workspace, '.vscode'), { recursive: true });
    writeFileSync(
      path.join(workspace, '.vscode', 'settings.json'),
      JSON.stringify(
        {
          'codedance.model.endpoints': [model.baseUrl],
          'codedance.python.interpreter': '/usr/bin/python3',
          'codedance.execution.sandbox': 'off',
          'codedance.execution.approval': 'auto',
          'remote.autoForwardPorts': false,
        },
        null,
        2,
      ),
    );
    const img = circlesImage({ red: 3, blue: 2, seed: 7 }).png;
    const t0 = Date.now();
    // the published card's layout: messages, images, ability, reward_model, extra_info with the image again in tools_kwargs
    await writePublishedRl(path.join(workspace, 'codedance_rl.parquet'), {
      rows: ROWS,
      image: () => img,
      question: (i) => (i === 41_234 ? 'How many red circles are there? (needle)' : `question ${i}`),
      answer: (i) => (i === 41_234 ? '3' : String(i % 10)),
    });
    log(`wrote the ${ROWS}-row RL parquet in ${Date.now() - t0} ms`);
    const input = solidPng(56, 56, [200, 30, 30]);
    const rows = [
      fixtureTrajectory({
        id: 'ok',
        question: 'size?',
        input,
        turns: [{ code: 'print(input_image.size)', stdout: '(56, 56)' }],
        answer: '56',
      }),
      fixtureTrajectory({
        id: 'differs',
        question: 'size?',
        input,
        turns: [{ code: 'print(input_image.size)', stdout: '(100, 100)' }],
        answer: '100',
      }),
      fixtureTrajectory({
        id: 'fails',
        question: 'x?',
        input,
        turns: [{ code: 'print(undefined_name)', stdout: 'hello' }],
        answer: 'hello',
      }),
    ].map((t) => sftRow(t) as unknown as Record<string, unknown>);
    await writeParquetRows({ file: path.join(workspace, 'mini_sft.parquet'), schema: sftSchema(), columns: SFT_COLUMNS, rows });
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
    await openWorkbench(page, server.workbenchUrl(), '[Extension Development Host]', activityBarItem(page, 'CodeDance'));
    // The activity bar item can show before the extension host has registered the extension's
    // contributions; a parquet file double-clicked then opens in the text editor (seen in a
    // fresh-clone run). Wait until the extension is active: its status bar item is there.
    await openViewContainer(page, 'CodeDance');
    await page.locator('.part.statusbar .statusbar-item', { hasText: 'CodeDance:' }).first().waitFor({ timeout: 60_000 });
  });

  after(async function () {
    this.timeout(30_000);
    await browser?.close().catch(() => {});
    await server?.stop();
    keepServerLogs('data', server?.logFile, runDir);
    await model?.close();
    if (runDir) await removeRunDir(runDir, log);
  });

  afterEach(async function () {
    await failureScreenshot('data', page, this.currentTest);
  });

  async function openFile(name: string, selector: string): Promise<Frame> {
    const row = explorerRow(page, name);
    if (!(await row.isVisible())) await activityBarItem(page, 'Explorer').click();
    await row.waitFor({ timeout: 20_000 });
    await row.dblclick();
    return findWebviewFrame(page, selector, 30_000);
  }

  it('opens the 63k-row RL parquet, filters, opens a row and asks about it', async () => {
    const t0 = Date.now();
    const frame = await openFile('codedance_rl.parquet', '.ds-header:has-text("codedance_rl.parquet")');
    await frame.locator('.ds-body-row:not(.loading)').first().waitFor({ timeout: 15_000 });
    log(`first rows visible ${Date.now() - t0} ms after the double click`);
    const head = await frame.locator('.ds-header').innerText();
    assert.match(head, /63,000 rows · parquet · opened in \d+ ms/);
    log(`viewer header: ${head}`);
    assert.ok((await frame.locator('.ds-body-row').count()) < 60, 'only the visible rows are in the DOM');
    await frame.locator('.ds-thumb img').first().waitFor({ timeout: 15_000 });
    await screenshot(page, 'data-viewer.png');
    // scroll far down: the rows there are paged in
    await frame.locator('.ds-scroll').evaluate((e) => (e.scrollTop = 44 * 50_000));
    await frame.locator('.ds-body-row[data-index="50002"]:not(.loading)').waitFor({ timeout: 15_000 });
    // facets arrive from the first pass; filter by data_source, then search
    await frame.locator('select[aria-label="data_source"] option[value="chart"]').waitFor({ state: 'attached', timeout: 60_000 });
    await frame.locator('select[aria-label="data_source"]').selectOption('chart');
    await frame.locator('.ds-status', { hasText: /21000 of 63000 rows match/ }).waitFor({ timeout: 60_000 });
    await frame.locator('select[aria-label="data_source"]').selectOption('');
    await frame.locator('input[aria-label="Search"]').fill('needle');
    await frame.locator('.ds-status', { hasText: /1 of 63000 rows match/ }).waitFor({ timeout: 60_000 });
    await frame.locator('.ds-body-row[data-index="41234"]').click();
    const detail = frame.locator('.ds-detail section.exchange');
    await detail.waitFor({ timeout: 15_000 });
    assert.match(await detail.innerText(), /How many red circles are there\? \(needle\)/);
    await detail.locator('img.thumb').first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'data-row.png');
    await frame.locator('button', { hasText: 'Ask about this row' }).click();
    // the chat's own frame (the viewer's detail holds a section.exchange too)
    const chat = await findWebviewFrame(page, '.compose #question', 30_000);
    const asked = chat.locator('section.exchange', { hasText: '(needle)' }).first();
    await asked.waitFor({ timeout: 30_000 });
    await asked.locator('.question-images img').first().waitFor({ timeout: 10_000 });
    // the fixture model answers: the question really went to the model, with the row's image
    await asked.locator('.answer').first().waitFor({ timeout: 60_000 });
    assert.ok(
      model.chatRequests.some((r) => JSON.stringify(r).includes('(needle)') && JSON.stringify(r).includes('data:image/')),
      'the model got the question and the image',
    );
    // the seed's training reward of the answer against the row's ground truth (3; a math source: 1.2·acc, tool 2×rate), and the call's marker
    await asked.locator('.exchange-reward').waitFor({ timeout: 10_000 });
    assert.equal(
      await asked.locator('.exchange-reward').innerText(),
      'Training reward: reward 1.2 · acc 1 (no judge: normalized match) · format 0 · tool 2 · tool calls 1/1 good',
    );
    assert.equal(await asked.locator('.cell-reward').first().innerText(), 'reward +0');
    await page.waitForTimeout(500);
    await screenshot(page, 'data-ask.png');
  });

  it('verifies a small SFT file from the viewer: reproduces, differs, fails', async () => {
    const frame = await openFile('mini_sft.parquet', '.ds-header:has-text("mini_sft.parquet")');
    await frame.locator('.ds-body-row:not(.loading)').first().waitFor({ timeout: 15_000 });
    await frame.locator('button', { hasText: 'Verify code…' }).click();
    const done = notificationToast(page, /verify done/).first();
    await done.waitFor({ timeout: 120_000 });
    const text = await done.innerText();
    log(`verify: ${text.split('\n')[0]}`);
    assert.match(text, /3 rows, executable 66\.7%, reproduces 33\.3% \(1 differ, 1 fail, 0 invalid\)/);
    await frame.locator('.ds-verify.v-reproduces').waitFor({ timeout: 15_000 });
    assert.deepEqual(await frame.locator('.ds-body-row .ds-verify').allInnerTexts(), ['reproduces', 'differs', 'fails']);
    await frame.locator('select[aria-label="Verify status"]').selectOption('differs');
    await frame.locator('.ds-status', { hasText: /1 of 3 rows match/ }).waitFor({ timeout: 15_000 });
    // the differing row says where and what: turn 1's text, recorded vs replayed
    await frame.locator('.ds-body-row[data-index="1"]').click();
    const box = frame.locator('.ds-detail .ds-verify-box');
    await box.waitFor({ timeout: 15_000 });
    const t = await box.innerText();
    assert.match(t, /Verify: differs/);
    assert.match(t, /turn 1: text differs/);
    assert.match(t, /recorded: Output: \(100, 100\)/);
    assert.match(t, /replayed: Output: \(56, 56\)/);
    await frame.locator('.ds-detail section.exchange pre').first().waitFor({ timeout: 10_000 });
    // the seed's reward for the row (the eval's tool_step code) and a per-call marker on its cell
    assert.match(await frame.locator('.ds-detail .ds-reward').innerText(), /tool_success_rate 1 · tool_step \[0, 0\]/);
    assert.equal(await frame.locator('.ds-detail details.cell summary .ds-step').count(), 1);
    await screenshot(page, 'data-verify.png');
  });

  it('a second chat with a failing call (Edit & re-run): its −0.5 marker; both chats exported as SFT parquet and read back', async () => {
    // the conversation from "Ask about this row", forked with code that fails: a second saved conversation
    await openViewContainer(page, 'CodeDance'); // the verify step left the Explorer in the side bar
    const chat = await findWebviewFrame(page, '.compose #question', 30_000);
    const first = chat.locator('section.exchange', { hasText: '(needle)' }).first();
    await first.evaluate((e) => e.setAttribute('data-before-fork', ''));
    await first.locator('.cell [data-action="fork"]').first().click();
    await first.locator('.fork-editor textarea').fill('print(undefined_name)');
    await first.locator('.fork-editor vscode-button[data-action="fork-run"]').click();
    const forked = chat.locator('section.exchange:not([data-before-fork])', { hasText: '(needle)' }).first();
    await forked.locator('.exchange-reward').waitFor({ timeout: 60_000 });
    assert.equal(await forked.locator('.cell-reward.bad').first().innerText(), 'reward -0.5', 'the failed call scores −0.5 (tool_step)');
    assert.equal(
      await forked.locator('.exchange-reward').innerText(),
      'Training reward: reward 0 · acc 0 (no judge: normalized match) · format 0 · tool 0 · tool calls 0/1 good',
      'the fork keeps the row’s ground truth; "unknown" is wrong',
    );
    await forked.locator('.cell-reward.bad').first().scrollIntoViewIfNeeded();
    await screenshot(page, 'data-chat-reward.png');
    // both conversations saved (the panel's History list has them, the fork active)
    await chat.waitForFunction(
      () => document.querySelectorAll('.history-list li').length === 2 && !!document.querySelector('.history-list li.active'),
      undefined,
      { timeout: 15_000 },
    );

    // "Export Chats as Training Data" (the chat's menu): the conversation on screen is checked; check the other one too
    await runCommand(page, 'Export Chats as Training Data');
    const quick = page.locator('.quick-input-widget');
    await quick.locator('.monaco-list-row[aria-checked="true"]', { hasText: /needle/ }).waitFor({ timeout: 15_000 });
    await quick
      .locator('.monaco-list-row[aria-checked="false"]', { hasText: /needle/ })
      .first()
      .click(); // a click toggles its check box
    await page.waitForFunction(
      () => document.querySelectorAll('.quick-input-widget .monaco-list-row[aria-checked="true"]').length === 2,
      undefined,
      { timeout: 5000 },
    );
    await page.keyboard.press('Enter');
    await quick.locator('.monaco-list-row', { hasText: 'CodeDance-SFT' }).waitFor({ timeout: 15_000 });
    await page.keyboard.press('Enter');
    // the save dialog (code-server's simple dialog: the path prefilled)
    const input = quick.locator('input');
    await page.waitForFunction(
      () =>
        /codedance_sft_export\.parquet$/.test(
          (document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value ?? '',
        ),
      undefined,
      { timeout: 15_000 },
    );
    log(`save as: ${await input.inputValue()}`);
    await page.keyboard.press('Enter');
    const done = notificationToast(page, /wrote 2 CodeDance-SFT row/).first();
    await done.waitFor({ timeout: 30_000 });
    await screenshot(page, 'data-export.png');
    const out = path.join(runDir, 'workspace', 'codedance_sft_export.parquet');
    const rows = [];
    for await (const r of readParquetRows(out)) rows.push(r.row);
    assert.equal(rows.length, 2);
    const tools = rows
      .map((r) => (r.messages as { role: string; content: string }[]).find((m) => m.content.startsWith('<tool_response>'))!.content)
      .sort();
    for (const r of rows) {
      const msgs = r.messages as { role: string; content: string }[];
      assert.deepEqual(msgs.map((m) => m.role).slice(0, 3), ['system', 'user', 'assistant']);
      assert.match(msgs[1].content, /^<image>How many red circles are there\? \(needle\)/);
      assert.equal((r.images as Uint8Array[]).length, 1);
    }
    assert.match(tools[0], /^<tool_response>--- Execution Error \(Error\) ---\nNameError: name 'undefined_name' is not defined/);
    assert.match(tools[1], /^<tool_response>Output:\nred_count = 3/);
    // and back in the editor: "Open" shows the file in the dataset viewer, its rows rendered as trajectories
    await done.locator('.monaco-button', { hasText: 'Open' }).click();
    const viewer = await findWebviewFrame(page, '.ds-header:has-text("codedance_sft_export.parquet")', 30_000);
    assert.match(await viewer.locator('.ds-header').innerText(), /2 rows · parquet/);
    await viewer.locator('.ds-body-row[data-index="1"]:not(.loading)').click();
    await viewer.locator('.ds-detail section.exchange pre').first().waitFor({ timeout: 15_000 });
    await screenshot(page, 'data-export-viewer.png');
  });
});
