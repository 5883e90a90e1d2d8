#!/usr/bin/env node
// `npm test`: every layer in order, then ONE summary line `N passed, N failed` for all of them.
//   static       type check + ESLint (layer zones, unused code, file size; each counts as one test)
//   unit         mocha on src/core in plain Node            test/unit/**/*.test.ts
//   integration  real local services (kernel, fixture model) test/integration/**/*.test.ts
//   e2e          a real VS Code (code-server + chromium)     test/e2e/*.test.ts (+ in-host suite)
// Usage: node scripts/test-all.mjs [layer ...]. Exit code non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-test-'));

const mochaLayers = {
  unit: { spec: 'test/unit/**/*.test.ts', timeout: 20000 },
  integration: { spec: 'test/integration/**/*.test.ts', timeout: 120000 },
  e2e: { spec: 'test/e2e/*.test.ts', timeout: 300000 },
};
const all = ['static', 'unit', 'integration', 'e2e'];
const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const layers = wanted.length ? wanted : all;
for (const l of layers) {
  if (!all.includes(l)) {
    console.error(`unknown test layer '${l}': use one of ${all.join(', ')}`);
    process.exit(2);
  }
}

const results = [];

function run(cmd, args, env = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  return { status: r.status ?? 1, seconds: (Date.now() - t0) / 1000 };
}

function readCounts(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

for (const layer of layers) {
  console.log(`\n=== ${layer} ${'='.repeat(60 - layer.length)}`);
  if (layer === 'static') {
    const t0 = Date.now();
    const tc = run(bin('tsc'), ['-p', '.', '--noEmit']);
    console.log(tc.status === 0 ? '  ✔ typecheck (tsc --noEmit, strict)' : '  ✘ typecheck failed');
    const lc = run(bin('eslint'), ['.']);
    console.log(lc.status === 0 ? '  ✔ lint (eslint: layer zones, unused code, ≤400 lines a file)' : '  ✘ lint failed');
    const failed = (tc.status !== 0) + (lc.status !== 0);
    results.push({ layer, passed: 2 - failed, failed, skipped: 0, seconds: (Date.now() - t0) / 1000 });
    continue;
  }
  if (layer === 'e2e') rmSync(path.join(root, 'test/e2e/.artifacts'), { recursive: true, force: true });
  if (layer === 'e2e' || layer === 'integration') {
    // the bundles are what VS Code and the CLI tests load
    const b = run('node', ['scripts/build.mjs']);
    if (b.status !== 0) {
      results.push({ layer, passed: 0, failed: 1, skipped: 0, seconds: b.seconds, note: 'build failed' });
      continue;
    }
  }
  const { spec, timeout } = mochaLayers[layer];
  const countsFile = path.join(tmp, `${layer}.json`);
  const hostCountsFile = path.join(tmp, `${layer}-host.json`);
  const r = run(
    bin('mocha'),
    ['--require', 'tsx/cjs', '--reporter', path.join(root, 'test/countingReporter.cjs'), '--timeout', String(timeout), '--exit', spec],
    { CODEDANCE_COUNTS_FILE: countsFile, CODEDANCE_E2E_COUNTS: hostCountsFile },
  );
  const c = readCounts(countsFile);
  if (!c) {
    results.push({ layer, passed: 0, failed: 1, skipped: 0, seconds: r.seconds, note: `mocha exited ${r.status} before reporting` });
    continue;
  }
  let { passed, failed, skipped } = c;
  const host = readCounts(hostCountsFile); // tests that ran inside the VS Code extension host
  if (host) {
    passed += host.passed;
    failed += host.failed;
  }
  if (r.status !== 0 && failed === 0) failed = 1; // a crash after the counts were written
  results.push({ layer, passed, failed, skipped: skipped ?? 0, seconds: r.seconds, note: host ? `incl. ${host.passed + host.failed} in the extension host` : undefined });
}
rmSync(tmp, { recursive: true, force: true });

console.log('\nlayer          passed  failed  skipped  seconds');
for (const r of results) {
  console.log(`${r.layer.padEnd(14)} ${String(r.passed).padStart(6)}  ${String(r.failed).padStart(6)}  ${String(r.skipped).padStart(7)}  ${r.seconds.toFixed(1).padStart(7)}${r.note ? '  ' + r.note : ''}`);
}
const sum = (k) => results.reduce((a, r) => a + r[k], 0);
const passed = sum('passed');
const failed = sum('failed');
const skipped = sum('skipped');
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
