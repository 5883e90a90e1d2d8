/** Playwright helpers for VS Code's web workbench (code-server 4.100 = VS Code 1.100). */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';

export const ARTIFACTS = path.resolve(__dirname, '.artifacts');

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  return file;
}

/**
 * Keeps what a failure's post-mortem needs from a suite's code-server: its log and the window's
 * logs (extension host, the extension's own channel), as `<name>-code-server.log` and
 * `<name>-window-logs/` in the artifacts.
 */
export function keepServerLogs(name: string, serverLog: string | undefined, runDir: string | undefined): void {
  if (serverLog) cpSync(serverLog, path.join(ARTIFACTS, `${name}-code-server.log`));
  const logs = runDir && path.join(runDir, 'server', 'udd', 'logs');
  if (logs && existsSync(logs)) cpSync(logs, path.join(ARTIFACTS, `${name}-window-logs`), { recursive: true });
}

/** The screenshot a suite's afterEach takes of a failed test: `<name>-failed-<title>.png`. */
export async function failureScreenshot(
  name: string,
  page: Page | undefined,
  test: { state?: string; title: string } | undefined,
): Promise<void> {
  if (test?.state !== 'failed' || !page) return;
  await screenshot(
    page,
    `${name}-failed-${test.title
      .replace(/[^a-z0-9]+/gi, '-')
      .toLowerCase()
      .slice(0, 50)}.png`,
  ).catch(() => {});
}

/**
 * Opens the workbench and waits until it is laid out, titled `titleIncludes`, and `ready` (e.g.
 * a contribution of the extension) is visible. Returns seconds from navigation to ready.
 */
export async function openWorkbench(page: Page, url: string, titleIncludes: string, ready?: Locator): Promise<number> {
  const t0 = performance.now();
  await page.goto(url);
  await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 30_000 });
  await page.waitForFunction((text) => document.title.includes(text), titleIncludes, { timeout: 30_000 });
  await ready?.waitFor({ timeout: 30_000 });
  return (performance.now() - t0) / 1000;
}

const activityLabel = (label: string) => `a.action-label[aria-label^="${label}"]`;

export function activityBarItem(page: Page, label: string): Locator {
  return page.locator(`.part.activitybar .action-item ${activityLabel(label)}`);
}

export function paneHeader(page: Page, title: string): Locator {
  return page.locator('.part.sidebar .pane-header', { has: page.locator('h3.title', { hasText: new RegExp(`^${title}$`, 'i') }) });
}

/** Shows a view container from the activity bar (clicking an already shown one would hide it). */
export async function openViewContainer(page: Page, label: string): Promise<void> {
  const tab = activityBarItem(page, label).locator('xpath=..'); // li.action-item[role=tab]
  await tab.waitFor({ timeout: 20_000 });
  if ((await tab.getAttribute('aria-expanded')) !== 'true') await activityBarItem(page, label).click();
  await page
    .locator('.part.activitybar li.action-item[aria-expanded="true"]', { has: page.locator(activityLabel(label)) })
    .waitFor({ timeout: 10_000 });
}

/**
 * A webview's content frame: webviews are nested iframes (iframe.webview.ready → #active-frame),
 * and webview *views* sit in an overlay outside their pane, so find the frame by its content.
 */
export async function findWebviewFrame(page: Page, selector: string, timeoutMs = 15_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      // a frame between navigations can keep a query waiting for its document: give each 2 s
      const found = await Promise.race([frame.$(selector).catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
      if (found) return frame;
    }
    await page.waitForTimeout(200);
  }
  throw new Error(`no webview frame with ${selector} within ${timeoutMs / 1000} s`);
}

/**
 * Waits until VS Code has created its last ("Eventually") workbench contributions, which it does
 * when the window first goes idle after a load (about 3-5 s). One of them registers a setting
 * (`window.newWindowProfile`); the `config.*` context keys change and every title bar re-renders
 * 50 ms later (the menus' debounce), disposing an overflow menu that is open at that moment.
 * VS Code marks the phase's end (`performance.mark`); 250 ms past it the re-render is done.
 */
