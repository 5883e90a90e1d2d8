/**
 * Model output → safe HTML. markdown-it with raw HTML off (tags come out as text), no remote
 * images (an image becomes its alt text), links inert (`data-href`, opened only through the
 * extension after the user confirms). `sanitizeHtml` is a second, allowlist pass over the result
 * so that even a renderer bug cannot produce a script, an event handler or a fetch.
 * Pure string functions: the unit test runs them in Node against the hostile corpus.
 */
import MarkdownIt from 'markdown-it';

const md = new MarkdownIt({ html: false, linkify: false, typographer: false, breaks: false });

const SAFE_LINK = /^(https?:|mailto:)/i;

md.renderer.rules.image = (tokens, idx) => {
  const t = tokens[idx];
  const alt = t.children?.map((c) => c.content).join('') || t.content || 'image';
  return `<span class="md-image" title="remote images are not loaded">[image: ${md.utils.escapeHtml(alt)}]</span>`;
};

md.renderer.rules.link_open = (tokens, idx) => {
  const href = String(tokens[idx].attrGet('href') ?? '');
  if (!SAFE_LINK.test(href)) return '<span class="md-link-blocked">';
  return `<a href="#" class="md-link" data-href="${md.utils.escapeHtml(href)}" title="${md.utils.escapeHtml(href)}">`;
};
md.renderer.rules.link_close = (tokens, idx) => {
  // find the matching open: if it was blocked, close the span
  let depth = 0;
  for (let i = idx - 1; i >= 0; i--) {
    if (tokens[i].type === 'link_close') depth++;
    if (tokens[i].type === 'link_open') {
      if (depth === 0) return SAFE_LINK.test(String(tokens[i].attrGet('href') ?? '')) ? '</a>' : '</span>';
      depth--;
    }
  }
  return '</span>';
};

const ALLOWED_TAGS = new Set([
  'p',
  'em',
  'strong',
  'code',
  'pre',
  'a',
  'ul',
  'ol',
  'li',
  'blockquote',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'br',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'span',
  's',
  'del',
]);
const ALLOWED_ATTRS: Record<string, Set<string>> = {
  a: new Set(['href', 'class', 'data-href', 'title']),
  span: new Set(['class', 'title']),
  code: new Set(['class']),
  ol: new Set(['start']),
  th: new Set(['style']),
  td: new Set(['style']),
};

/**
 * Allowlist pass over HTML made by `md`: unknown tags are dropped (their text kept, escaped),
 * attributes outside the allowlist removed, `href` forced to "#", `style` only text-align.
 */
export function sanitizeHtml(html: string): string {
  return html.replace(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>/g, (whole, close: string, tag: string, rest: string) => {
    const name = tag.toLowerCase();
    if (!ALLOWED_TAGS.has(name)) return '';
    if (close) return `</${name}>`;
    const allowed = ALLOWED_ATTRS[name];
    const attrs: string[] = [];
    for (const m of rest.matchAll(/([a-zA-Z-]+)\s*=\s*"([^"]*)"/g)) {
      const key = m[1].toLowerCase();
      let value = m[2];
      if (!allowed?.has(key)) continue;
      if (key === 'href') value = '#';
      if (key === 'data-href' && !SAFE_LINK.test(decodeEntities(value))) continue;
      if (key === 'style' && !/^text-align:(left|right|center)$/.test(value)) continue;
      if (key === 'class' && !/^[\w -]*$/.test(value)) continue;
      if (key === 'start' && !/^\d+$/.test(value)) continue;
      attrs.push(` ${key}="${value}"`);
    }
    return `<${name}${attrs.join('')}>`;
  });
}

function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** Markdown → sanitized HTML (raw HTML in the input is shown as text). */
export function renderMarkdown(text: string): string {
  return sanitizeHtml(md.render(text));
}

export interface TurnSegment {
  kind: 'text' | 'think' | 'code-pending';
  text: string;
}

/**
 * Splits an assistant turn's text for display: `<think>` blocks apart, `<code>` blocks and
 * `<answer>` removed (cells and the answer box show them), a `<code>` still streaming marked.
 * `done`: the reply is complete, so an unclosed `<code>` is code cut at its stop string (PyVision's
 * `</code>`), shown by its cell, not code being written. A reply that goes on from the one before
 * (Thyme's, after the sandbox output) may close a `<think>` it did not open: its text before is thinking.
 */
export function splitTurn(content: string, done = false): TurnSegment[] {
  const out: TurnSegment[] = [];
  const close = content.indexOf('</think>');
  let s = close >= 0 && !content.slice(0, close).includes('<think>') ? `<think>${content}` : content;
  // completed code blocks and the answer are rendered elsewhere
  s = s.replace(/<code>[\s\S]*?<\/code>/g, '');
  s = s.replace(/<answer>[\s\S]*?<\/answer>/g, '');
  let pending = false;
  const open = s.search(/<code>|<answer>/);
  if (open >= 0) {
    pending = !done && s.slice(open).startsWith('<code>');
    s = s.slice(0, open);
  }
  const re = /<think>([\s\S]*?)(<\/think>|$)/g;
  let last = 0;
  for (const m of s.matchAll(re)) {
    const before = s.slice(last, m.index).trim();
    if (before) out.push({ kind: 'text', text: before });
    if (m[1].trim()) out.push({ kind: 'think', text: m[1].trim() });
    last = (m.index ?? 0) + m[0].length;
  }
  const rest = s.slice(last).trim();
  if (rest) out.push({ kind: 'text', text: rest });
  if (pending) out.push({ kind: 'code-pending', text: '' });
  return out;
}
