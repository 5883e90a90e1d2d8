#!/usr/bin/env node
// Regenerates prelude.ts from prelude.py (the Python stays readable and testable as a .py file;
// the bundle gets it as a string). Run after editing prelude.py:
//   node src/core/kernel/embed-prelude.mjs
// test/unit/kernel/prelude.test.ts fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const py = readFileSync(path.join(dir, 'prelude.py'), 'utf8');
if (py.includes('`') || py.includes('${')) {
  console.error('prelude.py must not contain backticks or "${": it is embedded in a template literal');
  process.exit(1);
}
const ts = `/**
 * GENERATED from prelude.py by embed-prelude.mjs — do not edit here; edit prelude.py and run
 * \`node src/core/kernel/embed-prelude.mjs\`. The Python source of the kernel prelude (see prelude.py).
 */
export const PRELUDE_PY: string = String.raw\`${py}\`;
`;
writeFileSync(path.join(dir, 'prelude.ts'), ts);
console.log(`prelude.ts: ${py.length} characters of Python embedded`);
