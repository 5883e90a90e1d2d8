/**
 * The extension bundle: `dist/extension.js` as a production build (minified, no source maps)
 * ships it, side by side with the same build with every dependency inlined (no dist/chunks: the
 * baseline, as before the lazy chunks):
 *   - its size (goal ≤ 1 MB);
 *   - loading it: a fresh Node process requires it with a stand-in for the `vscode` module, and
 *     the time of that require() is taken, rounds alternating with the baseline. Activation in
 *     the real VS Code (the e2e host suite prints it) is this load plus activate() itself.
 * Both builds go to out/bench-bundle/ (inside the repository, so that `zeromq` resolves).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { BenchResult } from './kernel.bench';

const ROOT = path.resolve(__dirname, '..');
const ROUNDS = 9;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** require(file) with `vscode` answered by a stand-in; prints the ms it took and the chunks it loaded */
const LOAD = `
const Module = require('module');
const load = Module._load;
const any = new Proxy(function () {}, { get: (t, k) => (k === 'then' ? undefined : k === 'prototype' ? {} : any), apply: () => any, construct: () => ({}) });
const vscode = new Proxy({}, { get: (t, k) => (k === 'then' || k === '__esModule' ? undefined : any), getPrototypeOf: () => any });
Module._load = function (request, ...rest) { return request === 'vscode' ? vscode : load.call(this, request, ...rest); };
const t0 = performance.now();
require(process.argv[1]);
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ ms, chunks: Object.keys(require.cache).filter((f) => f.includes('/chunks/')).length }));`;

function build(dir: string, lazy: boolean): void {
  execFileSync(process.execPath, ['scripts/build.mjs', '--production', `--outdir=${dir}`, ...(lazy ? [] : ['--no-lazy'])], {
    cwd: ROOT,
    stdio: 'pipe',
  });
}

function loadMs(file: string): { ms: number; chunks: number } {
  const r = spawnSync(process.execPath, ['-e', LOAD, file], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`loading ${file} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ms: number; chunks: number };
}

export async function run(): Promise<BenchResult[]> {
  const base = path.join(ROOT, 'out', 'bench-bundle');
  const lazyDir = path.join(base, 'lazy');
  const inlineDir = path.join(base, 'inline');
  rmSync(base, { recursive: true, force: true });
  try {
    build(lazyDir, true);
    build(inlineDir, false);
    const ext = (d: string) => path.join(d, 'extension.js');
    const size = statSync(ext(lazyDir)).size;
    const inlineSize = statSync(ext(inlineDir)).size;
    const chunkBytes = readdirSync(path.join(lazyDir, 'chunks')).reduce((n, f) => n + statSync(path.join(lazyDir, 'chunks', f)).size, 0);
    const t: Record<'lazy' | 'inline', number[]> = { lazy: [], inline: [] };
    let chunksLoaded = 0;
    for (let r = 0; r < ROUNDS + 1; r++) {
      const a = loadMs(ext(lazyDir));
      const b = loadMs(ext(inlineDir));
      chunksLoaded = Math.max(chunksLoaded, a.chunks);
      if (r === 0) continue; // warms the file cache for both
      t.lazy.push(a.ms);
      t.inline.push(b.ms);
    }
    const kb = (n: number) => round(n / 1024);
    return [
      {
        name: 'bundle.extension_js.production',
        value: kb(size),
        unit: 'KiB',
        baseline: kb(inlineSize),
        ratio: round(size / inlineSize, 3),
        goal: '≤ 1 MB (1,000,000 bytes)',
        pass: size <= 1_000_000,
      },
      { name: 'bundle.chunks.production (loaded on first use)', value: kb(chunkBytes), unit: 'KiB' },
      {
        name: 'bundle.extension_js.load (require, plain Node)',
        value: round(median(t.lazy), 2),
        unit: 'ms',
        baseline: round(median(t.inline), 2),
        ratio: round(median(t.lazy) / median(t.inline), 3),
        goal: '≤ 30 ms, no chunk loaded',
        pass: median(t.lazy) <= 30 && chunksLoaded === 0,
      },
    ];
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().then(
    (rs) => console.log(JSON.stringify(rs, null, 1)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
