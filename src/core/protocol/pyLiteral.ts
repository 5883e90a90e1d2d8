/**
 * A safe reader of Python literals: what `ast.literal_eval` accepts, nothing that runs. Formats
 * whose repository reads a tool call with Python's `eval()` (DeepEyes' eval/eval_vstar.py) are
 * read with this instead: every literal `eval` would read gives the same value here, and
 * anything else (a name, a call, arithmetic) is a `PyLiteralError` — a failed call — where
 * `eval` would have run it.
 *
 * Accepted, as Python 3.11's tokenizer and `literal_eval` do: str and bytes literals (every
 * prefix but f, single/double/triple quotes, escapes, adjacent literals joined), int (decimal
 * without leading zeros, 0x/0o/0b, underscores) and float literals, a sign before a number,
 * True/False/None, tuples (a bare top-level `a, b` too), lists, sets, `set()`, dicts, comments,
 * and newlines inside brackets. Not accepted: complex numbers, `...`, `\N{…}` escapes (rare;
 * they are failed calls here). Every node keeps its span, so a value can be passed on as the
 * exact text the model wrote.
 */

import type { PyNode } from './pyNodes';

export type { PyNode } from './pyNodes';

/** Thrown for text that is not one Python literal: `pyName` is the exception Python would raise. */
export class PyLiteralError extends Error {
  override name = 'PyLiteralError';
  constructor(
    readonly pyName: 'SyntaxError' | 'ValueError' | 'TypeError',
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

const MAX_DEPTH = 200; // CPython's parser gives up on deeper nesting too

const DIGITS = '[0-9](?:_?[0-9])*';
const EXP = `[eE][+-]?${DIGITS}`;
const NUMBER = new RegExp(
  `0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:${DIGITS})?\\.${DIGITS}(?:${EXP})?|${DIGITS}\\.(?:${EXP})?|${DIGITS}(?:${EXP})?`,
  'y',
);
const NAME = /[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*/y;
const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** Parses `text` as one Python literal; throws `PyLiteralError`. */
export function parsePyLiteral(text: string): PyNode {
  return new Reader(text).top();
}

class Reader {
  private i = 0;
  private depth = 0;
  /** numbers written with a sign: `literal_eval` takes one sign, not two */
  private readonly signed = new WeakSet<PyNode>();
  constructor(private readonly s: string) {}

  private fail(message: string, pyName: PyLiteralError['pyName'] = 'SyntaxError', at = this.i): never {
    throw new PyLiteralError(pyName, message, at);
  }

  /** skips spaces, tabs, form feeds, comments, backslash continuations; newlines only inside brackets */
  private skip(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\f') this.i++;
      else if (c === '#') while (this.i < this.s.length && this.s[this.i] !== '\n' && this.s[this.i] !== '\r') this.i++;
      else if (c === '\\' && (this.s[this.i + 1] === '\n' || this.s[this.i + 1] === '\r'))
        this.i += this.s.startsWith('\r\n', this.i + 1) ? 3 : 2;
      else if ((c === '\n' || c === '\r') && this.depth > 0) this.i++;
      else return;
    }
  }

  top(): PyNode {
    this.skip();
    const start = this.i;
    const first = this.value();
    this.skip();
    let node = first;
    if (this.s[this.i] === ',') {
      // eval's expression list: `a, b` is a tuple
      const items = [first];
      while (this.s[this.i] === ',') {
        this.i++;
        this.skip();
        if (this.atEnd()) break;
        items.push(this.value());
        this.skip();
      }
      node = { kind: 'tuple', items, start, end: this.i };
    }
    // trailing newlines are allowed at the end of eval input
    while (this.s[this.i] === '\n' || this.s[this.i] === '\r') {
      this.i++;
      this.skip();
    }
    if (!this.atEnd()) this.fail('invalid syntax');
    return node;
  }

  private atEnd(): boolean {
    let k = this.i;
    while (k < this.s.length && /[\n\r]/.test(this.s[k])) k++;
    return k >= this.s.length;
  }

  private value(): PyNode {
    this.skip();
    const start = this.i;
    const c = this.s[this.i];
    if (c === undefined) this.fail('unexpected EOF while parsing');
    if (c === '[') return this.sequence('[', ']', 'list', start);
    if (c === '(') return this.paren(start);
    if (c === '{') return this.braces(start);
    if (c === '-' || c === '+') return this.signedNumber(c, start);
    if (/[0-9.]/.test(c)) return this.number(start);
    NAME.lastIndex = this.i;
    const name = NAME.exec(this.s);
    if (name) return this.named(name[0], start);
    if (c === '"' || c === "'") return this.strings(start);
    this.fail('invalid syntax');
  }

  /** `-` or `+` before a number (once: `--1` is not a literal) */
  private signedNumber(c: '-' | '+', start: number): PyNode {
    this.i++;
    this.skip();
    const n = this.value();
    if ((n.kind !== 'int' && n.kind !== 'float') || this.signed.has(n))
      this.fail('malformed node or string: a sign applies to a number only', 'ValueError', start);
    const v = c === '-' ? (n.kind === 'int' ? -(n.value as bigint) : -(n.value as number)) : n.value;
    const signed: PyNode = { kind: n.kind, value: v, start, end: n.end };
    this.signed.add(signed);
    return signed;
  }

  /** A name at the cursor: a string prefix, True, False, None, `set()`; any other name is not a literal. */
  private named(name: string, start: number): PyNode {
    const q = this.s[this.i + name.length];
    if ((q === '"' || q === "'") && /^(?:[rRuUbBfF]|[bB][rR]|[rR][bB]|[fF][rR]|[rR][fF])$/.test(name)) return this.strings(start);
    this.i += name.length;
    if (name === 'True' || name === 'False') return { kind: 'bool', value: name === 'True', start, end: this.i };
    if (name === 'None') return { kind: 'none', value: null, start, end: this.i };
    this.skip();
    if (name === 'set' && this.s[this.i] === '(') {
      this.i++;
      this.depth++;
      this.skip();
      this.depth--;
      if (this.s[this.i] === ')') return { kind: 'set', items: [], start, end: ++this.i };
    }
    this.fail(`malformed node or string: the name '${name}' is not a literal`, 'ValueError', start);
  }

  private number(start: number): PyNode {
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) this.fail('invalid syntax');
    const raw = m[0];
    this.i += raw.length;
    const after = this.s[this.i];
    if (after !== undefined && /[0-9A-Za-z_]/.test(after)) {
      if (after === 'j' || after === 'J') this.fail('malformed node or string: complex numbers are not read here', 'ValueError', start);
      this.fail('invalid decimal literal');
    }
    const digits = raw.replaceAll('_', '');
    if (/^0[xXoObB]/.test(digits)) return { kind: 'int', value: BigInt(digits.toLowerCase()), start, end: this.i };
    if (/[.eE]/.test(digits)) return { kind: 'float', value: Number(digits), start, end: this.i };
    if (/^0+[1-9]/.test(digits)) this.fail('leading zeros in decimal integer literals are not permitted', 'SyntaxError', start);
    return { kind: 'int', value: BigInt(digits), start, end: this.i };
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) this.fail('too many nested parentheses');
  }

