/**
 * e2e: the chat panel in a real VS Code (code-server 4.100.3 + Debian chromium), against the
 * fixture model server (OpenAI wire protocol, SSE) and a real ipykernel of /usr/bin/python3.
 *   right-click an image → Ask about image → question → the model's code runs in the kernel →
 *   an intermediate image appears → the answer; hostile output renders inert and fetches nothing;
 *   Stop mid-run; the approval prompt (Edit → Run); Retry, fork and a follow-up; history survives a window reload;
 *   export to .ipynb (nbformat-valid) and Markdown with images;
 *   in approval mode "always" a reopened conversation's earlier cells re-run as one approved batch.
 * An untrusted workspace: chatUntrusted.test.ts. Screenshots: test/e2e/.artifacts/chat-*.png.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ask,
  ChatE2E,
  DEV_HOST_TITLE,
  exchange,
  HOSTILE_LINE,
  log,
  nbformatSummary,
  newChat,
  PLOT_CODE,
  showCodeDance,
  viewAction,
  withCode,
} from './chatHarness';
import {
  activityBarItem,
  explorerContextMenu,
  imagePreviewShown,
  menuItem,
  openFile,
  openViewContainer,
  openWorkbench,
  paneHeader,
  screenshot,
} from './workbench';

describe('e2e: the chat panel in a real VS Code', function () {
  this.timeout(300_000);
  const h = new ChatE2E();
  h.hooks();
  const chatFrame = (...args: Parameters<ChatE2E['chatFrame']>) => h.chatFrame(...args);

  it('right-click an image → Ask about image → the code runs in the kernel → an image, then the answer', async () => {
    await openViewContainer(h.page, 'Explorer');
    const menu = await explorerContextMenu(h.page, 'circles.png');
    await menuItem(menu, 'Ask about image').click();
    await paneHeader(h.page, 'Chat').waitFor({ timeout: 20_000 });
    const frame = await chatFrame();
    // the image is attached in the compose box, with its size
    const att = frame.locator('.attachment');
    await att.first().waitFor({ timeout: 20_000 });
    assert.match(await att.first().innerText(), /circles\.png[\s\S]*180×140/);
    await imagePreviewShown(h.page);
    await screenshot(h.page, 'chat-attached-dark.png');

    const t0 = Date.now();
    await ask(frame, withCode('Which pixels are red? Plot the mask.', PLOT_CODE));
    const x = exchange(frame, 0);
    await x.locator('.cell').first().waitFor({ timeout: 30_000 });
    // the intermediate image the code made (plt.show()) is inline under the cell that made it
    const img = x.locator('.cell .cell-images img').first();
    await img.waitFor({ timeout: 90_000 });
    const src = await img.getAttribute('src');
    assert.ok(src?.startsWith('data:image/'), `inline image from data:, got ${src?.slice(0, 30)}`);
    const answer = x.locator('.answer');
    await answer.waitFor({ timeout: 60_000 });
    const text = await answer.innerText();
    log(`answer after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${text.replace(/\s+/g, ' ')}`);
    assert.match(text, /red_pixels = \d+/);
    assert.match(await x.locator('.cell .cell-status').first().innerText(), /done/);
    assert.match(await x.locator('.cell pre.stdout').first().innerText(), /red_pixels = \d+/);
    assert.match(await x.locator('.exchange-footer').innerText(), /Answered .* tokens/);
    // status line: endpoint, kernel state, usage
    const status = await frame.locator('.status-line').innerText();
    assert.ok(status.includes(new URL(h.model.baseUrl).host), status);
    assert.match(status, /kernel: (idle|busy)/);
    assert.ok(h.model.chatRequests.length >= 2, 'the fixture model answered the requests');
    await answer.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await screenshot(h.page, 'chat-answer-dark.png');

    // click → full size in an editor tab (VS Code's image preview of a file under the extension's storage)
    await x.locator('.cell-images .image-button').first().click();
    const tab = h.page.locator('.tabs-container .tab', { hasText: 't0-c0-i0' });
    await tab.waitFor({ timeout: 15_000 });
    await h.page.locator('.statusbar-item', { hasText: 'Whole Image' }).first().waitFor({ timeout: 15_000 }); // the image preview's zoom item
    await screenshot(h.page, 'chat-image-tab-dark.png');
    // "Open in editor": the cell's code in a new Python editor
    await x.locator('.cell [data-action="open-code"]').first().click();
    await h.page.locator('.tabs-container .tab', { hasText: /Untitled/ }).waitFor({ timeout: 15_000 });
    await h.page.locator('.monaco-editor .view-lines', { hasText: 'plt.show()' }).first().waitFor({ timeout: 15_000 });
  });

  it('attaches images by paste, by a drop from the OS and from the explorer (uri list); × removes one', async () => {
    const frame = await chatFrame();
    await newChat(frame);
    const png = readFileSync(path.join(h.workspace, 'bars.png')).toString('base64');
    const jpgUri = `file://${path.join(h.workspace, 'small_object.jpg')}`;
    await frame.evaluate(
      async ({ png, jpgUri }) => {
        const bin = atob(png);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        const question = document.querySelector('#question')!;
        const paste = new DataTransfer();
        paste.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
        question.dispatchEvent(new ClipboardEvent('paste', { clipboardData: paste, bubbles: true, cancelable: true }));
        const osDrop = new DataTransfer();
        osDrop.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
        document.querySelector('.compose')!.dispatchEvent(new DragEvent('drop', { dataTransfer: osDrop, bubbles: true, cancelable: true }));
        const explorerDrop = new DataTransfer();
        explorerDrop.setData('text/uri-list', jpgUri);
        document
          .querySelector('.compose')!
          .dispatchEvent(new DragEvent('drop', { dataTransfer: explorerDrop, bubbles: true, cancelable: true }));
      },
      { png, jpgUri },
    );
    await frame.waitForFunction(() => document.querySelectorAll('.attachment').length === 3, undefined, { timeout: 15_000 });
    const names = await frame.locator('.attachment .attachment-name').allInnerTexts();
    assert.deepEqual([...names].sort(), ['dropped.png', 'pasted.png', 'small_object.jpg']);
    assert.match(await frame.locator('.attachment', { hasText: 'pasted.png' }).innerText(), /180×130 · \d/);
    await screenshot(h.page, 'chat-attachments-dark.png');
    await frame.locator('.attachment', { hasText: 'dropped.png' }).locator('button.remove').click();
    await frame.waitForFunction(() => document.querySelectorAll('.attachment').length === 2, undefined, { timeout: 10_000 });
    for (const name of ['pasted.png', 'small_object.jpg'])
      await frame.locator('.attachment', { hasText: name }).locator('button.remove').click();
    await frame.waitForFunction(() => document.querySelectorAll('.attachment').length === 0, undefined, { timeout: 10_000 });
  });

  it('renders hostile model output inert: no script runs, nothing is fetched', async () => {
    const frame = await chatFrame();
    const code = `print(${JSON.stringify(HOSTILE_LINE)})`;
    const before = h.requests.length;
    await newChat(frame);
    await ask(frame, withCode('Print this line.', code));
    const x = exchange(frame, 0);
    const answer = x.locator('.answer');
    await answer.waitFor({ timeout: 60_000 });
    const html = await answer.innerHTML();
    const text = await answer.innerText();
    assert.ok(text.includes('<script>window.__pwned=1</script>'), `raw HTML shows as text: ${text}`);
    assert.equal(
      await x.locator('.answer script, .answer img, .answer [onerror], .answer [onclick], .turn script, .turn img').count(),
      0,
      html,
    );
    assert.equal(await x.locator('.answer a[href^="javascript"], .answer a[data-href^="javascript"]').count(), 0, html);
    assert.equal(await x.locator('.answer strong').count(), 1, 'markdown still renders');
    await h.page.waitForTimeout(1000);
    assert.equal(await frame.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined, 'a script ran in the webview');
    const leaked = h.requests.slice(before).filter((u) => /evil\.example\.com/.test(u));
    assert.deepEqual(leaked, [], 'the webview fetched a remote resource');
    // *.vscode-resource.vscode-cdn.net: the webview's own files, answered by its service worker from code-server
    const external = h.requests.filter(
      (u) =>
        /^https?:/.test(u) &&
        !u.startsWith(h.server!.url) &&
        !u.startsWith(h.model.baseUrl.replace(/\/v1$/, '')) &&
        !/^https:\/\/[^/]+\.vscode-resource\.vscode-cdn\.net\//.test(u),
    );
    assert.deepEqual(external, [], 'requests left the machine');
    await screenshot(h.page, 'chat-hostile-dark.png');
  });

  it('Stop cancels a running cell at once; the kernel lives on', async () => {
    const frame = await chatFrame();
    await newChat(frame);
    await ask(frame, withCode('Take your time.', "import time\nprint('sleeping', flush=True)\ntime.sleep(40)\nprint('woke up')"));
    const x = exchange(frame, 0);
    const status = x.locator('.cell .cell-status').first();
    await frame.waitForFunction(
      () => /running/.test(document.querySelector('section.exchange[data-index="0"] .cell .cell-status')?.textContent ?? ''),
      undefined,
      { timeout: 60_000 },
    );
    await x.locator('.cell pre.stdout', { hasText: 'sleeping' }).waitFor({ timeout: 20_000 });
    await h.page.waitForTimeout(1200); // the elapsed time shows
    assert.match(await status.innerText(), /running · \d/);
    await screenshot(h.page, 'chat-running-dark.png');
    const t0 = Date.now();
    await frame.locator('vscode-button[data-action="stop"]').click();
    await x.locator('.exchange-footer', { hasText: 'Stopped' }).waitFor({ timeout: 15_000 });
    const ms = Date.now() - t0;
    log(`stopped in ${ms} ms`);
    assert.ok(ms < 10_000, `Stop took ${ms} ms`);
    assert.match(await status.innerText(), /stopped/);
    await frame.locator('.status-line .kernel', { hasText: /idle/ }).waitFor({ timeout: 15_000 });
    await screenshot(h.page, 'chat-stopped-dark.png');
    // the status line's Restart: a fresh kernel, its state shown as it starts
    await frame.locator('.status-line [data-action="restart-kernel"]').click();
    await frame.locator('.notice', { hasText: 'Kernel restarted' }).waitFor({ timeout: 30_000 });
    await frame.locator('.status-line .kernel', { hasText: /idle/ }).waitFor({ timeout: 15_000 });
  });

  it('approval mode "always": the code is shown with Run / Edit / Skip; an edit runs', async () => {
    const frame = await chatFrame();
    await h.setApproval(frame, 'always');
    await newChat(frame);
    await ask(frame, withCode('Compute it.', "print('answer', 6 * 7)"));
    const x = exchange(frame, 0);
    const box = x.locator('.approval');
    await box.waitFor({ timeout: 30_000 });
    const editor = box.locator('textarea');
    assert.equal(await editor.inputValue(), "print('answer', 6 * 7)");
    assert.equal(await box.locator('vscode-button').count(), 3);
    await screenshot(h.page, 'chat-approval-dark.png');
    await box.locator('vscode-button[data-action="approve-edit"]').click();
    await editor.fill("print('edited', 6 * 7)");
    await box.locator('vscode-button[data-action="approve-run"]').click();
    const answer = x.locator('.answer');
    await answer.waitFor({ timeout: 60_000 });
    assert.match(await answer.innerText(), /edited 42/);
    assert.match(await x.locator('.cell .cell-status').first().innerText(), /done.*edited/);
    // back to auto for what follows (this direction asks for confirmation)
    await h.setApproval(frame, 'auto');
  });

  it('Retry redoes the last turn; Edit & re-run forks from an edited cell', async () => {
    const frame = await chatFrame();
    await newChat(frame);
    await ask(frame, withCode('Run this.', "x = 20\nprint('value', x + 1)"));
    const x = exchange(frame, 0);
    await x.locator('.answer', { hasText: 'value 21' }).waitFor({ timeout: 60_000 });
    const requestsBefore = h.model.chatRequests.length;
    await x.evaluate((el) => el.setAttribute('data-before-retry', ''));
    await viewAction(h.page, 'Retry Last Turn');
    // the retried exchange replaces the old one in place
    const retried = frame.locator('section.exchange[data-index="0"]:not([data-before-retry])');
    await retried.locator('.answer', { hasText: 'value 21' }).waitFor({ timeout: 60_000 });
    await retried.locator('.exchange-footer', { hasText: 'Answered' }).waitFor({ timeout: 30_000 });
    assert.equal(h.model.chatRequests.length, requestsBefore + 1, 'Retry made exactly one model call (the last turn)');

    await retried.evaluate((el) => el.setAttribute('data-before-fork', ''));
    await exchange(frame, 0).locator('.cell [data-action="fork"]').first().click();
    const editor = exchange(frame, 0).locator('.fork-editor textarea');
    await editor.waitFor({ timeout: 10_000 });
    await editor.fill("x = 20\nprint('forked', x * 2)");
    await exchange(frame, 0).locator('.fork-editor vscode-button[data-action="fork-run"]').click();
    const answer = frame.locator('section.exchange[data-index="0"]:not([data-before-fork]) .answer', { hasText: 'forked' });
    await answer.waitFor({ timeout: 60_000 });
    const text = await answer.innerText();
    assert.match(text, /forked 40/, text);
    // the fork is a new conversation; the original stays in History
    assert.equal(await frame.locator('section.exchange').count(), 1);
    assert.match(await exchange(frame, 0).locator('.cell .cell-status').first().innerText(), /edited/);
    await screenshot(h.page, 'chat-fork-dark.png');
  });

  it('a follow-up continues the conversation: the model gets the earlier exchange, the kernel keeps its variables', async () => {
    const frame = await chatFrame();
    // the forked conversation of the previous test: its cell set x = 20 and printed "forked 40"
    await exchange(frame, 0).locator('.answer', { hasText: 'forked 40' }).waitFor({ timeout: 10_000 });
    const before = h.model.chatRequests.length;
    await ask(frame, withCode('And four times x?', "print('again', x * 4)"));
    const answer = exchange(frame, 1).locator('.answer');
    await answer.waitFor({ timeout: 60_000 });
    assert.match(await answer.innerText(), /again 80/, 'x from the earlier exchange is still in the kernel');
    assert.equal(await frame.locator('section.exchange').count(), 2, 'one conversation, two exchanges');
    const first = h.model.chatRequests[before].body as { messages: { role: string; content: unknown }[] };
    const sent = JSON.stringify(first.messages);
    assert.ok(
      sent.includes('forked 40') && sent.includes('four times x'),
      'the follow-up request carries the earlier exchange, then the new question',
    );
    assert.equal(
      first.messages.filter((m) => m.role === 'system').length,
      first.messages[0].role === 'system' ? 1 : 0,
      'the system prompt is not repeated',
    );
    await answer.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await screenshot(h.page, 'chat-followup-dark.png');
  });

  it('history survives a window reload and reopens with its images; the chat view loading beside an editor leaves it the focus', async () => {
    // the user is in an editor when the window reloads
    await openFile(h.page, 'README.md');
    await h.page.waitForTimeout(1000); // VS Code saves its open editors on a short delay
    // a window reload: the page (and its extension host connection) starts over, in a light theme this time
    h.setThemeSetting('Default Light Modern');
    await openWorkbench(h.page, h.server!.workbenchUrl(), DEV_HOST_TITLE, activityBarItem(h.page, 'CodeDance'));
    await h.page.locator('.monaco-workbench.vs').waitFor({ state: 'attached', timeout: 15_000 });
    await h.page.waitForFunction(() => !!document.activeElement?.closest('.monaco-editor'), undefined, { timeout: 15_000 });
    // the chat view comes back beside it (the side bar was showing it) and gets its state
    let frame = await chatFrame(h.page, 40_000);
    await frame.locator('main.conversation[aria-busy="false"]').waitFor({ state: 'attached', timeout: 20_000 });
    const focused = await h.page.evaluate(() =>
      document.activeElement?.closest('.monaco-editor')
        ? 'the editor'
        : `${document.activeElement?.tagName}.${document.activeElement?.className}`,
    );
    assert.equal(focused, 'the editor', 'the chat view took the focus from the editor as it loaded');
    assert.equal(await frame.evaluate(() => document.hasFocus()), false);
    // README.md comes back when VS Code saved its editors before the page load (else the editor of
    // an earlier test has the focus); closed, the editors of the earlier tests stay as they were
    const readme = h.page.locator('.tabs-container .tab', { hasText: 'README.md' });
    if (await readme.count()) {
      await readme.click({ button: 'middle' });
      await readme.waitFor({ state: 'detached', timeout: 10_000 });
    }
    await h.page.waitForTimeout(1000);
    await showCodeDance(h.page);
    frame = await chatFrame(h.page, 40_000);
    await viewAction(h.page, 'Show Chat History');
    await frame.locator('.history-list li').first().waitFor({ timeout: 20_000 });
    assert.equal(
      await frame.locator('.history-list li').count(),
      6,
      'six conversations saved (the fork is one of its own; an empty chat is not saved)',
    );
    const item = frame.locator('.history-list li', { hasText: 'Which pixels are red' });
    assert.equal(await item.count(), 1);
    await item.locator('[data-action="open-conversation"]').click();
    await exchange(frame, 0).locator('.answer').waitFor({ timeout: 20_000 });
    assert.match(await exchange(frame, 0).locator('.answer').innerText(), /red_pixels = \d+/);
    const img = exchange(frame, 0).locator('.cell-images img').first();
    await img.waitFor({ timeout: 10_000 });
    assert.ok((await img.evaluate((el) => (el as HTMLImageElement).naturalWidth)) > 0, 'the stored image loads');
    assert.equal(await frame.locator('section.exchange').count(), 1);
    await screenshot(h.page, 'chat-history-light.png');
    await exchange(frame, 0)
      .locator('.answer')
      .evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await screenshot(h.page, 'chat-answer-light.png');
  });

  it('exports the reopened conversation as .ipynb (valid nbformat, its real outputs) and as Markdown with its images beside it', async () => {
    const frame = await chatFrame();
    // the conversation the history test reopened: the red-pixel question with its plot
    await exchange(frame, 0)
      .locator('.answer', { hasText: /red_pixels = \d+/ })
      .waitFor({ timeout: 10_000 });
    const answer = /red_pixels = (\d+)/.exec(await exchange(frame, 0).locator('.answer').innerText())![1];

    /** Export → VS Code's save dialog (code-server's own, a path in the quick input) → Enter; the file written */
    const exportAs = async (action: string, ext: string): Promise<string> => {
      await viewAction(h.page, action);
      const input = h.page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 15_000 });
      let value = '';
      for (const t0 = Date.now(); Date.now() - t0 < 10_000; await h.page.waitForTimeout(100)) {
        value = await input.inputValue().catch(() => '');
        if (value.endsWith(`.${ext}`)) break;
      }
      assert.ok(value.endsWith(`.${ext}`), `the save dialog offers a .${ext} file, got "${value}"`);
      const name = path.basename(value);
      await h.page.keyboard.press('Enter');
      await frame.locator('.notice', { hasText: `Exported ${name}` }).waitFor({ timeout: 15_000 });
      const file = path.join(h.workspace, name);
      assert.ok(existsSync(file), `${file} written (the dialog offered ${name} in the workspace)`);
      return file;
    };

    const nbFile = await exportAs('Export Chat as Notebook (.ipynb)', 'ipynb');
    // nbformat (Debian's python3-nbformat) validates it; the code cell carries the printed value and the plot
    const check = nbformatSummary(nbFile);
    assert.equal(check.status, 0, check.stderr);
    const nb = JSON.parse(check.stdout) as { cells: number; text: string; pngs: number };
    assert.match(nb.text, new RegExp(`red_pixels = ${answer}`), 'the notebook holds the output the answer came from');
    assert.ok(nb.pngs >= 1, 'the plot is in the notebook');

    const mdFile = await exportAs('Export Chat as Markdown', 'md');
    const md = readFileSync(mdFile, 'utf8');
    assert.match(md, new RegExp(`\\*\\*Answer:\\*\\* red_pixels = ${answer}`));
    const links = [...md.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => decodeURI(m[1]));
    assert.ok(links.length >= 2, `the input image and the plot, got ${links.length}`);
    for (const l of links) assert.ok(existsSync(path.join(path.dirname(mdFile), l)), `${l} beside the Markdown`);
    log(`exported ${path.basename(nbFile)} (${nb.cells} cells, ${nb.pngs} png) and ${path.basename(mdFile)} (${links.length} images)`);
  });

  it('approval mode "always": a follow-up in the reopened conversation first asks once to re-run its earlier cells', async () => {
    const frame = await chatFrame();
    // the reopened red-pixel conversation: a fresh kernel, so its cell (which made `mask`) must run again
    const earlier = /red_pixels = (\d+)/.exec(await exchange(frame, 0).locator('.answer').innerText())![1];
    await h.setApproval(frame, 'always');
    await ask(frame, withCode('Count them again.', "print('again', int(mask.sum()))"));
    const x = exchange(frame, 1);
    const batch = x.locator('.restore-ask');
    await batch.waitFor({ timeout: 30_000 });
    assert.match(await batch.innerText(), /Run the 1 earlier cell\(s\) again/);
    await batch.locator('summary').click();
    assert.match(await batch.locator('pre.code').first().innerText(), /mask = np\.abs/);
    await batch.evaluate((el) => el.scrollIntoView({ block: 'end' }));
    await screenshot(h.page, 'chat-restore-light.png');
    await batch.locator('vscode-button[data-action="restore-run"]').click();
    await x.locator('.restore-note', { hasText: 'Kernel rebuilt: re-ran 1 earlier cell(s).' }).waitFor({ timeout: 60_000 });
    // then the new cell waits for its own approval, as always
    const box = x.locator('.cell .approval');
    await box.waitFor({ timeout: 30_000 });
    await box.locator('vscode-button[data-action="approve-run"]').click();
    const answer = x.locator('.answer');
    await answer.waitFor({ timeout: 60_000 });
    assert.match(await answer.innerText(), new RegExp(`again ${earlier}`), 'the re-run cell rebuilt `mask`');
    await h.setApproval(frame, 'auto');
  });
});
