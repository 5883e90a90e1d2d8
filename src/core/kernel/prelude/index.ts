/**
 * The Python source of the kernel prelude: the parts in this folder, concatenated in this order
 * into ONE module (`_codedance`, see core.py): a name defined in one part is used by the parts
 * after it. Each `.py` is imported as text: esbuild's text loader embeds it in the bundles
 * (scripts/build.mjs), scripts/registerTs.cjs reads it where tsx runs the sources (tests, bench).
 */
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
  ['thyme.py', thyme],
  ['fastpaths.py', fastpaths],
  ['install.py', install],
];

export const PRELUDE_PARTS: readonly string[] = parts.map(([name]) => name);

export const PRELUDE_PY: string = parts.map(([, text]) => text).join('\n\n');

/** the input-image part alone: eval/imagePreparer.ts prepares the model's images with the same code, outside a kernel */
export const PRELUDE_INPUTS_PY: string = inputs;
