// No import cycle in src/, type-only imports included (issue #22). ESLint's import-x/no-cycle
// skips `import type` and `export type … from`, so a cycle through types alone could come back
// unseen; this check reads every import form with the TypeScript scanner (ts.preProcessFile:
// static, type-only, re-exports, `import()`, `require()`), resolves the relative ones to files of
// the tree, and reports each strongly connected component (Tarjan) with one cycle through it.
// `node scripts/lint/cycles.mjs [dir …]` (default src); exit status 1 when a cycle is found.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

const EXTS = ['.ts', '.tsx', '.mts', '.cts'];

function listFiles(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) listFiles(p, out);
    else if (EXTS.some((x) => e.name.endsWith(x))) out.push(p);
  }
  return out;
}

/** A relative specifier to a file of the tree: `./x`, `./x.js` (→ x.ts), `./dir` (→ dir/index.ts). */
function resolve(tree, from, spec) {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec);
  const stem = base.replace(/\.(m|c)?jsx?$/, '');
  const tries = [base, ...EXTS.map((x) => stem + x), ...EXTS.map((x) => path.join(base, 'index' + x))];
  return tries.find((p) => tree.has(p));
}

/** Every import cycle under `dirs`: one array of files per cycle, in import order, paths relative to cwd. */
export function findCycles(dirs) {
  const files = dirs.flatMap((d) => listFiles(path.resolve(d)));
  const tree = new Set(files);
  const graph = new Map();
  for (const f of files) {
    const info = ts.preProcessFile(readFileSync(f, 'utf8'), true, true);
    const deps = info.importedFiles.map((i) => resolve(tree, f, i.fileName)).filter((p) => p !== undefined);
    graph.set(f, [...new Set(deps)]);
  }
  // Tarjan's strongly connected components
  let next = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const sccs = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || graph.get(v).includes(v)) sccs.push(scc);
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return sccs.map((scc) => oneCycle(graph, new Set(scc)).map((f) => path.relative(process.cwd(), f)));
}

/** A shortest cycle through the component's first file (breadth-first within the component). */
function oneCycle(graph, scc) {
  const start = [...scc].sort()[0];
  const prev = new Map([[start, undefined]]);
  const queue = [start];
  while (queue.length) {
    const v = queue.shift();
    for (const w of graph.get(v)) {
      if (w === start) {
        const path = [v];
        while (prev.get(path[0]) !== undefined) path.unshift(prev.get(path[0]));
        return [...path, start];
      }
      if (scc.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [...scc];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dirs = process.argv.slice(2);
  const cycles = findCycles(dirs.length ? dirs : ['src']);
  for (const c of cycles) console.error(`import cycle (type-only imports count): ${c.join(' → ')}`);
  if (cycles.length) process.exit(1);
  console.log(`no import cycle in ${dirs.length ? dirs.join(', ') : 'src'}`);
}
