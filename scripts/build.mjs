#!/usr/bin/env node
// Bundles the three targets with esbuild: the extension (node/cjs, `vscode` and native addons
// external), the webview script (browser), and the CLI (`codedance`). Type checking is
// separate (`npm run typecheck`), since esbuild does not type-check.
import * as esbuild from 'esbuild';
import { chmodSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const watch = args.has('--watch');

// zeromq loads a prebuilt native addon relative to its own package folder: keep it external
// (the .vsix ships node_modules/zeromq). `vscode` is provided by the host.
// ssh2's optional native parts (cpu-features, sshcrypto.node) are left out: it requires them in a
// try/catch and falls back to pure JS, so the bundle needs no compiler on the user's machine.
const nativeExternals = ['zeromq', 'cpu-features', '*.node'];

const common = {
  absWorkingDir: root,
  bundle: true,
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
};

export const targets = [
  {
    ...common,
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', ...nativeExternals],
  },
  {
    ...common,
    entryPoints: ['src/webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['src/webview/report/main.ts'],
    outfile: 'dist/report.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['src/webview/dataset/main.ts'],
    outfile: 'dist/dataset.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: nativeExternals,
    banner: { js: '#!/usr/bin/env node' },
  },
];

async function main() {
  const t0 = performance.now();
  if (watch) {
    const ctxs = await Promise.all(targets.map((t) => esbuild.context(t)));
    await Promise.all(ctxs.map((c) => c.watch()));
    console.log('esbuild: watching src/ for changes (Ctrl+C to stop)');
    return;
  }
  // allSettled: never exit while another target is still writing its file (a half-written bundle)
  const results = await Promise.allSettled(targets.map((t) => esbuild.build(t)));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) throw new Error(failed.map((r) => r.reason?.message ?? String(r.reason)).join('\n'));
  chmodSync(path.join(root, 'dist/cli.js'), 0o755);
  const sizes = targets.map((t) => `${t.outfile} ${(statSync(path.join(root, t.outfile)).size / 1024).toFixed(1)} KiB`);
  console.log(`build${production ? ' (production)' : ''}: ${sizes.join(', ')} in ${(performance.now() - t0).toFixed(0)} ms`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
