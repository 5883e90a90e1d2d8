/** Node side: makes sure the bundles the real VS Code loads exist and are current. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';

export const ROOT = path.resolve(__dirname, '..', '..');
export const HOST_SUITE = path.join(ROOT, 'out', 'e2e-suite', 'index.js');

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** What each bundle VS Code loads is built from (src/cli only feeds dist/cli.js). */
const BUNDLE_SOURCES: Record<string, string[]> = {
  'dist/extension.js': ['src/extension', 'src/protocol', 'src/core'],
  'dist/webview.js': ['src/webview', 'src/protocol'],
};

/** Runs `node scripts/build.mjs` when a bundle VS Code loads is missing or older than its sources. */
export function ensureExtensionBuilt(log: (msg: string) => void): void {
  const buildScript = path.join(ROOT, 'scripts', 'build.mjs');
  const stale = Object.entries(BUNDLE_SOURCES).filter(([bundle, dirs]) => {
    const file = path.join(ROOT, bundle);
    if (!existsSync(file)) return true;
    const sources = Math.max(statSync(buildScript).mtimeMs, ...dirs.map((d) => newestMtime(path.join(ROOT, d))));
    return statSync(file).mtimeMs < sources;
  });
  if (!stale.length) return;
  log(`${stale.map(([b]) => b).join(', ')} missing or older than src/: running scripts/build.mjs`);
  const r = spawnSync(process.execPath, [buildScript], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0 || stale.some(([b]) => !existsSync(path.join(ROOT, b)))) {
    throw new Error(`\`node scripts/build.mjs\` failed (exit ${r.status}): fix the build (\`npm run build\`), then rerun.`);
  }
}

/**
 * Bundles the in-host mocha suite (test/e2e/suite) to out/e2e-suite/index.js. `vscode` is the
 * host's; `mocha` stays external and resolves from the repo's node_modules when the host loads it.
 */
export async function buildHostSuite(): Promise<string> {
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ['test/e2e/suite/index.ts'],
    outfile: HOST_SUITE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return HOST_SUITE;
}
