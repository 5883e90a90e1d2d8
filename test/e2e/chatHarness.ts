/**
 * The chat e2e's setup and helpers: code-server with the extension under development, the fixture
 * model, a chromium browser whose every request is recorded, and the panel's common moves.
 */
import * as assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BrowserContext, ConsoleMessage, Frame, Page } from 'playwright-core';
import { startFixtureModel, type FixtureModel } from '../fixtures/fixtureModel';
import { ensureExtensionBuilt, ROOT } from './build';
import { ensureFixtureWorkspace } from './fixtures/images';
import {
  activityBarItem,
  ARTIFACTS,
  findWebviewFrame,
  openViewContainer,
  openWorkbench,
  paneHeader,
  removeRunDir,
  screenshot,
  workbenchSettled,
} from './workbench';

type CodeServerModule = typeof import('../../scripts/codeServer.mjs');
export type Server = Awaited<ReturnType<CodeServerModule['startCodeServer']>>;

export const DEV_HOST_TITLE = '[Extension Development Host]';
export const log = (msg: string) => console.log(`      [chat-e2e] ${msg}`);

/** The model runs exactly the code of a ```python block in the question and answers with its last printed line. */
export const withCode = (question: string, code: string) => `${question}\n\`\`\`python\n${code}\n\`\`\``;

export const PLOT_CODE = [
  'import numpy as np',
  'import matplotlib',
  'import matplotlib.pyplot as plt',
  "img = np.asarray(input_image.convert('RGB')).astype(int)",
  'mask = np.abs(img - np.array([220, 30, 30])).sum(axis=2) < 80',
  'plt.figure(figsize=(3, 2.4))',
  "plt.imshow(mask, cmap='gray')",
  "plt.title('red pixels')",
  'plt.show()',
  "print('red_pixels =', int(mask.sum()))",
].join('\n');

/** Printed by the model's code, then shown as its answer (markdown): must render inert. */
export const HOSTILE_LINE =
  '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2"> [click](javascript:window.__pwned=3) ![remote](http://evil.example.com/pixel.png) <a href="http://evil.example.com" onclick="window.__pwned=4">x</a> **bold**';

/** Installs extension folders into a server's extensions folder (as `publisher.name-version`, found at its first start). */
function installExtensions(extensionsDir: string, extensions: string[]): void {
  for (const e of extensions) {
    const { publisher, name, version } = JSON.parse(readFileSync(path.join(e, 'package.json'), 'utf8')) as {
      publisher: string;
      name: string;
      version: string;
    };
    cpSync(e, path.join(extensionsDir, `${publisher}.${name}-${version}`), { recursive: true });
  }
}

export class ChatE2E {
  cs!: CodeServerModule;
  model!: FixtureModel;
  server?: Server;
  runDir!: string;
  workspace!: string;
  page!: Page;
  /** every URL any page or worker of the UI browser asked for */
  readonly requests: string[] = [];
  /** the browsers' console (pages, frames, service workers) since the last test began: a failure's post-mortem */
  private readonly consoleLines: string[] = [];
  private readonly browsers: BrowserContext[] = [];

