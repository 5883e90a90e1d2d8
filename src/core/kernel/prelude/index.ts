/**
 * The Python source of the kernel prelude: the parts in this folder, concatenated in this order
 * into ONE module (`_codedance`, see core.py): a name defined in one part is used by the parts
 * after it. Each `.py` is imported as text: esbuild's text loader embeds it in the bundles
 * (scripts/build.mjs), scripts/registerTs.cjs reads it where tsx runs the sources (tests, bench).
 */
import { deflateSync } from 'node:zlib';
import capture from './capture.py';
import core from './core.py';
import executor from './executor.py';
import fastpaths from './fastpaths.py';
import inputs from './inputs.py';
import install from './install.py';
import output from './output.py';
import thyme from './thyme.py';

/** load order: a new part is listed here (test/unit/kernel/prelude.test.ts checks every .py is) */
const parts: ReadonlyArray<readonly [name: string, text: string]> = [
  ['core.py', core],
  ['capture.py', capture],
  ['output.py', output],
  ['executor.py', executor],
  ['inputs.py', inputs],
  ['fastpaths.py', fastpaths],
  ['install.py', install],
];

/**
 * Parts only some formats use: compiled in the kernel on first use (core.py `_load_part(name)`,
 * called by the code that needs one), into the same module. They ride in the prelude compressed
 * (`_DEFERRED_PARTS`, appended last): a kernel that never uses them neither compiles them nor
 * receives their full text in the prelude's cell.
 */
const deferred: ReadonlyArray<readonly [name: string, text: string]> = [['thyme.py', thyme]];

export const PRELUDE_PARTS: readonly string[] = parts.map(([name]) => name);

export const PRELUDE_DEFERRED_PARTS: readonly string[] = deferred.map(([name]) => name);

const deferredTable = `_DEFERRED_PARTS = {\n${deferred
  .map(([name, text]) => `    ${JSON.stringify(name)}: "${deflateSync(Buffer.from(text, 'utf8')).toString('base64')}",\n`)
  .join('')}}\n`;

export const PRELUDE_PY: string = [...parts.map(([, text]) => text), deferredTable].join('\n\n');

/** the input-image part alone: eval/imagePreparer.ts prepares the model's images with the same code, outside a kernel */
export const PRELUDE_INPUTS_PY: string = inputs;
