/**
 * Just enough of bash to read a training script's commands back: quoting ('…', "…", \),
 * backslash-newline continuations, comments, `;` `&` `|` `&&` `||` and newlines between
 * commands, and `$VAR` / `${VAR}` / `${VAR:-default}` / `$(pwd)` expanded from what the script
 * set so far. An expansion that cannot be known here (an unset variable, another command's
 * output) stays as written. Nothing is run.
 */

export interface ShellState {
  vars: Record<string, string>;
  /** the folder the script runs in, when known (`$(pwd)`) */
  cwd?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

class Reader {
  i = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.i >= this.s.length;
  }
  peek(k = 0): string {
    return this.s[this.i + k] ?? '';
  }
}

/** `$…` at r.i (the `$` itself): its value, or the text as written when it cannot be known. */
function expand(r: Reader, st: ShellState): string {
  const start = r.i;
  r.i++; // $
  const c = r.peek();
  if (c === '(') {
    let depth = 0;
    for (; !r.done; r.i++) {
      if (r.peek() === '(') depth++;
      else if (r.peek() === ')' && --depth === 0) break;
    }
    r.i++;
    const text = r.s.slice(start, r.i);
    return /^\$\(\s*pwd\s*\)$/.test(text) && st.cwd !== undefined ? st.cwd : text;
  }
  if (c === '{') {
    const end = r.s.indexOf('}', r.i);
    if (end < 0) return r.s.slice(start, (r.i = r.s.length));
    r.i = end + 1;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])(.*))?$/s.exec(r.s.slice(start + 2, end));
    if (!m) return r.s.slice(start, r.i);
    const v = st.vars[m[1]];
    if (m[2] && (v === undefined || (m[2].startsWith(':') && v === ''))) return m[3];
    return v ?? r.s.slice(start, r.i);
  }
  if (c === '@' || c === '*' || /\d/.test(c)) {
    r.i++;
    return ''; // the script's own arguments: none when read here
  }
  const m = NAME.exec(r.s.slice(r.i));
  if (!m) return '$';
  r.i += m[0].length;
  return st.vars[m[0]] ?? `$${m[0]}`;
}

function doubleQuoted(r: Reader, st: ShellState): string {
  let out = '';
  r.i++; // "
  while (!r.done && r.peek() !== '"') {
    const c = r.peek();
    if (c === '\\' && '$`"\\\n'.includes(r.peek(1))) {
      if (r.peek(1) !== '\n') out += r.peek(1);
      r.i += 2;
    } else if (c === '$') out += expand(r, st);
    else {
      out += c;
      r.i++;
    }
  }
  r.i++; // closing "
  return out;
}

const BREAKS = ' \t\r';
const OPERATORS = ';&|<>()';

/** One word at r.i; `null` at a command's end (newline, operator, comment, end of text). */
function word(r: Reader, st: ShellState): { text: string; raw: string } | null {
  while (!r.done && BREAKS.includes(r.peek())) r.i++;
  if (r.done) return null;
  const start = r.i;
  if (r.peek() === '\n' || OPERATORS.includes(r.peek())) {
    while (!r.done && (r.peek() === '\n' || OPERATORS.includes(r.peek()))) r.i++;
    return null;
  }
  if (r.peek() === '#') {
    while (!r.done && r.peek() !== '\n') r.i++;
    return null;
  }
  let text = '';
  while (!r.done && !BREAKS.includes(r.peek()) && r.peek() !== '\n' && !OPERATORS.includes(r.peek())) {
    const c = r.peek();
    if (c === "'") {
      const end = r.s.indexOf("'", r.i + 1);
      const stop = end < 0 ? r.s.length : end;
      text += r.s.slice(r.i + 1, stop);
      r.i = stop + 1;
    } else if (c === '"') text += doubleQuoted(r, st);
    else if (c === '\\') {
      if (r.peek(1) !== '\n') text += r.peek(1);
      r.i += 2;
    } else if (c === '$') text += expand(r, st);
    else {
      text += c;
      r.i++;
    }
  }
  return { text, raw: r.s.slice(start, r.i) };
}

/**
 * The script's commands in order, each as its words, with `onCommand` called before the next
 * command is read (so that an assignment it makes is seen by the commands after it).
 */
export function readCommands(script: string, st: ShellState, onCommand: (words: string[]) => void): void {
  const r = new Reader(script.replace(/\\\r?\n/g, ''));
  while (!r.done) {
    const words: string[] = [];
    for (let w = word(r, st); w; w = word(r, st)) {
      // "$@" (the seed's way to take extra overrides) is no word at all
      if (w.text === '' && /^"?\$[@*]"?$/.test(w.raw)) continue;
      words.push(w.text);
    }
    if (words.length) onCommand(words);
  }
}