  /** Registers the suite's hooks: one code-server and browser for all its tests. */
  /** `settings`: over the workspace's defaults; `viewport`: the browser window (default 1400×900) */
  /** `extensions`: further extension folders installed beside CodeDance (test stand-ins of other extensions) */
  hooks(
    opts: {
      settings?: Record<string, unknown>;
      userSettings?: Record<string, unknown>;
      viewport?: { width: number; height: number };
      extensions?: () => Promise<string[]>;
    } = {},
  ): void {
    before(async () => {
      this.cs = await import('../../scripts/codeServer.mjs');
      await this.cs.ensureCodeServer({ log: (m: string) => log(`code-server: ${m}`) });
      ensureExtensionBuilt(log);
      mkdirSync(ARTIFACTS, { recursive: true });
      this.model = await startFixtureModel({ chunkDelayMs: 2 });
      this.runDir = mkdtempSync(path.join(os.tmpdir(), 'codedance-chat-e2e-'));
      this.workspace = this.writeWorkspace(path.join(this.runDir, 'workspace'), {
        'codedance.model.endpoints': [this.model.baseUrl],
        'codedance.python.interpreter': '/usr/bin/python3',
        'codedance.execution.approval': 'auto',
        'codedance.execution.timeoutSeconds': 60,
        ...opts.settings,
      });
      if (opts.extensions) installExtensions(path.join(this.runDir, 'server', 'exts'), await opts.extensions());
      this.server = await this.cs.startCodeServer({
        workspace: this.workspace,
        extensionDevelopmentPath: ROOT,
        runDir: path.join(this.runDir, 'server'),
        settings: { 'workbench.colorTheme': 'Default Dark Modern', ...opts.userSettings },
        log: (m: string) => log(`code-server: ${m}`),
      });
      const browser = await this.newBrowser('ui', opts.viewport);
      this.page = browser.pages()[0] ?? (await browser.newPage());
      await openWorkbench(this.page, this.server.workbenchUrl(), DEV_HOST_TITLE, activityBarItem(this.page, 'CodeDance'));
    });

    const self = this;
    after(async function (this: Mocha.Context) {
      this.timeout(30_000);
      for (const b of self.browsers) await b.close().catch(() => {});
      await self.server?.stop();
      if (self.server) cpSync(self.server.logFile, path.join(ARTIFACTS, 'chat-code-server.log'));
      // the window's logs (extension host, the extension's own channel) for a failure's post-mortem
      const logs = self.runDir && path.join(self.runDir, 'server', 'udd', 'logs');
      if (logs && existsSync(logs))
        cpSync(logs, path.join(ARTIFACTS, `chat-window-logs-${path.basename(self.runDir!)}`), { recursive: true });
      await self.model?.close();
      if (self.runDir) await removeRunDir(self.runDir, log);
    });

    beforeEach(() => {
      self.consoleLines.length = 0;
    });
    afterEach(async function (this: Mocha.Context) {
      if (this.currentTest?.state === 'failed' && self.page) {
        const name = `chat-failed-${this.currentTest.title
          .replace(/[^a-z0-9]+/gi, '-')
          .toLowerCase()
          .slice(0, 60)}`;
        await screenshot(self.page, `${name}.png`).catch(() => {});
        writeFileSync(path.join(ARTIFACTS, `${name}.console.log`), self.consoleLines.join('\n'));
      }
    });
  }

  async newBrowser(name: string, viewport?: { width: number; height: number }): Promise<BrowserContext> {
    const browser = await this.cs.launchBrowser({ userDataDir: path.join(this.runDir, `chromium-${name}`), viewport });
    this.browsers.push(browser);
    browser.on('request', (r) => this.requests.push(r.url()));
    const keep = (from: string) => (m: ConsoleMessage) =>
      this.consoleLines.push(`${new Date().toISOString()} ${from} ${m.type()}: ${m.text().slice(0, 500)}`);
    browser.on('console', keep(name));
    browser.on('serviceworker', (w) => w.on('console', keep(`${name} service worker ${w.url().replace(/\?.*/, '')}`)));
    return browser;
  }

  writeWorkspace(dir: string, settings: Record<string, unknown>): string {
    cpSync(ensureFixtureWorkspace(), dir, { recursive: true });
    mkdirSync(path.join(dir, '.vscode'), { recursive: true });
    writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
    return dir;
  }

  chatFrame(p: Page = this.page, timeoutMs = 30_000): Promise<Frame> {
    return findWebviewFrame(p, 'body:not(.chat-moved) .compose #question', timeoutMs);
  }

  /** Sets the color theme in the user settings file; the workbench reads it when it loads. */
  setThemeSetting(theme: string): void {
    const file = path.join(this.runDir, 'server', 'udd', 'User', 'settings.json');
    const cur = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...cur, 'workbench.colorTheme': theme }, null, 2));
  }

  /** Sets the approval mode from the view's overflow menu (to `auto` VS Code asks for confirmation). */
  async setApproval(frame: Frame, mode: 'always' | 'auto'): Promise<void> {
    const shown = frame.locator(`.status-line [data-approval-mode="${mode}"]`);
    if (await shown.count()) return;
    await viewAction(this.page, mode === 'always' ? 'Ask Before Running Code' : 'Run Code Without Asking');
    if (mode === 'auto') {
      const dialog = this.page.locator('.monaco-dialog-box');
      await dialog.waitFor({ timeout: 10_000 });
      await dialog.locator('.monaco-button', { hasText: 'Run without asking' }).click();
    }
    await shown.waitFor({ timeout: 10_000 });
  }
}

