/**
 * scripts/lint/cycles.mjs (a counted check of the static layer, issue #22): an import cycle fails
 * it whatever the imports' form — type-only (`import type`, `export type … from`, which ESLint's
 * import-x/no-cycle skips), runtime, re-export or `import()` — and a tree without one passes.
 * Proven by running the script on small trees written to a temporary folder, and on src/.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../../..');
const script = path.join(root, 'scripts/lint/cycles.mjs');

describe('scripts/lint/cycles.mjs: no import cycle, type-only imports included', function () {
  this.timeout(30000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-cycles-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  /** Writes `files` (relative path → source) to a fresh tree and runs the check on it. */
  function check(name: string, files: Record<string, string>): { status: number | null; out: string } {
    const dir = path.join(tmp, name);
    for (const [rel, code] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), code);
    }
    const r = spawnSync(process.execPath, [script, name], { cwd: tmp, encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  function assertCycle(name: string, files: Record<string, string>, cycle: string[]): void {
    const r = check(name, files);
    assert.equal(r.status, 1, r.out);
    assert.ok(r.out.includes(cycle.map((f) => path.join(name, f)).join(' → ')), r.out);
  }

  it('fails on a cycle of type-only imports (which import-x/no-cycle skips)', () => {
    assertCycle(
      'typeOnly',
      {
        'a.ts': "import type { B } from './b';\nexport interface A { b?: B }\n",
        'b.ts': "import type { A } from './a';\nexport interface B { a?: A }\n",
      },
      ['a.ts', 'b.ts', 'a.ts'],
    );
  });

  it('fails on a type-only re-export closing a cycle through folders and index files', () => {
    assertCycle(
      'reexport',
      {
        'core/index.ts': "export type { Leaf } from './leaf.js';\n",
        'core/leaf.ts': "import type { Top } from '../top';\nexport type Leaf = Top[];\n",
        'top.ts': "import type { Leaf } from './core';\nexport type Top = { leaves: Leaf };\n",
      },
      ['core/index.ts', 'core/leaf.ts', 'top.ts', 'core/index.ts'],
    );
  });

  it('fails on runtime and dynamic-import cycles, and on a file importing itself', () => {
    assertCycle(
      'runtime',
      { 'x.ts': "import { y } from './y';\nexport const x = () => y;\n", 'y.ts': "export const y = () => import('./x');\n" },
      ['x.ts', 'y.ts', 'x.ts'],
    );
    assertCycle('self', { 's.ts': "import type { S } from './s';\nexport type S = { s?: S };\n" }, ['s.ts', 's.ts']);
  });

  it('passes a tree whose imports only go one way (types included)', () => {
    const r = check('clean', {
      'a.ts': "import type { B } from './b';\nimport { c } from './lib/c';\nexport type A = B & { c: typeof c };\n",
      'b.ts': "import type { C } from './lib';\nexport type B = { c: C };\n",
      'lib/index.ts': "export type { C } from './c';\n",
      'lib/c.ts': "import { readFileSync } from 'node:fs';\nexport type C = string;\nexport const c = readFileSync;\n",
    });
    assert.equal(r.status, 0, r.out);
  });

  it('passes src/', () => {
    const r = spawnSync(process.execPath, [script, 'src'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });
});
