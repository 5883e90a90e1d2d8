/**
 * e2e: the chat panel in a real VS Code (code-server + Debian chromium) whose workspace is not
 * trusted (Workspace Trust on): it refuses to run code, says why and sends nothing to the fixture
 * model. The trusted workspace's chat: chat.test.ts. Screenshot: test/e2e/.artifacts/chat-untrusted-light.png.
 */
import * as assert from 'node:assert/strict';
import path from 'node:path';
import { ROOT } from './build';
import { ask, ChatE2E, DEV_HOST_TITLE, log, showCodeDance } from './chatHarness';
import { activityBarItem, openWorkbench, screenshot } from './workbench';

describe('e2e: the chat panel in a real VS Code', function () {
  this.timeout(300_000);
  const h = new ChatE2E();
  h.hooks();
  const chatFrame = (...args: Parameters<ChatE2E['chatFrame']>) => h.chatFrame(...args);

  it('an untrusted workspace refuses to run code and says why', async () => {
    const untrusted = h.writeWorkspace(path.join(h.runDir, 'untrusted'), {
      'codedance.model.endpoints': [h.model.baseUrl],
      'codedance.python.interpreter': '/usr/bin/python3',
      'codedance.execution.approval': 'auto',
    });
    const s2 = await h.cs.startCodeServer({
      workspace: untrusted,
      extensionDevelopmentPath: ROOT,
      trust: true,
      runDir: path.join(h.runDir, 'server-untrusted'),
      settings: { 'workbench.colorTheme': 'Default Light Modern' },
      log: (m: string) => log(`code-server (trust on): ${m}`),
    });
    try {
      const b = await h.newBrowser('untrusted');
      const p = b.pages()[0] ?? (await b.newPage());
      await openWorkbench(p, s2.workbenchUrl(), DEV_HOST_TITLE);
      // VS Code asks whether to trust the folder: decline
      const dialog = p.locator('.monaco-dialog-box');
      if (
        await dialog.waitFor({ timeout: 10_000 }).then(
          () => true,
          () => false,
        )
      ) {
        await dialog
          .locator('.monaco-button', { hasText: /No|Don't Trust/i })
          .first()
          .click();
      }
      await activityBarItem(p, 'CodeDance').waitFor({ timeout: 30_000 });
      await showCodeDance(p);
      const frame = await chatFrame(p, 40_000);
      const banner = frame.locator('[data-banner="untrusted"]');
      await banner.waitFor({ timeout: 20_000 });
      assert.match(await banner.innerText(), /not trusted.*runs no code/s);
      assert.equal(await banner.locator('vscode-button[data-action="trust"]').count(), 1, 'offers the trust action');
      const chatBefore = h.model.chatRequests.length;
      await ask(frame, 'How many red circles are there?');
      const notice = frame.locator('.notice.error');
      await notice.waitFor({ timeout: 10_000 });
      assert.match(await notice.innerText(), /not trusted/);
      await p.waitForTimeout(1000);
      assert.equal(h.model.chatRequests.length, chatBefore, 'no model request from an untrusted workspace');
      assert.equal(await frame.locator('section.exchange').count(), 0);
      await screenshot(p, 'chat-untrusted-light.png');
    } finally {
      await s2.stop();
    }
  });
});