  private sequence(open: string, close: string, kind: 'list' | 'tuple' | 'set', start: number): PyNode {
    this.enter();
    this.i++;
    this.skip();
    return this.items(open, close, kind, start, []);
  }

  /** the rest of a bracketed sequence after `items` (the cursor after them, before `,` or the closing bracket) */
  private items(open: string, close: string, kind: 'list' | 'tuple' | 'set', start: number, items: PyNode[]): PyNode {
    if (items.length) {
      if (this.s[this.i] === ',') {
        this.i++;
        this.skip();
      } else if (this.s[this.i] !== close)
        this.fail(this.s[this.i] === undefined ? `'${open}' was never closed` : 'invalid syntax. Perhaps you forgot a comma?');
    }
    while (this.s[this.i] !== close) {
      items.push(this.value());
      this.skip();
      if (this.s[this.i] === ',') {
        this.i++;
        this.skip();
      } else if (this.s[this.i] !== close)
        this.fail(this.s[this.i] === undefined ? `'${open}' was never closed` : 'invalid syntax. Perhaps you forgot a comma?');
    }
    this.i++;
    this.depth--;
    if (kind === 'set') for (const x of items) this.unhashable(x);
    return { kind, items, start, end: this.i };
  }

  private unhashable(k: PyNode): void {
    if (k.kind === 'list' || k.kind === 'dict' || k.kind === 'set') this.fail(`unhashable type: '${k.kind}'`, 'TypeError', k.start);
  }

