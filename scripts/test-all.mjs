#!/usr/bin/env node
// `npm test`: every layer in order, then ONE summary line `N passed, N failed` for all of them.
//   static       type check + ESLint (layer zones, unused code, file size) + knip (unused files,
//                exports, dependencies) + import cycles, type-only ones included
//                (scripts/lint/cycles.mjs); each counts as one test
//   unit         mocha on src/core in plain Node            test/unit/**/*.test.ts
//   integration  real local services (kernel, fixture model) test/integration/**/*.test.ts,
//                then the kernel files again with the kernel's fast paths off
//                (CODEDANCE_KERNEL_FAST_PATHS=0: the plain path, same assertions), its own row
//   e2e          a real VS Code (code-server + chromium)     test/e2e/*.test.ts (+ in-host suite)
// Usage: node scripts/test-all.mjs [layer ...]. Exit code non-zero on any failure.
// Mocha is never told to exit by force: a layer whose mocha has not exited CODEDANCE_EXIT_GRACE_S (15) seconds after
// reporting its results left something open; its active handles are printed
// (test/activeHandles.cjs) and the layer fails.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-test-'));
const exitGraceMs = 1000 * Number(process.env.CODEDANCE_EXIT_GRACE_S || 15);

const mochaLayers = {
  unit: { spec: 'test/unit/**/*.test.ts', timeout: 20000 },
  integration: { spec: 'test/integration/**/*.test.ts', timeout: 120000 },
  e2e: { spec: 'test/e2e/*.test.ts', timeout: 300000 },
};
/** runs after a layer, counted in its own row: the kernel suite with every fast path off, each
 * kernel a new interpreter (the layer itself runs them forked from the template, the default) */
const reruns = {
  integration: {
    label: 'integration (kernel, plain paths, kernels started anew)',
    spec: 'test/integration/kernel/*.test.ts',
    timeout: 120000,
    env: { CODEDANCE_KERNEL_FAST_PATHS: '0', CODEDANCE_KERNEL_FORKED_STARTS: '0' },
  },
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
    // every layer's project (tsconfig.json's references: core, protocol, webview, extension, cli; then tests)
    const tc = run(bin('tsc'), ['-b']);
    console.log(tc.status === 0 ? '  ✔ typecheck (tsc -b: each layer with its own lib and types, strict)' : '  ✘ typecheck failed');
    const lc = run(bin('eslint'), ['.']);
    console.log(lc.status === 0 ? '  ✔ lint (eslint: layer zones, unused code, ≤400 lines a file)' : '  ✘ lint failed');
    const pc = run(bin('prettier'), [
      '--check',
      'src/**/*.{ts,mts,mjs}',
      'test/**/*.{ts,cjs,mjs}',
      'bench/**/*.ts',
      'scripts/**/*.{mjs,cjs,ts}',
      'eslint.config.mjs',
    ]);
    console.log(
      pc.status === 0
        ? '  ✔ format (prettier --check, 140 columns; `npm run format` fixes it)'
        : '  ✘ format: run `npm run format` (prettier --write)',
    );
    const kc = run(bin('knip'), []);
    console.log(kc.status === 0 ? '  ✔ knip (no unused files, exports or dependencies; knip.json)' : '  ✘ knip failed');
    // import-x/no-cycle skips `import type`: this one counts every import form
    const cc = run(process.execPath, ['scripts/lint/cycles.mjs', 'src']);
    console.log(cc.status === 0 ? '  ✔ cycles (no import cycle in src/, type-only imports included)' : '  ✘ import cycle (see above)');
    const checks = { typecheck: tc, lint: lc, 'format (npm run format)': pc, knip: kc, 'import cycles': cc };
    const failures = Object.entries(checks)
      .filter(([, c]) => c.status !== 0)
      .map(([title]) => ({ title, message: 'its output is above, in the static layer' }));
    const failed = failures.length;
    results.push({ layer, passed: Object.keys(checks).length - failed, failed, skipped: 0, seconds: (Date.now() - t0) / 1000, failures });
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
  results.push(await runMocha(layer, mochaLayers[layer]));
  const again = reruns[layer];
  if (again) {
    console.log(`\n=== ${again.label} ${'='.repeat(Math.max(3, 60 - again.label.length))}`);
    results.push(await runMocha(again.label, again));
  }
}

