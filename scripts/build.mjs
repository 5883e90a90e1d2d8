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
import { bundleOptions, buildSourceChunks, COMMON, getters, TABLE, tableModule } from './sourceChunks.mjs';

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
 * This project's own modules that activation does not need are listed the same way, `pkg` being
 * the module's path (`src/….ts`, one the extension imports): for the extension bundle only (the
 * CLI inlines them), imported as before (a command's `import()`, or a static import read at the
 * call). Such a chunk holds no copy of what the extension bundle holds: it takes the bundle's own
 * instances (one set of the process's secrets, one class per error, one write queue per file), and
 * the modules two chunks use are in dist/chunks/common.js: see scripts/sourceChunks.mjs.
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
  // this project's modules, each loaded by the extension on its first use:
  // a Ray job's working_dir zip (fflate's tables are built when it loads: ~5 ms)
  { pkg: 'src/core/jobs/zip.ts', name: 'jobs-zip' },
  // the model formats other than the default's: built when a run picks one (core/protocol/index.ts)
  { pkg: 'src/core/protocol/thyme.ts', name: 'protocol-thyme' },
  { pkg: 'src/core/protocol/pyvision.ts', name: 'protocol-pyvision' },
  { pkg: 'src/core/protocol/deepeyes.ts', name: 'protocol-deepeyes' },
  // the kernel prelude's Python (~90 KiB of text, and its deferred parts compressed when it loads): sent when a kernel starts
  { pkg: 'src/core/kernel/prelude/index.ts', name: 'kernel-prelude' },
  // kernels on a Jupyter server or in a notebook's environment (import() where one starts)
  { pkg: 'src/core/kernel/remote/index.ts', name: 'kernel-remote' },
  { pkg: 'src/core/kernel/remote/server.ts', name: 'kernel-remote-server' },
  { pkg: 'src/core/kernel/notebook/index.ts', name: 'kernel-notebook' },
  // the editor's eval commands (import() in commands.ts)
  { pkg: 'src/extension/eval/runEvalCommand.ts', name: 'eval-commands' },
  { pkg: 'src/extension/eval/resultsTablePanel.ts', name: 'eval-results-table' },
  // the run view and the checkpoint commands (registerRuns.ts)
  { pkg: 'src/extension/runs/runViews.ts', name: 'run-view' },
  { pkg: 'src/extension/runs/checkpointEval.ts', name: 'checkpoint-eval' },
  // the dataset viewer, verify and export (registerData.ts)
  { pkg: 'src/extension/data/datasetEditor.ts', name: 'dataset-viewer' },
  { pkg: 'src/extension/data/dataCommands.ts', name: 'data-commands' },
  // serving models on a cluster (registerServe.ts)
  { pkg: 'src/extension/serve/ServedJobs.ts', name: 'serve-jobs' },
];
const chunkDir = path.join(outDir, 'chunks');
/** one of this project's modules (its path), not a package */
const isSource = (c) => c.pkg.endsWith('.ts');

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
  const bundled = lazyChunks.filter((c) => !c.native && !isSource(c));
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
  const names = [...lazyChunks.filter((c) => !c.native).map((c) => c.name), COMMON];
  const keep = new Set(names.flatMap((n) => [`${n}.js`, `${n}.js.map`]));
  for (const f of readdirSync(chunkDir))
    if (!keep.has(f) || (production && f.endsWith('.map'))) rmSync(path.join(chunkDir, f), { force: true });
  const req = createRequire(import.meta.url);
  const packages = lazyChunks.filter((c) => !isSource(c));
  return new Map(packages.map((c) => [c.pkg, Object.keys(req(c.native ? c.pkg : path.join(chunkDir, `${c.name}.js`)))]));
}

const RESOLVING = 'codedance-lazy-resolving';
/** path from the root, forward slashes (how metafiles and lazyChunks name a module) */
const fromRoot = (p) => path.relative(root, p).split(path.sep).join('/');

/**
 * esbuild plugin: each lazy package or module → a module of getters over require('<dir><name>.js').
 * `chunks`: the lazy entries this build resolves so (the packages alone, unless told); `dir`: the
 * chunks' folder from the output file; `self`: the module a chunk is built of (bundled, not
 * redirected); `held`: for a chunk, the modules (and lazy packages) it reads from elsewhere (the
 * extension bundle, dist/chunks/common.js) → that file's require() path, read from its
 * `__chunkImports` instead of copied; `table`: the modules whose `__chunkImports` the module TABLE exports (common.js's);
 * `prePass`: `held` stay imports of `codedance-held:<path>` (what is taken from them is read there).
 */
