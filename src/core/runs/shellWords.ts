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

/** `$(…)` from `start` (its `$`): the working folder for `$(pwd)`, else the text as written. */
function commandSubstitution(r: Reader, st: ShellState, start: number): string {
  let depth = 0;
  for (; !r.done; r.i++) {
    if (r.peek() === '(') depth++;
    else if (r.peek() === ')' && --depth === 0) break;
  }
  r.i++;
  const text = r.s.slice(start, r.i);
  return /^\$\(\s*pwd\s*\)$/.test(text) && st.cwd !== undefined ? st.cwd : text;
}

/** `${NAME}`, `${NAME:-default}`, `${NAME-default}` from `start` (its `$`). */
function braced(r: Reader, st: ShellState, start: number): string {
  const end = r.s.indexOf('}', r.i);
  if (end < 0) return r.s.slice(start, (r.i = r.s.length));
  r.i = end + 1;
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])(.*))?$/s.exec(r.s.slice(start + 2, end));
  if (!m) return r.s.slice(start, r.i);
  const v = st.vars[m[1]];
  if (m[2] && (v === undefined || (m[2].startsWith(':') && v === ''))) return m[3];
  return v ?? r.s.slice(start, r.i);
}

/** `$…` at r.i (the `$` itself): its value, or the text as written when it cannot be known. */
function expand(r: Reader, st: ShellState): string {
  const start = r.i;
  r.i++; // $
  const c = r.peek();
  if (c === '(') return commandSubstitution(r, st, start);
  if (c === '{') return braced(r, st, start);
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

const endsWord = (c: string) => BREAKS.includes(c) || c === '\n' || OPERATORS.includes(c);

/** One piece of a word at r.i: a quoted part, an escaped character, an expansion, or a plain character. */
function wordPart(r: Reader, st: ShellState): string {
  const c = r.peek();
  if (c === "'") {
    const end = r.s.indexOf("'", r.i + 1);
    const stop = end < 0 ? r.s.length : end;
    const text = r.s.slice(r.i + 1, stop);
    r.i = stop + 1;
    return text;
  }
  if (c === '"') return doubleQuoted(r, st);
  if (c === '\\') {
    r.i += 2;
    return r.s[r.i - 1] === '\n' ? '' : (r.s[r.i - 1] ?? '');
  }
  if (c === '$') return expand(r, st);
  r.i++;
  return c;
}

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
  while (!r.done && !endsWord(r.peek())) text += wordPart(r, st);
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
