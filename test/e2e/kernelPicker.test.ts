/**
 * e2e (issue 12): "CodeDance: Select Kernel" in a real VS Code.
 *  - §1, §3: Add Jupyter Server (URL, token) → its kernelspec; the status bar shows the choice,
 *    and a chat question's code runs in a kernel on that real Jupyter Server
 *    (test/fixtures/jupyterServer.ts). Without the Jupyter extension no notebook kernel is offered.
 *  - §2, §3: with test stand-ins of the Jupyter and Python extensions (test/e2e/fixtures/fake-*,
 *    the same public API surfaces, over real interpreters and a real ipykernel): an environment
 *    of the Python extension (a real venv) is picked and answers; a notebook's kernel, started by
 *    running its cell, is picked and the model's code reads the notebook's variable.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { type JupyterServerFixture, startJupyterServer } from '../fixtures/jupyterServer';
import { ROOT } from './build';
import { ask, ChatE2E, exchange, log, newChat, showCodeDance, withCode } from './chatHarness';
import { buildFakeExtensions } from './fixtures/fakeExtensions';
import { explorerRow, openViewContainer, runCommand, screenshot } from './workbench';

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
    // no Jupyter extension in this window: no notebook kernels offered, and no error
    await quick(h.page).locator('.monaco-list-row', { hasText: 'Add Jupyter Server' }).first().waitFor({ timeout: 20_000 });
    assert.equal(
      await quick(h.page)
        .locator('.monaco-list-row', { hasText: /Notebook kernels|kernel of/ })
        .count(),
      0,
    );
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
    // the conversation and the status line say where the code runs
    assert.match(
      await exchange(frame, 0).locator('.kernel-where').innerText(),
      new RegExp(`Code runs in the kernel "python3" on the Jupyter server at ${srv.url.replace(/[.]/g, '\\.')}`),
    );
    await frame.locator(`.status-line [data-kernel-where="python3 on ${new URL(srv.url).host}"]`).waitFor({ timeout: 10_000 });
    // …and truthfully that nothing contains it there
    await frame.locator('.status-line [data-cells="unsandboxed: remote kernel"]').waitFor({ timeout: 10_000 });
    await screenshot(h.page, 'kernel-picker-answer.png');
  });
});

/** a notebook with one cell that sets a variable (nbformat 4) */
function writeNotebook(file: string): void {
  const cell = {
    cell_type: 'code',
    execution_count: null,
    metadata: {},
    outputs: [],
    source: ['threshold = 128\n', 'print("notebook ready")'],
  };
  writeFileSync(
    file,
    JSON.stringify(
      {
        cells: [cell],
        metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }, language_info: { name: 'python' } },
        nbformat: 4,
        nbformat_minor: 5,
      },
      null,
      1,
    ),
  );
}

/** opens the picker until `text` is offered (a notebook's kernel is listed once it started), then picks it */
async function pickWhenOffered(page: Page, text: string | RegExp, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await runCommand(page, 'CodeDance: Select Kernel');
    const row = quick(page).locator('.monaco-list-row', { hasText: text }).first();
    if (
      await row.waitFor({ timeout: 5000 }).then(
        () => true,
        () => false,
      )
    ) {
      await row.click();
      return;
    }
    await page.keyboard.press('Escape');
    if (Date.now() > deadline)
      throw new Error(`"${String(text)}" was not offered by CodeDance: Select Kernel within ${timeoutMs / 1000} s`);
    await page.waitForTimeout(1000);
  }
}

describe('e2e: Select Kernel with the Python and Jupyter extensions (test stand-ins): an environment, a notebook kernel', function () {
  this.timeout(300_000);
  // a real venv (system site packages: ipykernel, numpy, …) outside the folders the sandbox hides
  const venv = path.join(ROOT, 'test', '.tmp', `cd-e2e-venv-${process.pid}`);
  const venvPython = path.join(venv, 'bin', 'python');
  before(() => {
    mkdirSync(path.dirname(venv), { recursive: true });
    execFileSync('/usr/bin/python3', ['-m', 'venv', '--without-pip', '--system-site-packages', venv]);
  });
  after(() => rmSync(venv, { recursive: true, force: true }));
  const h = new ChatE2E();
  h.hooks({ extensions: buildFakeExtensions, settings: { 'codedanceTest.pythonEnvironments': ['/usr/bin/python3', venvPython] } });

  it("lists the Python extension's environments; the venv picked for this workspace answers", async () => {
    await runCommand(h.page, 'CodeDance: Select Kernel');
    await quick(h.page)
      .locator('.monaco-list-row', { hasText: 'Python environments (Python extension)' })
      .first()
      .waitFor({ timeout: 20_000 });
    await screenshot(h.page, 'kernel-picker-environments.png');
    await pick(h.page, path.basename(venv));
    await h.page.locator('.statusbar-item', { hasText: `CodeDance: local: ${venvPython}` }).waitFor({ timeout: 20_000 });

    await showCodeDance(h.page);
    const frame = await h.chatFrame();
    await ask(frame, withCode('Which Python runs this?', 'import sys\nprint("prefix =", sys.prefix)'));
    const answer = exchange(frame, 0).locator('.answer');
    await answer.waitFor({ timeout: 90_000 });
    const text = await answer.innerText();
    log(`answer: ${text}`);
    assert.ok(text.includes(`prefix = ${venv}`), `the venv's Python ran the code: ${text}`);
  });

  it("runs the chat's code in the kernel of an open notebook, next to its variables, and says so", async () => {
    writeNotebook(path.join(h.workspace, 'analysis.ipynb'));
    await openViewContainer(h.page, 'Explorer');
    const row = explorerRow(h.page, 'analysis.ipynb');
    await row.waitFor({ timeout: 20_000 });
    await row.dblclick();
    await h.page.locator('.notebook-editor:visible').first().waitFor({ timeout: 30_000 });
    await runCommand(h.page, 'Notebook: Run All');
    // VS Code may ask which controller runs it (the stand-in is the only one, and preferred)
    const controller = quick(h.page).locator('.monaco-list-row', { hasText: 'CodeDance test kernel' }).first();
    if (
      await controller.waitFor({ timeout: 5000 }).then(
        () => true,
        () => false,
      )
    )
      await controller.click();
    await pickWhenOffered(h.page, 'Use the kernel of analysis.ipynb');
    await h.page.locator('.statusbar-item', { hasText: 'CodeDance: kernel of analysis.ipynb' }).waitFor({ timeout: 20_000 });

    await showCodeDance(h.page);
    const frame = await h.chatFrame();
    await newChat(frame);
    await ask(frame, withCode('What threshold did my notebook set?', 'print("threshold from the notebook =", threshold)'));
    const answer = exchange(frame, 0).locator('.answer');
    await answer.waitFor({ timeout: 90_000 });
    const text = await answer.innerText();
    log(`answer: ${text}`);
    assert.match(text, /threshold from the notebook = 128/);
    assert.equal((await exchange(frame, 0).locator('.kernel-where').innerText()).trim(), 'Code runs in the kernel of analysis.ipynb.');
    await frame.locator('.status-line [data-kernel-where="analysis.ipynb"]').waitFor({ timeout: 10_000 });
    await screenshot(h.page, 'kernel-picker-notebook.png');
  });
});
