/**
 * A tiny Python highlighter for the chat's code (no remote content, no dependency): the code is
 * split into tokens and each goes into the DOM as text inside a `<span class="tok-…">`, so model
 * code can never become markup. Colors come from the theme (chat.css).
 */

export type TokenKind = 'keyword' | 'builtin' | 'string' | 'comment' | 'number' | 'decorator' | 'def' | 'text';

export interface Token {
  kind: TokenKind;
  text: string;
}

const KEYWORDS = new Set(
  'False None True and as assert async await break class continue def del elif else except finally for from global if import in is lambda nonlocal not or pass raise return try while with yield match case'.split(
    ' ',
  ),
);
const BUILTINS = new Set(
  'abs all any bool dict dir enumerate filter float format getattr hasattr int isinstance len list map max min next object open print range repr reversed round set sorted str sum super tuple type zip self np plt Image cv2'.split(
    ' ',
  ),
);

// strings (triple-quoted first, with optional prefixes), comments, numbers, decorators, names
const TOKEN =
  /([rRbBfFuU]{0,2}(?:"""[\s\S]*?(?:"""|$)|'''[\s\S]*?(?:'''|$)|"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?))|(#[^\n]*)|(\b(?:0[xXoObB][\da-fA-F_]+|\d[\d_]*\.?[\d_]*(?:[eE][+-]?\d+)?j?)\b)|(^[ \t]*@[\w.]+)|([A-Za-z_]\w*)/gm;

/** Python source as tokens; joined, their texts are the source again. */
export function tokenizePython(code: string): Token[] {
  const out: Token[] = [];
  let last = 0;
  let prevName = '';
  const push = (kind: TokenKind, text: string) => {
    if (!text) return;
    const prev = out.at(-1);
    if (prev && prev.kind === kind && kind === 'text') prev.text += text;
    else out.push({ kind, text });
  };
  for (const m of code.matchAll(TOKEN)) {
    const at = m.index ?? 0;
    push('text', code.slice(last, at));
    last = at + m[0].length;
    const [all, str, comment, num, deco, name] = m;
    if (str) push('string', all);
    else if (comment) push('comment', all);
    else if (num) push('number', all);
    else if (deco) push('decorator', all);
    else if (name) {
      push(
        KEYWORDS.has(name) ? 'keyword' : prevName === 'def' || prevName === 'class' ? 'def' : BUILTINS.has(name) ? 'builtin' : 'text',
        name,
      );
      prevName = name;
      continue;
    } else push('text', all);
    prevName = '';
  }
  push('text', code.slice(last));
  return out;
}

/** The highlighted code as DOM nodes (text nodes and spans; never parsed HTML). */
export function highlightPython(code: string): DocumentFragment {
  const frag = document.createDocumentFragment();
  for (const t of tokenizePython(code)) {
    if (t.kind === 'text') {
      frag.append(document.createTextNode(t.text));
      continue;
    }
    const s = document.createElement('span');
    s.className = `tok-${t.kind}`;
    s.textContent = t.text;
    frag.append(s);
  }
  return frag;
}