export async function workbenchSettled(page: Page, timeoutMs = 30_000): Promise<void> {
  await page.waitForFunction(
    () => {
      const done = performance.getEntriesByName('code/didCreateWorkbenchContributions/4')[0];
      return !!done && performance.now() - done.startTime > 250;
    },
    undefined,
    { timeout: timeoutMs, polling: 50 },
  );
}

/** Waits until VS Code's image preview (a webview) shows its image, so a screenshot has it. */
export async function imagePreviewShown(page: Page): Promise<void> {
  const frame = await findWebviewFrame(page, 'body.ready img', 30_000).catch(async (e: Error) => {
    const seen = await Promise.all(
      page
        .frames()
        .map(
          async (f) =>
            `${f.url().replace(/\?.*/, '').slice(-60)} body.${await f.evaluate(() => document.body?.className).catch((x: Error) => `? ${x.message.slice(0, 80)}`)}`,
        ),
    );
    throw new Error(`${e.message}; frames: ${seen.join(' | ')}`);
  });
  await frame.waitForFunction(() => [...document.images].some((i) => i.complete && i.naturalWidth > 0), undefined, { timeout: 10_000 });
}

/**
 * Before a window reload in code-server: leaves one webview to restore. Webviews that load
 * together can race for code-server's one shared service-worker registration and one of them
 * stays blank for good (test/e2e/README.md, "Blank webviews"); a reload restores every open
 * webview editor and the visible webview view at once. Closes the editors (or, `keep: 'editors'`,
 * shows the Explorer in the side bar instead of a webview view). Not for a window with a dirty
 * editor (an untitled one): closing it asks to save.
 */
export async function leaveOneWebviewForReload(page: Page, keep?: 'editors'): Promise<void> {
  if (keep === 'editors') await openViewContainer(page, 'Explorer');
  else await runCommand(page, 'View: Close All Editor Groups');
}

const quickInput = (page: Page) => page.locator('.quick-input-widget');

/**
 * Runs a command from the command palette: F1, type `>title`, wait for the row, Enter. Contributed
 * commands show up once the extension host has the manifest; retry until then.
 */
export async function runCommand(
  page: Page,
  title: string,
  {
    timeoutMs = 30_000,
    beforeEnter,
  }: {
    timeoutMs?: number;
    beforeEnter?: () => Promise<unknown>;
  } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    const input = quickInput(page).locator('input');
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    const row = quickInput(page)
      .locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: title }) })
      .first();
    try {
      await row.waitFor({ timeout: 3000 });
      await beforeEnter?.();
      await page.keyboard.press('Enter');
      await quickInput(page)
        .waitFor({ state: 'hidden', timeout: 5000 })
        .catch(() => {});
      return;
    } catch (err) {
      await page.keyboard.press('Escape');
      if (Date.now() > deadline) {
        throw new Error(`command "${title}" not found in the command palette after ${attempt} attempts: ${(err as Error).message}`);
      }
      await page.waitForTimeout(500);
    }
  }
}

/** Opens a workspace file in an editor through Go to File (quick open) and waits until its editor has the focus. */
export async function openFile(page: Page, name: string): Promise<void> {
  await runCommand(page, 'Go to File...');
  await quickInput(page).locator('input').fill(name);
  await quickInput(page)
    .locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: name }) })
    .first()
    .waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  await page.locator('.tabs-container .tab.active', { hasText: name }).waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => !!document.activeElement?.closest('.monaco-editor'), undefined, { timeout: 10_000 });
}

/**
 * Waits until `text` shows up in a notification toast or in any webview (wherever the extension
 * chooses to answer); returns where it was found.
 */
