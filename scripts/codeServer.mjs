// Real VS Code for tests, offline and headless: code-server (VS Code's own workbench served to a
// browser; its extension host is the real Node extension host) plus Debian's chromium driven by
// playwright-core. Background and measurements: docs/real-vscode-offline.md (shared docs).
//
//   ensureCodeServer()   installs code-server once into a cache folder outside node_modules
//                        (scripts/codeServer/install.mjs)
//   startCodeServer()    starts it on 127.0.0.1 with a private HOME/TMPDIR/user-data-dir
//                        (scripts/codeServer/server.mjs)
//   workbenchUrl()       the URL that opens a folder with the extension under development loaded
//   launchBrowser()      a headless chromium context (scripts/codeServer/browser.mjs)
//
// Plain Node ESM, no TypeScript, so .ci scripts and tests can both import it (types: codeServer.d.mts).
import { defaultLog, seconds } from './codeServer/common.mjs';
import { ensureCodeServer } from './codeServer/install.mjs';
import { startServer } from './codeServer/server.mjs';

export { CODE_SERVER_VERSION, cacheRoot, installDir } from './codeServer/common.mjs';
export { ensureCodeServer } from './codeServer/install.mjs';
export { freePort, workbenchUrl } from './codeServer/server.mjs';
export { CHROMIUM_PATH, launchBrowser } from './codeServer/browser.mjs';

/**
 * Starts code-server (installing it first unless `codeServerDir` names an installed package
 * folder) on 127.0.0.1 and waits for /healthz; see startServer in scripts/codeServer/server.mjs.
 */
export async function startCodeServer(options = {}) {
  const log = options.log ?? defaultLog;
  const codeServerDir = options.codeServerDir || (await ensureCodeServer({ log }));
  return startServer({ ...options, codeServerDir, log });
}

// `node scripts/codeServer.mjs [install|serve]`: install, or install and serve (manual poking).
if (import.meta.url === `file://${process.argv[1]}`) {
  const cmd = process.argv[2] || 'install';
  try {
    const t0 = performance.now();
    const dir = await ensureCodeServer();
    console.log(`code-server ready at ${dir} (${seconds(t0)})`);
    if (cmd === 'serve') {
      const server = await startCodeServer({ codeServerDir: dir, port: Number(process.env.PORT) || 0 });
      console.log(`serving ${server.url}; Ctrl+C to stop`);
      process.once('SIGINT', () => server.stop().then(() => process.exit(0)));
    }
  } catch (err) {
    console.error(`\n${err.message}`);
    process.exit(1);
  }
}
