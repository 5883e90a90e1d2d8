// TypeScript for Node outside the bundles (tests, bench, fixtures): `node --require
// ./scripts/registerTs.cjs file.ts`, or mocha's `--require`. tsx's CommonJS hook, plus `.py`
// files imported as text, as esbuild's text loader does in the bundles (scripts/build.mjs):
// the kernel prelude's parts (src/core/kernel/prelude/index.ts).
const { readFileSync } = require('node:fs');

require('tsx/cjs');
require.extensions['.py'] = (module, filename) => {
  module.exports = readFileSync(filename, 'utf8');
};
