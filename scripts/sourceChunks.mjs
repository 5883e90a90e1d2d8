// The chunks of this project's own modules (scripts/build.mjs: the lazyChunks whose `pkg` is a
// `src/….ts` path), for the extension bundle. Like a package's chunk, each is loaded on the first
// read of an export (build.mjs's getter modules); unlike one, it shares modules with the bundle,
// and no module may be in two places (it would run twice: two states, two classes). So a chunk
// holds only code that the bundle does not: a module whose code the bundle holds is read from the
// bundle's `__chunkImports` (found by a metafile pre-pass); the modules two chunks use are in
// dist/chunks/common.js and read from it the same way. A package the bundle holds is copied (the
// packages here keep no state, and a copy keeps only what the chunk uses).
import * as esbuild from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';

/** A CommonJS module whose exports `keys` (JS) are getters over `load` (JS), run when one is first read. */
export const getters = (comment, load, keys) => `// ${comment}
let m;
const load = () => (m ??= ${load});
Object.defineProperty(exports, '__esModule', { value: true });
for (const k of ${keys}) Object.defineProperty(exports, k, { enumerable: true, get: () => load()[k] });
`;

/** the module of `__chunkImports` a chunk build is given (the plugin's `table`: dist/chunks/common.js's) */
export const TABLE = 'codedance-chunk-imports';
/** dist/chunks/common.js: this project's modules that two chunks (or more) use and the bundle does not hold */
export const COMMON = 'common';

/**
 * An ES module exporting `__chunkImports`: for each module of `names` (path from the root → the
 * names chunks take from it, `*` for all), an object of getters (live bindings) over them, so
 * that the rest of the module can still be left out of the build (tree shaking).
 */
export function tableModule(names) {
  const files = [...names.keys()];
  const lines = files.map((p, i) => `import * as m${i} from '${p.startsWith('src/') ? './' : ''}${p}';`);
  const entry = (p, i) => {
    const n = names.get(p);
    if (n.includes('*')) return `m${i}`;
    return `{ ${n.map((k) => `get ${JSON.stringify(k)}() { return m${i}[${JSON.stringify(k)}]; }`).join(', ')} }`;
  };
  lines.push(`export const __chunkImports = { ${files.map((p, i) => `${JSON.stringify(p)}: ${entry(p, i)}`).join(',\n')} };`);
  return lines.join('\n');
}

/**
 * What build.mjs passes as `s`: `root`, `outDir`, `chunkDir`, `sources` (the lazy modules),
 * `packages` (the lazy packages' names), `options` (a chunk build's esbuild options) and
 * `plugin(exportsOf, only)` (its lazyChunksPlugin, `only` setting `self`, `held`, `table`,
 * `prePass` and `dir`).
 */

/** Options of the extension bundle's build: its module, and `__chunkImports` of what the chunks take from it. */
export function bundleOptions(s, target, exportsOf, shared = new Map()) {
  const { lazy: _lazy, sourceChunks: _sources, entryPoints, ...t } = target;
  const entry = entryPoints[0];
  const stdin = { contents: `export * from './${entry}';\n${tableModule(shared)}`, resolveDir: s.root, sourcefile: `${entry}.entry.js` };
  return { ...t, stdin, plugins: [s.plugin(exportsOf, {})] };
}

/** Options of a chunk of this project's code. */
function chunkOptions(s, name, exportsOf, only) {
  return { ...s.options, outfile: path.join(s.chunkDir, `${name}.js`), plugins: [s.plugin(exportsOf, { dir: './', ...only })] };
}

/** the one .js output of a build's metafile */
const outputOf = (meta) => Object.entries(meta.outputs).find(([f]) => f.endsWith('.js'))[1];
/** this project's modules whose code is in the output (not those it only passes through: an index that re-exports) */
const codeOf = (meta) =>
  Object.entries(outputOf(meta).inputs)
    .filter(([f, i]) => f.startsWith('src/') && i.bytesInOutput > 0)
    .map(([f]) => f);

/** Adds to `into` (path → names) what an ES output takes from the modules it reads from elsewhere (`codedance-held:` imports). */
function heldNames(text, into) {
  const add = (file, name) => into.set(file, [...new Set([...(into.get(file) ?? []), name])].sort());
  for (const [, clause, file] of text.matchAll(/\b(?:import|export)\s*([^;]*?)\s*from\s*"codedance-held:([^"]+)"/g)) {
    if (clause.startsWith('*')) add(file, '*');
    if (/^[\w$]+\s*(,|$)/.test(clause)) add(file, 'default');
    for (const n of /\{([^}]*)\}/.exec(clause)?.[1].split(',') ?? []) if (n.trim()) add(file, n.trim().split(/\s+as\s+/)[0]);
  }
  for (const [, file] of text.matchAll(/\bimport\("codedance-held:([^"]+)"\)/g)) add(file, '*');
}

