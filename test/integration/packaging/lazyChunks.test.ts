/**
 * The lazily loaded chunks (issue 14): scripts/build.mjs puts large dependencies into
 * dist/chunks/<name>.js and the bundles require() one when an export of it is first read. Here,
 * in plain Node on the built dist/ (npm test builds it before this layer): loading extension.js
 * (with a stand-in for the `vscode` module) loads no chunk and not the native zeromq; each chunk
 * loads on its own; every name the sources import from a lazy package is an export of its chunk
 * (a missing one would be `undefined` at the call, not a build error); the vsix carries them.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');
const DIST = path.join(ROOT, 'dist');

interface LazyChunk {
  pkg: string;
  name?: string;
  native?: boolean;
}

/** node -e: require `file` with `vscode` answered by a stand-in; prints what it loaded */
const PROBE = `
const Module = require('module');
const load = Module._load;
const any = new Proxy(function () {}, { get: (t, k) => (k === 'then' ? undefined : k === 'prototype' ? {} : any), apply: () => any, construct: () => ({}) });
const vscode = new Proxy({}, { get: (t, k) => (k === 'then' || k === '__esModule' ? undefined : any), getPrototypeOf: () => any });
Module._load = function (request, ...rest) { return request === 'vscode' ? vscode : load.call(this, request, ...rest); };
const m = require(process.argv[1]);
process.stdout.write(JSON.stringify({ exports: Object.keys(m), loaded: Object.keys(require.cache) }));`;

function probe(file: string): { exports: string[]; loaded: string[] } {
  const r = spawnSync(process.execPath, ['-e', PROBE, file], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `requiring ${file} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { exports: string[]; loaded: string[] };
}

/** the value names (not types) each source file imports from `pkg`, `default` for a default import */
function importedNames(pkg: string): Map<string, string> {
  const names = new Map<string, string>();
  const esc = pkg.replace(/[/.]/g, '\\$&');
  // import('pkg') with the names taken from it: `.then(({ A: x }) =>`, `const { default: X } = await import(`, `.then((m) => new m.A(`
  const dynamic = [
    new RegExp(`import\\('${esc}'\\)\\.then\\(\\(\\{([^}]*)\\}\\)`, 'g'),
    new RegExp(`const \\{([^}]*)\\} = await import\\('${esc}'\\)`, 'g'),
    new RegExp(`import\\('${esc}'\\)\\.then\\(\\((\\w+)\\) => new \\1\\.(\\w+)`, 'g'),
  ];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) {
        const src = readFileSync(p, 'utf8');
        for (const [i, re] of dynamic.entries()) {
          for (const m of src.matchAll(re)) {
            if (i === 2) names.set(m[2], p);
            else for (const n of m[1].split(',')) names.set(n.split(':')[0].trim(), p);
          }
        }
        for (const m of src.matchAll(new RegExp(`^import (?!type )([^;]*?) from '${esc}';`, 'gm'))) {
          const clause = m[1];
          const def = /^([A-Za-z_$][\w$]*)/.exec(clause);
          if (def) names.set('default', p);
          for (const n of /\{([^}]*)\}/.exec(clause)?.[1].split(',') ?? []) {
            const name = n.trim().split(/\s+as\s+/)[0];
            if (name && !name.startsWith('type ')) names.set(name, p);
          }
        }
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  return names;
}

describe('packaging: dependencies loaded on first use (dist/chunks)', function () {
  this.timeout(60_000);
  let chunks: LazyChunk[];
  before(async function () {
    if (!existsSync(path.join(DIST, 'extension.js')))
      throw new Error("dist/ is missing: run 'node scripts/build.mjs' first (npm test does it)");
    ({ lazyChunks: chunks } = (await import(path.join(ROOT, 'scripts/build.mjs'))) as { lazyChunks: LazyChunk[] });
  });

  it('loading extension.js loads no chunk and not zeromq', () => {
    const { loaded, exports } = probe(path.join(DIST, 'extension.js'));
    assert.ok(exports.includes('activate'), 'extension.js exports activate');
    assert.deepEqual(
      loaded.filter((f) => f.includes(`${path.sep}chunks${path.sep}`) || f.includes(`${path.sep}zeromq${path.sep}`)),
      [],
      'loaded at once',
    );
    const ext = readFileSync(path.join(DIST, 'extension.js'), 'utf8');
    for (const c of chunks.filter((x) => !x.native))
      assert.ok(ext.includes(`require("./chunks/${c.name}.js")`), `extension.js requires chunks/${c.name}.js on first use`);
  });

  it('each chunk loads in plain Node and exports every name the sources import from its package', () => {
    // the names taken through import() are found too (else the check below would pass on nothing)
    assert.ok(
      importedNames('ssh2').has('Client') &&
        importedNames('@cortex-js/compute-engine').has('ComputeEngine') &&
        importedNames('ws').has('default'),
    );
    for (const c of chunks) {
      const file = c.native ? c.pkg : path.join(DIST, 'chunks', `${c.name}.js`);
      const { exports } = probe(file);
      assert.ok(exports.length > 0, `${file} exports something`);
      const missing = [...importedNames(c.pkg)].filter(([n]) => !exports.includes(n)).map(([n, f]) => `${n} (${path.relative(ROOT, f)})`);
      assert.deepEqual(missing, [], `imported from ${c.pkg} but not exported by ${path.relative(ROOT, file)}`);
    }
  });

  it('the vsix carries the chunks', () => {
    const r = spawnSync('npx', ['vsce', 'ls'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const files = r.stdout.split('\n').map((l) => l.trim());
    for (const c of chunks.filter((x) => !x.native))
      assert.ok(files.includes(`dist/chunks/${c.name}.js`), `dist/chunks/${c.name}.js ships`);
  });
});
