/**
 * What a .vsix carries (issue 13): `vsce ls` with .vscodeignore, and with the per-platform
 * ignore file of scripts/packageVsix.mjs: the bundles, media and the native zeromq runtime;
 * no source maps, no sources; per platform only that platform's addon. Reads the file list only
 * (no build, no packaging: the vsix e2e packages and installs one).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');
// Lives in the integration layer because it lists dist/: npm test builds the bundles before this
// layer (in the unit layer a fresh clone has no dist/ yet).

function vsceLs(ignoreFile?: string): string[] {
  const args = ['vsce', 'ls', ...(ignoreFile ? ['--ignoreFile', ignoreFile] : [])];
  const r = spawnSync('npx', args, { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

describe('packaging: what the .vsix carries', function () {
  this.timeout(60_000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-pack-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('universal: the bundles, media, walkthrough and zeromq runtime; no maps, no sources', () => {
    const files = vsceLs();
    for (const f of [
      'package.json',
      'dist/extension.js',
      'dist/webview.js',
      'dist/report.js',
      'dist/results.js',
      'media/results.css',
      'dist/cli.js',
      'media/chat.css',
      'media/walkthrough/ask.md',
      'node_modules/zeromq/lib/index.js',
      'node_modules/zeromq/build/manifest.json',
      'node_modules/cmake-ts/build/loader.js',
    ])
      assert.ok(files.includes(f), `${f} ships`);
    assert.deepEqual(
      files.filter((f) => /\.map$|\.ts$|\.cc$|\.h$|CMakeLists|\.mocharc/.test(f)),
      [],
      'no source maps or sources',
    );
    assert.ok(
      files.some((f) => f.startsWith('node_modules/zeromq/build/darwin/')),
      'the universal package has every platform',
    );
  });

  it('linux-x64: only linux/x64 zeromq addons', async () => {
    const { ignoreFor } = (await import(path.join(ROOT, 'scripts/packageVsix.mjs'))) as { ignoreFor: (t: string) => string };
    const ignore = path.join(tmp, 'linux-x64.vscodeignore');
    writeFileSync(ignore, ignoreFor('linux-x64'));
    const addons = vsceLs(ignore).filter((f) => f.endsWith('.node'));
    assert.ok(addons.length > 0, 'the linux x64 addon ships');
    assert.deepEqual(
      addons.filter((f) => !f.startsWith('node_modules/zeromq/build/linux/x64/')),
      [],
      'no other platform',
    );
    assert.throws(() => ignoreFor('solaris-sparc'), /unknown target "solaris-sparc": one of linux-x64/);
    assert.ok(readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').includes('!node_modules/zeromq/build/**/*.node'));
  });
});
