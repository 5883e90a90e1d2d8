#!/usr/bin/env node
// Bundles the targets with esbuild: the extension (node/cjs, `vscode` and native addons
// external), the webview scripts (browser), and the CLI (`codedance`). Type checking is
// separate (`npm run typecheck`), since esbuild does not type-check.
// Large dependencies that activation does not need (remote kernels, ssh, parquet, the math
// engine) are bundled once each into dist/chunks/<name>.js, shared by the
// extension and the CLI, and loaded with require() on first use: see lazyChunks below.
import * as esbuild from 'esbuild';
import { chmodSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const production = args.has('--production');
const watch = args.has('--watch');
// --outdir=DIR: build into DIR instead of dist/ (the bundle bench); --no-lazy: every dependency
// inlined into the bundles, as before dist/chunks (the bench's baseline)
const outDir = path.resolve(root, [...args].find((a) => a.startsWith('--outdir='))?.slice('--outdir='.length) || 'dist');
const lazy = !args.has('--no-lazy');

// zeromq loads a prebuilt native addon relative to its own package folder: keep it external
// (the .vsix ships node_modules/zeromq). `vscode` is provided by the host.
// ssh2's optional native parts (cpu-features, sshcrypto.node) are left out: it requires them in a
// try/catch and falls back to pure JS, so the bundle needs no compiler on the user's machine.
const nativeExternals = ['zeromq', 'cpu-features', '*.node'];

/**
 * Packages loaded on first use. Each becomes dist/chunks/<name>.js (CommonJS, self-contained).
 * In the extension and CLI bundles, `import … from '<pkg>'` resolves to a small module whose
 * exports are getters that require() the chunk when one is first read: esbuild reads imported
 * names at the call (`(0, x.parquetReadObjects)(…)`), so a static import costs nothing until it
 * is used, and classes stay the real ones (`instanceof`, `new`). The export names are read from
 * the built chunk, so the getters always match it. `withDefault`: the package has a default export.
 */
export const lazyChunks = [
  { pkg: '@jupyterlab/services', name: 'jupyterlab-services' },
  { pkg: 'ws', name: 'ws', withDefault: true },
  { pkg: 'ssh2', name: 'ssh2' },
  { pkg: 'hyparquet', name: 'hyparquet' },
  { pkg: 'hyparquet-writer', name: 'hyparquet-writer' },
  { pkg: '@cortex-js/compute-engine', name: 'compute-engine' },
  // the Hugging Face Hub client: only benchmark downloads and data fetch use it
  { pkg: '@huggingface/hub', name: 'huggingface-hub' },
  // rollout dumps' NaN/Infinity tokens: only the run view's rollouts and `train rollouts` read them
  { pkg: 'json5', name: 'json5', withDefault: true },
  // native, shipped in node_modules (not bundled): only its require() is deferred (~15 ms)
  { pkg: 'zeromq', native: true },
];
const chunkDir = path.join(outDir, 'chunks');

const common = {
  absWorkingDir: root,
  bundle: true,
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  legalComments: 'none',
  // jsonc-parser's "main" is a UMD wrapper whose require('./impl/…') calls esbuild cannot follow
  // (the bundle then fails at load with "Cannot find module './impl/format'"): bundle its ES build
  alias: { 'jsonc-parser': 'jsonc-parser/lib/esm/main.js' },
  // the kernel prelude's Python parts, imported as strings (src/core/kernel/prelude/index.ts)
  loader: { '.py': 'text' },
};

/** dist/chunks/<name>.js for each lazy chunk; returns each chunk's export names */
async function buildChunks() {
  const bundled = lazyChunks.filter((c) => !c.native);
  await Promise.all(
    bundled.map((c) =>
      esbuild.build({
        ...common,
        stdin: {
          contents: `export * from '${c.pkg}';${c.withDefault ? ` export { default } from '${c.pkg}';` : ''}`,
          resolveDir: root,
          loader: 'js',
        },
        outfile: path.join(chunkDir, `${c.name}.js`),
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        external: nativeExternals,
      }),
    ),
  );
  // what an earlier build left that is no chunk now (overwritten in place, never removed first:
  // a running extension host may load one at any moment)
  const keep = new Set(bundled.flatMap((c) => [`${c.name}.js`, `${c.name}.js.map`]));
  for (const f of readdirSync(chunkDir))
    if (!keep.has(f) || (production && f.endsWith('.map'))) rmSync(path.join(chunkDir, f), { force: true });
  const req = createRequire(import.meta.url);
  return new Map(lazyChunks.map((c) => [c.pkg, Object.keys(req(c.native ? c.pkg : path.join(chunkDir, `${c.name}.js`)))]));
}

/** esbuild plugin: each lazy package → a module of getters over require('./chunks/<name>.js') */
function lazyChunksPlugin(exportsOf) {
  const byPkg = new Map(lazyChunks.map((c) => [c.pkg, c]));
  return {
    name: 'codedance-lazy-chunks',
    setup(build) {
      build.onResolve({ filter: /.*/ }, (a) => {
        if (a.namespace === 'codedance-lazy') return { path: a.path, external: true }; // the chunk, or the native package
        return byPkg.has(a.path) ? { path: a.path, namespace: 'codedance-lazy' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'codedance-lazy' }, (a) => {
        const c = byPkg.get(a.path);
        const keys = exportsOf.get(a.path);
        const target = c.native ? c.pkg : `./chunks/${c.name}.js`;
        return {
          resolveDir: root,
          loader: 'js',
          contents: `// ${c.pkg}: loaded from ${target} when an export is first read
let m;
const load = () => (m ??= require('${target}'));
Object.defineProperty(exports, '__esModule', { value: true });
for (const k of ${JSON.stringify(keys)}) Object.defineProperty(exports, k, { enumerable: true, get: () => load()[k] });
`,
        };
      });
    },
  };
}

export const targets = [
  {
    ...common,
    lazy: true,
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
  // the results table across benchmarks and runs (issue #24)
  {
    ...common,
    entryPoints: ['src/webview/results/main.ts'],
    outfile: 'dist/results.js',
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
  // the run view (issue #23); uPlot's stylesheet, imported by its entry, comes out beside it as dist/runs.css
  {
    ...common,
    entryPoints: ['src/webview/runs/main.ts'],
    outfile: 'dist/runs.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  },
  {
    ...common,
    entryPoints: ['src/cli/main.ts'],
    lazy: true,
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
  const exportsOf = lazy ? await buildChunks() : undefined;
  const out = (f) => path.join(outDir, path.relative('dist', f));
  const options = targets.map(({ lazy: lazyTarget, ...t }) => ({
    ...t,
    outfile: out(t.outfile),
    ...(lazyTarget && exportsOf ? { plugins: [lazyChunksPlugin(exportsOf)] } : {}),
  }));
  if (watch) {
    const ctxs = await Promise.all(options.map((t) => esbuild.context(t)));
    await Promise.all(ctxs.map((c) => c.watch()));
    console.log('esbuild: watching src/ for changes (Ctrl+C to stop)');
    return;
  }
  // allSettled: never exit while another target is still writing its file (a half-written bundle)
  // a production build leaves no source map of an earlier development build beside its bundles
  if (production) for (const t of targets) rmSync(`${out(t.outfile)}.map`, { force: true });
  const results = await Promise.allSettled(options.map((t) => esbuild.build(t)));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length) throw new Error(failed.map((r) => r.reason?.message ?? String(r.reason)).join('\n'));
  chmodSync(out('dist/cli.js'), 0o755);
  const kib = (f) => `${(statSync(f).size / 1024).toFixed(1)} KiB`;
  const sizes = targets.map((t) => `${t.outfile} ${kib(out(t.outfile))}`);
  if (lazy)
    sizes.push(
      `chunks: ${readdirSync(chunkDir)
        .filter((f) => f.endsWith('.js'))
        .map((f) => `${f} ${kib(path.join(chunkDir, f))}`)
        .join(', ')}`,
    );
  console.log(`build${production ? ' (production)' : ''}: ${sizes.join(', ')} in ${(performance.now() - t0).toFixed(0)} ms`);
}

// run as a script (imported, e.g. by the packaging test for lazyChunks, it builds nothing)
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
