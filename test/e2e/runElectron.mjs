#!/usr/bin/env node
// `npm run test:electron`: the same in-host mocha suite (test/e2e/suite) in desktop VS Code through
// @vscode/test-electron. It downloads VS Code from update.code.visualstudio.com, so it needs
// internet; offline (CI here) the e2e layer uses code-server instead: `npm run test:e2e`.
//
// Env: CODEDANCE_VSCODE_VERSION (default 1.100.3, the engine the extension targets; or `stable`),
//      CODEDANCE_VSCODE_CACHE (default .vscode-test/ in the repo).
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { register } from 'tsx/cjs/api';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const version = process.env.CODEDANCE_VSCODE_VERSION || '1.100.3';
const cachePath = process.env.CODEDANCE_VSCODE_CACHE || path.join(root, '.vscode-test');

async function main() {
  // Shared with the code-server runner: TypeScript, required through tsx's CommonJS hook.
  register();
  const require = createRequire(import.meta.url);
  const { buildHostSuite, ensureExtensionBuilt } = require('./build.ts');
  const { ensureFixtureWorkspace } = require('./fixtures/images.ts');
  ensureExtensionBuilt((msg) => console.log(`[electron] ${msg}`));
  const extensionTestsPath = await buildHostSuite();
  const workspace = ensureFixtureWorkspace();

  let vscodeExecutablePath;
  try {
    vscodeExecutablePath = await downloadAndUnzipVSCode({ version, cachePath, timeout: 60_000 });
  } catch (err) {
    fail(
      `could not download VS Code ${version} into ${cachePath}: ${err?.message ?? err}`,
      'this runner needs internet access to update.code.visualstudio.com (or a proxy: HTTPS_PROXY). ' +
        'Offline, run the same suite in code-server: `npm run test:e2e`.',
    );
  }

  try {
    await runTests({
      vscodeExecutablePath,
      extensionDevelopmentPath: root,
      extensionTestsPath,
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
    });
  } catch (err) {
    fail(
      `the in-host suite failed in VS Code ${version}: ${err?.message ?? err}`,
      'see the CODEDANCE_E2E_TEST lines above; on Linux without a display run it under `xvfb-run -a`.',
    );
  }
}

function fail(cause, fix) {
  console.error(`\n[electron] ${cause}\n  Fix: ${fix}`);
  process.exit(1);
}

main().catch((err) => fail(err?.stack ?? String(err), 'see the error above.'));