function lazyChunksPlugin(
  exportsOf,
  { chunks = lazyChunks.filter((c) => !isSource(c)), dir = './chunks/', self, held, table, prePass } = {},
) {
  const byPkg = new Map(chunks.filter((c) => c.pkg !== self).map((c) => [c.pkg, c]));
  const byPath = chunks.some(isSource) || held;
  // `.cjs`: a CommonJS module, whatever the held file is (an `.mjs` would be taken for one without exports)
  const heldOr = (file, otherwise) => {
    if (!held?.has(file)) return otherwise;
    return prePass ? { path: `codedance-held:${file}`, external: true } : { path: `${file}.cjs`, namespace: 'codedance-held' };
  };
  return {
    name: 'codedance-lazy-chunks',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (a) => {
        if (a.namespace === 'codedance-lazy' || a.namespace === 'codedance-held') return { path: a.path, external: true }; // the chunk, the native package, the bundle
        if (byPkg.has(a.path)) return heldOr(a.path, { path: a.path, namespace: 'codedance-lazy' });
        if (a.path === TABLE && table) return { path: a.path, namespace: 'codedance-table' };
        if (!byPath || a.kind === 'entry-point' || a.pluginData?.[RESOLVING]) return undefined;
        const { kind, importer, resolveDir } = a;
        const r = await build.resolve(a.path, { kind, importer, resolveDir, pluginData: { [RESOLVING]: true } });
        if (r.errors.length || r.external || r.namespace !== 'file') return undefined; // esbuild resolves (and reports) it again
        const file = fromRoot(r.path);
        if (byPkg.has(file)) return { path: file, namespace: 'codedance-lazy' };
        return heldOr(file, undefined);
      });
      build.onLoad({ filter: /.*/, namespace: 'codedance-lazy' }, (a) => {
        const c = byPkg.get(a.path);
        const target = c.native ? c.pkg : `${dir}${c.name}.js`;
        const keys = JSON.stringify(exportsOf.get(a.path) ?? []);
        return {
          resolveDir: root,
          loader: 'js',
          contents: getters(`${c.pkg}: loaded from ${target} when an export is first read`, `require('${target}')`, keys),
        };
      });
      build.onLoad({ filter: /.*/, namespace: 'codedance-table' }, () => ({
        resolveDir: root,
        loader: 'js',
        contents: tableModule(table),
      }));
      build.onLoad({ filter: /.*/, namespace: 'codedance-held' }, (a) => {
        const file = a.path.slice(0, -'.cjs'.length);
        const from = `require('${held.get(file)}').__chunkImports[${JSON.stringify(file)}]`;
        return { resolveDir: root, loader: 'js', contents: getters(`${file}: read from ${held.get(file)}`, from, 'Object.keys(load())') };
      });
    },
  };
}

/** What sourceChunks.mjs builds the extension bundle's chunks of this project's modules with. */
const sourceSetup = () => ({
  root,
  outDir,
  chunkDir,
  sources: lazyChunks.filter(isSource),
  packages: lazyChunks.filter((c) => !isSource(c)).map((c) => c.pkg),
  options: { ...common, platform: 'node', target: 'node20', external: ['vscode', ...nativeExternals] },
  plugin: (exportsOf, only) => lazyChunksPlugin(exportsOf, { chunks: lazyChunks, ...only }),
});

export const targets = [
  {
    ...common,
    lazy: true,
    // this project's lazy modules too (lazyChunks: `src/….ts`); not in --watch, which rebuilds the bundles alone
    sourceChunks: true,
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
  const sourceChunks = new Map();
  for (const t of targets)
    if (t.sourceChunks && exportsOf && !watch) sourceChunks.set(t, await buildSourceChunks(sourceSetup(), t, exportsOf));
  const options = targets.map((target) => {
    const own = sourceChunks.get(target);
    if (own) return { ...bundleOptions(sourceSetup(), target, own.exportsOf, own.shared), outfile: out(target.outfile) };
    const { lazy: lazyTarget, sourceChunks: _sources, ...t } = target;
    return { ...t, outfile: out(t.outfile), ...(lazyTarget && exportsOf ? { plugins: [lazyChunksPlugin(exportsOf)] } : {}) };
  });
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
