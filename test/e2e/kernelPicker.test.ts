/**
 * e2e (issue 12 §1, §3): "CodeDance: Select Kernel" in a real VS Code → Add Jupyter Server (URL,
 * token) → its kernelspec; the status bar shows the choice, and a chat question's code runs in a
 * kernel on that real Jupyter Server (test/fixtures/jupyterServer.ts), not in a local one.
 */
import { strict as assert } from 'node:assert';
import type { Page } from 'playwright-core';
import { type JupyterServerFixture, startJupyterServer } from '../fixtures/jupyterServer';
import { ask, ChatE2E, exchange, log, showCodeDance, withCode } from './chatHarness';
import { runCommand, screenshot } from './workbench';

const quick = (page: Page) => page.locator('.quick-input-widget');

async function pick(page: Page, text: string | RegExp): Promise<void> {
  const row = quick(page).locator('.monaco-list-row', { hasText: text }).first();
  await row.waitFor({ timeout: 20_000 });
  await row.click();
}

/** types into the input box titled `title` (VS Code reuses one widget: wait for the right one) */
async function typeAndEnter(page: Page, title: string, value: string): Promise<void> {
  await quick(page).locator('.quick-input-title', { hasText: title }).waitFor({ timeout: 20_000 });
  const input = quick(page).locator('input');
  await input.waitFor({ timeout: 20_000 });
  await input.fill(value);
  await page.keyboard.press('Enter');
}

async function kernelIds(srv: JupyterServerFixture): Promise<string[]> {
  const r = await fetch(`${srv.url}api/kernels?token=${srv.token}`);
  return ((await r.json()) as Array<{ id: string }>).map((k) => k.id);
}

describe('e2e: Select Kernel → a Jupyter server → the chat runs its code there', function () {
  this.timeout(300_000);
  const h = new ChatE2E();
  h.hooks();
  let srv: JupyterServerFixture;
  before(async () => (srv = await startJupyterServer()));
  after(async () => srv?.stop());

  it('adds the server (token kept secret), picks its kernelspec, shows it, and answers through it', async () => {
    await runCommand(h.page, 'CodeDance: Select Kernel');
    await pick(h.page, 'Add Jupyter Server');
    await typeAndEnter(h.page, 'Jupyter server URL', srv.url);
    await typeAndEnter(h.page, 'Jupyter server token', srv.token);
    // two Python kernelspecs on the fixture server: the default and one without numpy/PIL
    await pick(h.page, 'python3 (default)');
    const item = h.page.locator('.statusbar-item', { hasText: `CodeDance: python3 on ${srv.url}` });
    await item.waitFor({ timeout: 20_000 });
    await screenshot(h.page, 'kernel-picker-status.png');

    await showCodeDance(h.page);
    const frame = await h.chatFrame();
    // kernels that jupyter_client starts carry JPY_PARENT_PID; CodeDance's local kernels do not
    await ask(frame, withCode('Where does the code run?', 'import os\nprint("via_server =", "JPY_PARENT_PID" in os.environ)'));
    const answer = exchange(frame, 0).locator('.answer');
    await answer.waitFor({ timeout: 90_000 });
    const text = await answer.innerText();
    log(`answer: ${text}`);
    assert.match(text, /via_server = True/);
    assert.equal((await kernelIds(srv)).length, 1, "the conversation's kernel lives on the server");
    await screenshot(h.page, 'kernel-picker-answer.png');
  });
});
