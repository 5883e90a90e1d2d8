/**
 * Python semantics over the nodes of a parsed literal (pyLiteral.ts): indexing as Python
 * evaluates it, with the error Python would raise, and the value as plain JS.
 */

/** A parsed literal's node (parsePyLiteral in pyLiteral.ts), with its span in the source text. */
export type PyNode =
  | { kind: 'none' | 'bool' | 'int' | 'float' | 'str' | 'bytes'; value: unknown; start: number; end: number }
  | { kind: 'list' | 'tuple' | 'set'; items: PyNode[]; start: number; end: number }
  | { kind: 'dict'; entries: [PyNode, PyNode][]; start: number; end: number };

/** Python's type name of a node (for error messages). */
export function pyTypeName(n: PyNode): string {
  return n.kind === 'none' ? 'NoneType' : n.kind;
}

/** A short Python-like repr of a key (for KeyError). */
function keyRepr(key: string): string {
  return `'${key.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * `node[key]` for a str key, as Python evaluates it: the dict's value (the last one written
 * under that key), or the error Python raises (`KeyError: 'k'`, `TypeError: …`).
 */
export function pyGetItem(node: PyNode, key: string): { ok: true; value: PyNode } | { ok: false; error: string } {
  if (node.kind === 'dict') {
    let found: PyNode | undefined;
    for (const [k, v] of node.entries) if (k.kind === 'str' && k.value === key) found = v;
    return found ? { ok: true, value: found } : { ok: false, error: `KeyError: ${keyRepr(key)}` };
  }
  if (node.kind === 'list' || node.kind === 'tuple')
    return { ok: false, error: `TypeError: ${node.kind} indices must be integers or slices, not str` };
  if (node.kind === 'str') return { ok: false, error: 'TypeError: string indices must be integers' };
  if (node.kind === 'bytes') return { ok: false, error: 'TypeError: byte indices must be integers or slices, not str' };
  return { ok: false, error: `TypeError: '${pyTypeName(node)}' object is not subscriptable` };
}

/** The node as plain JSON-able JS: ints as numbers, tuples and sets as arrays, dicts as objects (str keys; others by their text). */
export function pyToJs(node: PyNode, source: string): unknown {
  switch (node.kind) {
    case 'list':
    case 'tuple':
    case 'set':
      return node.items.map((x) => pyToJs(x, source));
    case 'dict':
      return Object.fromEntries(
        node.entries.map(([k, v]) => [k.kind === 'str' ? (k.value as string) : source.slice(k.start, k.end), pyToJs(v, source)]),
      );
    case 'int':
      return Number(node.value as bigint);
    case 'bytes':
      return Buffer.from(node.value as Uint8Array).toString('latin1');
    default:
      return node.value;
  }
}