export async function waitForTextInUi(page: Page, text: string, timeoutMs = 15_000): Promise<'notification' | 'webview'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await notificationToast(page, text).count()) return 'notification';
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      const body = await frame
        .locator('body')
        .innerText({ timeout: 500 })
        .catch(() => '');
      if (body.includes(text)) return 'webview';
    }
    await page.waitForTimeout(200);
  }
  throw new Error(`"${text}" did not appear in a notification or a webview within ${timeoutMs / 1000} s`);
}

/**
 * The text of a notification: its toast, or, when VS Code raised it without a toast (its toasts
 * are rate-limited and stacked, and the center keeps every notification), the notification
 * center's entry. Throws when neither shows it within timeoutMs.
 */
export async function waitForNotification(page: Page, text: RegExp, timeoutMs = 30_000): Promise<string> {
  const toast = notificationToast(page, text).first();
  const inCenter = page.locator('.notifications-center .notification-list-item', { hasText: text }).first();
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const found = await toast.waitFor({ timeout: attempt === 0 ? Math.min(10_000, timeoutMs) : 3000 }).then(
      () => toast,
      () => undefined,
    );
    if (found) return found.innerText();
    await runCommand(page, 'Notifications: Show Notifications');
    const listed = await inCenter.waitFor({ timeout: 2000 }).then(
      () => inCenter,
      () => undefined,
    );
    const got = listed && (await listed.innerText());
    await runCommand(page, 'Notifications: Hide Notifications').catch(() => {});
    if (got) {
      console.log(`      [e2e] ${text} was read from the notification center (no toast)`);
      return got;
    }
    if (Date.now() > deadline)
      throw new Error(`no notification matching ${text} (toast or notification center) within ${timeoutMs / 1000} s`);
  }
}

/** A notification toast, once its fade-in finished (so that screenshots show it). */
export function notificationToast(page: Page, text: string | RegExp): Locator {
  return page.locator('.notifications-toasts .notification-toast.notification-fade-in-done', { hasText: text });
}

export function explorerRow(page: Page, fileName: string): Locator {
  return page.locator('.explorer-folders-view .monaco-list-row', {
    has: page.locator('.label-name', { hasText: new RegExp(`^${fileName.replace(/\./g, '\\.')}$`) }),
  });
}

/** Right-clicks an explorer row and returns the context menu. */
export async function explorerContextMenu(page: Page, fileName: string): Promise<Locator> {
  const row = explorerRow(page, fileName);
  await row.waitFor({ timeout: 15_000 });
  await row.click({ button: 'right' });
  const menu = page.locator('.context-view .monaco-menu');
  await menu.waitFor({ timeout: 5000 });
  // VS Code arms a menu item's mouseup handler 100 ms after rendering it (so the release of the
  // right click cannot pick an item): a click sooner than that is silently ignored.
  await page.waitForTimeout(150);
  return menu;
}

export function menuItem(menu: Locator, label: string): Locator {
  return menu.locator('.action-item .action-label', { hasText: new RegExp(`^${label}$`) });
}

/**
 * Removes a test's run folder. Processes that outlive the server for a moment (orphaned kernels
 * removing their folders) can make one pass fail with ENOTEMPTY: try again, and say what was left.
 */
export async function removeRunDir(dir: string, log: (m: string) => void = () => {}): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true });
      return;
    } catch (e) {
      const left = (() => {
        try {
          return readdirSync(dir, { recursive: true }).slice(0, 12).join(', ');
        } catch {
          return '?';
        }
      })();
      const procs = (() => {
        try {
          return execFileSync('pgrep', ['-af', dir], { encoding: 'utf8' }).trim().split('\n').slice(0, 5).join(' | ');
        } catch {
          return 'none';
        }
      })();
      const what = `${(e as Error).message}; left: ${left}; processes: ${procs}`;
      if (attempt >= 10) throw new Error(what);
      log(`removing the run folder, attempt ${attempt}: ${what}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
