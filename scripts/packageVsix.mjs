#!/usr/bin/env node
// Per-platform .vsix files, as VS Code's marketplace serves them: `vsce package --target T`
// with .vscodeignore narrowed so the package carries only that platform's zeromq addon.
//   node scripts/packageVsix.mjs linux-x64 [darwin-arm64 …]   → dist/codedance-<target>.vsix
// (the universal package stays `npm run package`). Runs the production build once first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** vsce targets → zeromq's build/<os>/<arch> folder */
export const TARGETS = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'alpine-x64': 'linux/x64',
  'alpine-arm64': 'linux/arm64',
  'darwin-x64': 'darwin/x64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};
const ALL_ADDONS = '!node_modules/zeromq/build/**/*.node';

/** .vscodeignore with the addon line narrowed to one platform */
export function ignoreFor(target, base = readFileSync(path.join(root, '.vscodeignore'), 'utf8')) {
  const dir = TARGETS[target];
  if (!dir) throw new Error(`unknown target "${target}": one of ${Object.keys(TARGETS).join(', ')}`);
  if (!base.includes(ALL_ADDONS)) throw new Error(`.vscodeignore has no "${ALL_ADDONS}" line to narrow`);
  return base.replace(ALL_ADDONS, `!node_modules/zeromq/build/${dir}/**/*.node`);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const targets = process.argv.slice(2);
  if (!targets.length) {
    console.error(`usage: node scripts/packageVsix.mjs <target>…  (targets: ${Object.keys(TARGETS).join(', ')})`);
    process.exit(2);
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-vsix-'));
  try {
    run(process.execPath, ['scripts/build.mjs', '--production']);
    for (const t of targets) {
      const ignore = path.join(tmp, `${t}.vscodeignore`);
      writeFileSync(ignore, ignoreFor(t));
      // the prepublish build ran above: --no-dependencies is not used (zeromq ships), --skip-license not needed
      run('npx', ['vsce', 'package', '--target', t, '--ignoreFile', ignore, '--out', `dist/codedance-${t}.vsix`]);
    }
  } catch (e) {
    console.error(e.message);
    process.exitCode = 1;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