/** Shows the CodeDance container; right after a load the restored layout can toggle it shut once. */
export async function showCodeDance(p: Page): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await openViewContainer(p, 'CodeDance');
      await paneHeader(p, 'Chat').waitFor({ timeout: 10_000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      await p.waitForTimeout(1000);
    }
  }
}

/** Types a question and sends it with Enter; fails saying which step did not happen. */
export async function ask(frame: Frame, text: string): Promise<void> {
  const input = frame.locator('#question');
  // Into the box with a click first, as a user does. Focused by script only (New Chat reveals
  // the view and the panel focuses its box), the box had the DOM focus in every frame of the
  // chain, yet Chromium delivered the typed text to no frame at all in about 1 run in 10: no
  // beforeinput or input event anywhere, the box empty; after a click into the box the same fill worked.
  await input.click();
  await input.fill(text);
  const typed = await input.inputValue();
  if (typed !== text)
    assert.fail(
      `the question did not reach the input box (it holds ${JSON.stringify(typed.slice(0, 40))}); where the focus was: ${await focusReport(frame.page())}`,
    );
  await input.press('Enter');
  // the panel clears the box when it sends the question (not when it refuses: a run in progress)
  await frame
    .waitForFunction(() => (document.querySelector('#question') as HTMLTextAreaElement | null)?.value === '', undefined, { timeout: 5000 })
    .catch(() => {
      throw new Error('the panel did not send the question: Enter left it in the input box (a run still in progress?)');
    });
}

/** Which frame and element have the focus (for a failure message). */
async function focusReport(page: Page): Promise<string> {
  const parts: string[] = [];
  for (const f of page.frames()) {
    const r = await f
      .evaluate(() => {
        const a = document.activeElement;
        return `${document.hasFocus() ? 'FOCUSED ' : ''}${a ? `${a.tagName.toLowerCase()}${a.id ? `#${a.id}` : ''}${typeof a.className === 'string' && a.className ? `.${a.className.split(' ').slice(0, 2).join('.')}` : ''}` : 'none'}${(a as HTMLTextAreaElement | null)?.value ? ` value=${JSON.stringify((a as HTMLTextAreaElement).value.slice(0, 30))}` : ''}`;
      })
      .catch((e: Error) => `(${e.message.slice(0, 40)})`);
    parts.push(`${f === page.mainFrame() ? 'workbench' : f.url().slice(0, 60)}: ${r}`);
  }
  return parts.join('; ');
}

/** the n-th exchange (0-based) of the conversation shown */
export const exchange = (frame: Frame, n: number) => frame.locator(`section.exchange[data-index="${n}"]`);

/**
 * A chat action from the Chat view's title bar: its icon when it has one, else the "More
 * Actions..." overflow menu (the header shows its actions while the pointer is over it).
 */
export async function viewAction(page: Page, title: string, where: 'view' | 'editor' = 'view'): Promise<void> {
  const bar =
    where === 'view'
      ? paneHeader(page, 'Chat')
      : page
          .locator('.part.editor .editor-group-container', { has: page.locator('.tab.active', { hasText: 'CodeDance Chat' }) })
          .locator('.editor-actions');
  // The panel's state has arrived (its status line shows the approval mode): the extension sets
  // the menus' context keys just before it sends that state, and a context key that changes
  // while the overflow menu is open re-renders the title bar and closes the menu (seen after a
  // window reload: the menu item detached under the click).
  await findWebviewFrame(page, '.status-line [data-approval-mode]', 30_000);
  await bar.hover();
  const icon = bar.locator(`.actions-container .action-label[aria-label^="${title}"]`);
  if (await icon.count()) {
    await icon.first().click();
    return;
  }
  // Opened before VS Code's last startup phase, the menu is disposed under the click when that
  // phase registers a setting and the title bars re-render (workbenchSettled); after a window
  // reload a test gets here within that window about one time in four.
  await workbenchSettled(page);
  // tsx compiles named inner functions with an `__name(fn, name)` helper the page lacks
  await page.evaluate('globalThis.__name ??= (f) => f');
  await page.evaluate(recordMenuLife);
  await bar.locator('.actions-container .action-label[aria-label^="More Actions"]').click();
  const menu = page.locator('.context-view .monaco-menu');
  await menu.waitFor({ timeout: 5000 });
  await page.waitForTimeout(150); // VS Code arms menu items 100 ms after rendering
  try {
    await menu.locator('.action-item .action-label', { hasText: title }).first().click({ timeout: 10_000 });
  } catch (e) {
    const life = await page.evaluate(() => (window as unknown as { __menuLife?: string[] }).__menuLife ?? []);
    throw new Error(`${(e as Error).message}\nwhat happened around the menu:\n${life.join('\n')}`);
  } finally {
    await page.evaluate(() => (window as unknown as { __menuLifeOff?: () => void }).__menuLifeOff?.());
  }
}

