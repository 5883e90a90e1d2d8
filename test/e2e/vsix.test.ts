/**
 * The .vsix a user would install: `npm run package` (vsce) builds it, code-server installs it
 * with `--install-extension`, and the installed copy carries what it needs at run time (the
 * bundles, and zeromq's native addon loading on this machine).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './build';

describe('e2e: the packaged .vsix installs in code-server', function () {
  this.timeout(240_000);
  let tmp: string;
  const vsix = path.join(ROOT, 'dist', 'codedance.vsix');

  before(() => (tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-vsix-'))));
  after(() => {
    rmSync(tmp, { recursive: true, force: true });
    // packaging leaves production bundles in dist/: put the development build back
    spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  });

  it('npm run package produces dist/codedance.vsix', () => {
    rmSync(vsix, { force: true });
    const r = spawnSync('npm', ['run', 'package'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(existsSync(vsix));
    const mb = statSync(vsix).size / 1024 / 1024;
    console.log(`      [vsix] ${mb.toFixed(1)} MiB`);
    assert.ok(mb < 40, `the .vsix is ${mb.toFixed(1)} MiB: something large slipped past .vscodeignore`);
  });

  it('code-server --install-extension installs it, and the installed copy runs', async () => {
    const cs = await import('../../scripts/codeServer.mjs');
    const entry = path.join(await cs.ensureCodeServer({ log: () => {} }), 'out', 'node', 'entry.js');
    const extDir = path.join(tmp, 'extensions');
    const r = spawnSync(
      process.execPath,
      [entry, '--extensions-dir', extDir, '--user-data-dir', path.join(tmp, 'user'), '--install-extension', vsix],
      {
        encoding: 'utf8',
        env: { ...process.env, HOME: tmp, XDG_CONFIG_HOME: path.join(tmp, 'config') },
      },
    );
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /successfully installed/);
    const installed = readdirSync(extDir).find((d) => d.startsWith('codedance.codedance-vscode-'));
    assert.ok(installed, `not in ${extDir}: ${readdirSync(extDir).join(', ')}`);
    const dir = path.join(extDir, installed);
    for (const f of ['package.json', 'dist/extension.js', 'dist/webview.js', 'dist/cli.js'])
      assert.ok(existsSync(path.join(dir, f)), `${f} missing from the installed extension`);
    // the native addon loads from the installed copy
    const zmq = spawnSync(
      process.execPath,
      ['-e', `const z = require(${JSON.stringify(path.join(dir, 'node_modules', 'zeromq'))}); console.log(typeof z.Dealer)`],
      { encoding: 'utf8' },
    );
    assert.equal(zmq.stdout.trim(), 'function', zmq.stderr);
    // each dependency loaded on first use (dist/chunks, scripts/build.mjs) is there and loads
    const chunks = readdirSync(path.join(dir, 'dist', 'chunks'));
    assert.ok(chunks.includes('ssh2.js') && chunks.includes('jupyterlab-services.js'), `dist/chunks: ${chunks.join(', ')}`);
    for (const c of chunks) {
      const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(dir, 'dist', 'chunks', c))})`], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `dist/chunks/${c} does not load from the installed extension: ${r.stderr}`);
    }
    // and so does the CLI shipped inside it
    const cli = spawnSync(process.execPath, [path.join(dir, 'dist', 'cli.js'), '--help'], { encoding: 'utf8' });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, /codedance <command>/);
  });
});
