#!/usr/bin/env node
// Regenerates prelude.ts from the Python parts in prelude/ (the Python stays readable and
// testable as .py files; the bundle gets it as one string). Run after editing a part:
//   node src/core/kernel/embed-prelude.mjs
// The parts are concatenated in PRELUDE_PARTS order into ONE module (_codedance);
// test/unit/kernel/prelude.test.ts fails when prelude.ts and the parts differ.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PRELUDE_PARTS = ['core.py', 'capture.py', 'output.py', 'executor.py', 'inputs.py', 'install.py'];

const dir = path.dirname(fileURLToPath(import.meta.url));
const onDisk = readdirSync(path.join(dir, 'prelude')).filter((n) => n.endsWith('.py'));
const unlisted = onDisk.filter((n) => !PRELUDE_PARTS.includes(n));
if (unlisted.length) {
  console.error(`prelude/${unlisted.join(', prelude/')}: not in PRELUDE_PARTS of embed-prelude.mjs; add it there (in load order)`);
  process.exit(1);
}
const parts = PRELUDE_PARTS.map((name) => {
  const text = readFileSync(path.join(dir, 'prelude', name), 'utf8');
  if (text.includes('`') || text.includes('${')) {
    console.error(`prelude/${name} must not contain backticks or "\${": it is embedded in a template literal`);
    process.exit(1);
  }
  return text;
});
const py = parts.join('\n\n');
const ts = `/**
 * GENERATED from prelude/*.py by embed-prelude.mjs — do not edit here; edit the parts in
 * prelude/ and run \`node src/core/kernel/embed-prelude.mjs\`. The Python source of the kernel
 * prelude: the parts concatenated in this order into one module (see prelude/core.py).
 */
export const PRELUDE_PARTS: readonly string[] = ${JSON.stringify(PRELUDE_PARTS)};

export const PRELUDE_PY: string = String.raw\`${py}\`;
`;
writeFileSync(path.join(dir, 'prelude.ts'), ts);
console.log(`prelude.ts: ${py.length} characters of Python embedded from ${parts.length} parts`);