/**
 * Records, in the page, what can close an open menu (for the failure message): focus moves,
 * window blur, menus and title bar items added or removed.
 */
function recordMenuLife(): void {
  const w = window as unknown as { __menuLife?: string[]; __menuLifeOff?: () => void };
  w.__menuLifeOff?.();
  const life: string[] = (w.__menuLife = []);
  const t0 = performance.now();
  const describe = (n: EventTarget | null): string => {
    if (!(n instanceof Element)) return String(n);
    return `${n.tagName.toLowerCase()}${n.id ? `#${n.id}` : ''}${n.className && typeof n.className === 'string' ? `.${n.className.trim().split(/\s+/).slice(0, 3).join('.')}` : ''}`;
  };
  const note = (what: string) =>
    life.push(`${(performance.now() - t0).toFixed(0)} ms ${what} (active: ${describe(document.activeElement)})`);
  const onBlur = () => note('window blur');
  const onFocusIn = (e: FocusEvent) => note(`focusin ${describe(e.target)}`);
  const onDown = (e: MouseEvent) => note(`mousedown ${describe(e.target)}`);
  window.addEventListener('blur', onBlur);
  document.addEventListener('focusin', onFocusIn, true);
  document.addEventListener('mousedown', onDown, true);
  const mo = new MutationObserver((records) => {
    for (const r of records) {
      for (const n of Array.from(r.removedNodes))
        if (n instanceof Element && (n.matches('.monaco-menu-container, .action-item') || n.querySelector('.monaco-menu')))
          note(`removed ${describe(n)} from ${describe(r.target)}`);
      for (const n of Array.from(r.addedNodes))
        if (n instanceof Element && (n.matches('.monaco-menu-container') || n.querySelector('.monaco-menu')))
          note(`added ${describe(n)} to ${describe(r.target)}`);
    }
  });
  mo.observe(document.body, { childList: true, subtree: true });
  w.__menuLifeOff = () => {
    window.removeEventListener('blur', onBlur);
    document.removeEventListener('focusin', onFocusIn, true);
    document.removeEventListener('mousedown', onDown, true);
    mo.disconnect();
  };
}

/** New chat from the view's title icon: each scenario is its own conversation (the fixture model reads the first question only). */
export async function newChat(frame: Frame): Promise<void> {
  await viewAction(frame.page(), 'New Chat');
  await frame.waitForFunction(() => document.querySelectorAll('section.exchange').length === 0, undefined, { timeout: 10_000 });
}

/** nbformat (Debian's python3-nbformat) reads and validates a notebook; stdout: its cells, streamed text and PNG outputs as JSON */
export function nbformatSummary(file: string): SpawnSyncReturns<string> {
  return spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      [
        'import json, sys, nbformat',
        'nb = nbformat.read(sys.argv[1], as_version=4)',
        'nbformat.validate(nb)',
        'outs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]',
        'text = "".join(o.get("text", "") for o in outs if o.output_type == "stream")',
        'pngs = sum(1 for o in outs if "image/png" in o.get("data", {}))',
        'print(json.dumps({"cells": len(nb.cells), "text": text, "pngs": pngs}))',
      ].join('\n'),
      file,
    ],
    { encoding: 'utf8' },
  );
}