  /** `()`, `(x)`, `(x,)`, `(x, y)` */
  private paren(start: number): PyNode {
    this.enter();
    this.i++;
    this.skip();
    if (this.s[this.i] === ')') {
      this.i++;
      this.depth--;
      return { kind: 'tuple', items: [], start, end: this.i };
    }
    const first = this.value();
    this.skip();
    if (this.s[this.i] === ')') {
      this.i++;
      this.depth--;
      const inner: PyNode = { ...first, start, end: this.i }; // a parenthesized value keeps its parentheses in its span
      if (this.signed.has(first)) this.signed.add(inner);
      return inner;
    }
    if (this.s[this.i] !== ',')
      this.fail(this.s[this.i] === undefined ? "'(' was never closed" : 'invalid syntax. Perhaps you forgot a comma?');
    return this.items('(', ')', 'tuple', start, [first]);
  }

  /** `{}` a dict, `{k: v, …}` a dict, `{a, …}` a set */
  private braces(start: number): PyNode {
    this.enter();
    this.i++;
    this.skip();
    const entries: [PyNode, PyNode][] = [];
    if (this.s[this.i] === '}') {
      this.i++;
      this.depth--;
      return { kind: 'dict', entries, start, end: this.i };
    }
    const first = this.value();
    this.skip();
    if (this.s[this.i] !== ':') return this.items('{', '}', 'set', start, [first]);
    let key = first;
    for (;;) {
      if (this.s[this.i] !== ':') this.fail("':' expected after dictionary key");
      this.i++;
      entries.push([key, this.value()]);
      this.skip();
      if (this.s[this.i] === ',') {
        this.i++;
        this.skip();
      } else if (this.s[this.i] !== '}')
        this.fail(this.s[this.i] === undefined ? "'{' was never closed" : 'invalid syntax. Perhaps you forgot a comma?');
      if (this.s[this.i] === '}') break;
      key = this.value();
      this.skip();
    }
    this.i++;
    this.depth--;
    for (const [k] of entries) this.unhashable(k);
    return { kind: 'dict', entries, start, end: this.i };
  }

