#!/usr/bin/env node
// Layering rules, enforced as a build error rather than a review comment:
//  - src/core never imports `vscode` (it runs in plain Node, the CLI and the eval runner);
//  - src/core never imports from src/extension, src/webview or src/cli;
//  - src/webview never imports `vscode` or node built-ins (it runs in a browser).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const importRe = /(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]([^'"]+)['"]/g;

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(ts|tsx|mts|cts|js|mjs)$/.test(name)) yield p;
  }
}

const problems = [];
const rules = [
  { dir: 'src/core', bad: (spec, file) => spec === 'vscode' || /(^|\/)(extension|webview|cli)\//.test(path.relative(path.join(root, 'src'), path.resolve(path.dirname(file), spec))) && spec.startsWith('.'), why: 'src/core must stay editor-free (no vscode, no src/extension|webview|cli imports): move the adapter to src/extension' },
  { dir: 'src/webview', bad: (spec) => spec === 'vscode' || spec.startsWith('node:'), why: 'src/webview runs in the browser: talk to the extension through src/webview/protocol.ts' },
];
for (const rule of rules) {
  const dir = path.join(root, rule.dir);
  try { statSync(dir); } catch { continue; }
  for (const f of files(dir)) {
    const src = readFileSync(f, 'utf8');
    for (const m of src.matchAll(importRe)) {
      if (rule.bad(m[1], f)) problems.push(`${path.relative(root, f)}: imports '${m[1]}' — ${rule.why}`);
    }
  }
}
if (problems.length) {
  console.error(`layer check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('layer check: src/core is editor-free, src/webview is browser-only');