/** A chunk not written: the code it would hold, its export names (an ES module's), and (into `names`) what it takes from elsewhere. */
async function prePass(s, name, contents, exportsOf, only, names) {
  const o = chunkOptions(s, name, exportsOf, { ...only, prePass: true });
  const stdin = { contents, resolveDir: s.root };
  const r = await esbuild.build({ ...o, stdin, format: 'esm', sourcemap: false, write: false, metafile: true });
  heldNames(r.outputFiles.find((f) => f.path.endsWith('.js')).text, names);
  return { code: codeOf(r.metafile), exports: outputOf(r.metafile).exports };
}

/** dist/chunks/<name>.js: getters over `load` (a require() esbuild bundles), so that its code runs on the first read. */
function writeChunk(s, name, load, keys, exportsOf, only) {
  const contents = getters(`${name}: run when an export is first read`, load, JSON.stringify(keys));
  const stdin = { contents, resolveDir: s.root, sourcefile: `${name}.entry.js` };
  return esbuild.build({ ...chunkOptions(s, name, exportsOf, only), stdin, format: 'cjs' });
}

/**
 * The modules that two chunks or more would hold: they go to dist/chunks/common.js (with what
 * they import), which the chunks read them from. `held`: the bundle's modules. Returns them (path
 * → the names taken), what is taken from the bundle, and each chunk's pre-pass.
 */
async function sharedModules(s, exportsOf, held) {
  let shared = [];
  for (;;) {
    const fromCommon = new Map([...held, ...shared.map((f) => [f, `./${COMMON}.js`])]);
    const names = new Map();
    const chunks = await Promise.all(
      s.sources.map((c) => prePass(s, c.name, `export * from './${c.pkg}';`, exportsOf, { self: c.pkg, held: fromCommon }, names)),
    );
    const table = new Map(shared.map((f) => [f, names.get(f) ?? []]));
    const common = await prePass(s, COMMON, `export * from '${TABLE}';`, exportsOf, { held, table }, names);
    const holders = new Map();
    for (const f of [...chunks, common].flatMap((c) => c.code)) holders.set(f, (holders.get(f) ?? 0) + 1);
    const more = [...holders].filter(([f, n]) => n > 1 && !shared.includes(f)).map(([f]) => f);
    if (!more.length) return { table, fromBundle: new Map([...names].filter(([f]) => held.has(f))), chunks };
    shared = [...shared, ...more].sort();
  }
}

/**
 * dist/chunks/<name>.js for each of this project's lazy modules, and common.js; returns their
 * export names and what the bundle hands them (bundleOptions' `shared`). A chunk's code runs on
 * the first read of an export: requiring it needs neither `vscode` nor the bundle.
 */
export async function buildSourceChunks(s, target, exportsOf) {
  const bundleFile = path.join(s.outDir, path.relative('dist', target.outfile));
  const bundleRef = path.relative(s.chunkDir, bundleFile).split(path.sep).join('/'); // ../extension.js
  const pre = await esbuild.build({ ...bundleOptions(s, target, exportsOf), write: false, metafile: true, outfile: bundleFile });
  // a lazy package too: through the bundle's getters, so that its chunk is required from one place
  const held = new Map([...codeOf(pre.metafile), ...s.packages].map((f) => [f, bundleRef]));
  const { table, fromBundle, chunks } = await sharedModules(s, exportsOf, held);
  const own = new Map(exportsOf);
  s.sources.forEach((c, i) => own.set(c.pkg, chunks[i].exports));
  const fromCommon = new Map([...held, ...[...table.keys()].map((f) => [f, `./${COMMON}.js`])]);
  await Promise.all([
    ...s.sources.map((c) => writeChunk(s, c.name, `require('./${c.pkg}')`, own.get(c.pkg), own, { self: c.pkg, held: fromCommon })),
    table.size ? writeChunk(s, COMMON, `require('${TABLE}')`, ['__chunkImports'], own, { held, table }) : undefined,
  ]);
  if (!table.size) rmSync(path.join(s.chunkDir, `${COMMON}.js`), { force: true });
  return { exportsOf: own, shared: fromBundle };
}