  /** one or more adjacent string literals, joined (all str or all bytes) */
  private strings(start: number): PyNode {
    let kind: 'str' | 'bytes' | undefined;
    let value = '';
    for (;;) {
      const one = this.string();
      if (kind && kind !== one.kind) this.fail('cannot mix bytes and nonbytes literals', 'SyntaxError', start);
      kind = one.kind;
      value += one.value;
      const save = this.i;
      this.skip();
      const prefix = /^[rRuUbBfF]{1,2}(?=["'])/.exec(this.s.slice(this.i, this.i + 3));
      if (this.s[this.i] === '"' || this.s[this.i] === "'" || prefix) continue;
      this.i = save;
      break;
    }
    return { kind: kind!, value: kind === 'bytes' ? Uint8Array.from(value, (ch) => ch.charCodeAt(0)) : value, start, end: this.i };
  }

  private string(): { kind: 'str' | 'bytes'; value: string } {
    const at = this.i;
    const { raw, bytes } = this.stringPrefix(at);
    const q = this.s[this.i];
    const triple = this.s.startsWith(q.repeat(3), this.i);
    const delim = triple ? q.repeat(3) : q;
    this.i += delim.length;
    let out = '';
    for (;;) {
      if (this.i >= this.s.length)
        this.fail(triple ? 'unterminated triple-quoted string literal' : 'unterminated string literal', 'SyntaxError', at);
      if (this.s.startsWith(delim, this.i)) {
        this.i += delim.length;
        break;
      }
      const c = this.s[this.i];
      if ((c === '\n' || c === '\r') && !triple) this.fail('unterminated string literal', 'SyntaxError', at);
      if (bytes && c.charCodeAt(0) > 0x7f) this.fail('bytes can only contain ASCII literal characters', 'SyntaxError', at);
      if (c !== '\\') {
        out += c;
        this.i++;
        continue;
      }
      const n = this.s[this.i + 1];
      if (n === undefined)
        this.fail(triple ? 'unterminated triple-quoted string literal' : 'unterminated string literal', 'SyntaxError', at);
      if (raw) {
        out += c + n; // a raw string keeps the backslash; the quote after it does not end the string
        this.i += 2;
        continue;
      }
      out += this.escape(bytes, at);
    }
    return { kind: bytes ? 'bytes' : 'str', value: out };
  }

  /** The prefix of a string literal (r, b, u, rb…), read; an f-string is not a literal. */
  private stringPrefix(at: number): { raw: boolean; bytes: boolean } {
    let prefix = '';
    while (/[rRuUbBfF]/.test(this.s[this.i] ?? '')) prefix += this.s[this.i++].toLowerCase();
    if (prefix.includes('f')) this.fail('malformed node or string: f-strings are not literals', 'ValueError', at);
    if (prefix.length > 2 || (prefix.includes('u') && prefix.length > 1)) this.fail('invalid syntax', 'SyntaxError', at);
    return { raw: prefix.includes('r'), bytes: prefix.includes('b') };
  }

  /** one escape sequence at `\`, decoded */
  private escape(bytes: boolean, at: number): string {
    const n = this.s[this.i + 1];
    this.i += 2;
    if (n === '\n') return '';
    if (n === '\r') {
      if (this.s[this.i] === '\n') this.i++;
      return '';
    }
    if (n in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[n];
    if (/[0-7]/.test(n)) {
      let digits = n;
      while (digits.length < 3 && /[0-7]/.test(this.s[this.i] ?? '')) digits += this.s[this.i++];
      const v = parseInt(digits, 8);
      return bytes ? String.fromCharCode(v & 0xff) : String.fromCodePoint(v);
    }
    const hexLen = n === 'x' ? 2 : !bytes && n === 'u' ? 4 : !bytes && n === 'U' ? 8 : 0;
    if (hexLen) return this.hexEscape(n, hexLen, at);
    if (!bytes && n === 'N') this.fail('\\N{…} escapes are not read here', 'ValueError', at);
    return '\\' + n; // an unknown escape keeps its backslash
  }

  /** `\xHH`, `\uHHHH`, `\UHHHHHHHH` at the cursor (after the letter) */
  private hexEscape(n: string, hexLen: number, at: number): string {
    const hex = this.s.slice(this.i, this.i + hexLen);
    if (hex.length < hexLen || !/^[0-9a-fA-F]+$/.test(hex))
      this.fail(`(unicode error) truncated \\${n}${'X'.repeat(hexLen)} escape`, 'SyntaxError', at);
    this.i += hexLen;
    const v = parseInt(hex, 16);
    if (v > 0x10ffff) this.fail('(unicode error) illegal Unicode character', 'SyntaxError', at);
    return String.fromCodePoint(v);
  }
}

// Python semantics over the nodes (indexing, plain JS values): pyNodes.ts
export { pyGetItem, pyToJs } from './pyNodes';