/** one mocha run, counted (test/countingReporter.cjs) */
async function runMocha(label, { spec, timeout, env = {} }) {
  const name = label.replace(/[^a-z0-9]+/gi, '-');
  const countsFile = path.join(tmp, `${name}.json`);
  const hostCountsFile = path.join(tmp, `${name}-host.json`);
  const r = await runWatched(
    bin('mocha'),
    [
      '--require',
      path.join(root, 'scripts/registerTs.cjs'),
      '--require',
      path.join(root, 'test/activeHandles.cjs'),
      '--reporter',
      path.join(root, 'test/countingReporter.cjs'),
      '--timeout',
      String(timeout),
      spec,
    ],
    { ...env, CODEDANCE_COUNTS_FILE: countsFile, CODEDANCE_E2E_COUNTS: hostCountsFile },
    countsFile,
  );
  const c = readCounts(countsFile);
  if (!c) return { layer: label, passed: 0, failed: 1, skipped: 0, seconds: r.seconds, note: `mocha exited ${r.status} before reporting` };
  if (r.hung) {
    console.log(
      `  ✘ ${label}: mocha had not exited ${exitGraceMs / 1000} s after reporting its results: a test left a socket, server, child process or timer open (active handles above); close it where it is opened`,
    );
    return {
      layer: label,
      passed: c.passed,
      failed: c.failed + 1,
      skipped: c.skipped ?? 0,
      seconds: r.seconds,
      note: 'did not exit: leaked handles',
      failures: c.failures ?? [],
    };
  }
  let { passed, failed, skipped } = c;
  const host = readCounts(hostCountsFile); // tests that ran inside the VS Code extension host
  if (host) {
    passed += host.passed;
    failed += host.failed;
  }
  if (r.status !== 0 && failed === 0) failed = 1; // a crash after the counts were written
  return {
    layer: label,
    passed,
    failed,
    skipped: skipped ?? 0,
    seconds: r.seconds,
    note: host ? `incl. ${host.passed + host.failed} in the extension host` : undefined,
    failures: [...(c.failures ?? []), ...(host?.failures ?? [])],
  };
}

/**
 * `run`, watched: once `reportFile` exists (the results are in), the process has exitGraceMs to
 * exit; past that it is asked for its active handles (SIGUSR2), then ended (SIGTERM, SIGKILL).
 */
function runWatched(cmd, args, env, reportFile) {
  const t0 = Date.now();
  const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  let hung = false;
  let reportedAt;
  const timers = [];
  const poll = setInterval(() => {
    if (reportedAt === undefined && existsSync(reportFile)) reportedAt = Date.now();
    if (reportedAt === undefined || hung || Date.now() - reportedAt < exitGraceMs) return;
    hung = true;
    child.kill('SIGUSR2');
    timers.push(
      setTimeout(() => child.kill('SIGTERM'), 2000),
      setTimeout(() => child.kill('SIGKILL'), 7000),
    );
  }, 250);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      clearInterval(poll);
      timers.forEach(clearTimeout);
      resolve({ status: code ?? (signal ? 1 : 0), hung, seconds: (Date.now() - t0) / 1000 });
    });
  });
}
rmSync(tmp, { recursive: true, force: true });

// the failures again, here, so a log read from its tail (CI) names them
for (const r of results.filter((x) => x.failures?.length)) {
  console.log(`\n${r.layer}: ${r.failures.length} failed`);
  for (const f of r.failures) {
    console.log(`  ✘ ${f.title}${f.file ? ` (${path.relative(root, f.file)})` : ''}`);
    console.log(f.message.replace(/^/gm, '      '));
  }
}

const width = Math.max(14, ...results.map((r) => r.layer.length));
console.log(`\n${'layer'.padEnd(width)} passed  failed  skipped  seconds`);
for (const r of results) {
  console.log(
    `${r.layer.padEnd(width)} ${String(r.passed).padStart(6)}  ${String(r.failed).padStart(6)}  ${String(r.skipped).padStart(7)}  ${r.seconds.toFixed(1).padStart(7)}${r.note ? '  ' + r.note : ''}`,
  );
}
const sum = (k) => results.reduce((a, r) => a + r[k], 0);
const passed = sum('passed');
const failed = sum('failed');
const skipped = sum('skipped');
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
