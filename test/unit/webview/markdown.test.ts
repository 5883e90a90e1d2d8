/**
 * The panel's model-output renderer against a corpus of hostile outputs: whatever the model
 * writes, the HTML that reaches innerHTML has no script, no event handler, no element that
 * fetches (img, iframe, object, link, style, …), no javascript:/data: link, no live href.
 */
import { strict as assert } from 'node:assert';
import { renderMarkdown, sanitizeHtml, splitTurn } from '../../../src/webview/markdown';

export const HOSTILE_CORPUS: string[] = [
  '<script>alert(1)</script>',
  '<SCRIPT SRC=http://evil.example.com/x.js></SCRIPT>',
  '<img src=x onerror=alert(1)>',
  '<img src="http://evil.example.com/track.png">',
  '<svg onload=alert(1)><circle r=1 /></svg>',
  '<iframe src="http://evil.example.com"></iframe>',
  '<object data="http://evil.example.com/x.swf"></object><embed src="http://evil.example.com/y">',
  '<link rel=stylesheet href=http://evil.example.com/s.css><style>@import "http://evil.example.com/a.css";</style>',
  '<a href="javascript:alert(1)">click</a>',
  '<a href="http://evil.example.com" onclick="alert(1)">x</a>',
  '<div style="background:url(http://evil.example.com/bg.png)">bg</div>',
  '<body onload=alert(1)>',
  '<meta http-equiv="refresh" content="0;url=http://evil.example.com">',
  '<base href="http://evil.example.com/">',
  '<form action="http://evil.example.com"><input autofocus onfocus=alert(1)></form>',
  '[click me](javascript:alert(1))',
  '[click me](JaVaScRiPt:alert(1))',
  '[click me](  javascript:alert(1))',
  '[x](vbscript:msgbox(1))',
  '[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
  '[x](file:///etc/passwd)',
  '![remote](http://evil.example.com/pixel.png)',
  '![remote](https://evil.example.com/pixel.png "title")',
  '![data](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
  '[ref]: javascript:alert(1)\n\n[click][ref]',
  '[![img](http://evil.example.com/a.png)](http://evil.example.com)',
  '<http://evil.example.com> and <javascript:alert(1)>',
  '```html\n<script>alert(1)</script>\n```',
  '`<img src=x onerror=alert(1)>`',
  '<details open ontoggle=alert(1)>',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '"><script>alert(1)</script>',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '<think><img src=x onerror=alert(1)></think><answer><script>alert(2)</script></answer>',
  '[a](http://example.com" onmouseover="alert(1))',
  '[a](http://example.com "x\\" onmouseover=\\"alert(1)")',
  '<scr<script>ipt>alert(1)</script>',
  '<<img src=x onerror=alert(1)>>',
];

const TAG = /<(\/?)([a-zA-Z][\w-]*)([^<>]*)>/g;
const ALLOWED = new Set([
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

/** Checks the HTML the way a browser would see its tags. */
function assertInert(html: string, input: string): void {
  for (const m of html.matchAll(TAG)) {
    const [, , tag, attrs] = m;
    assert.ok(ALLOWED.has(tag.toLowerCase()), `tag <${tag}> from ${JSON.stringify(input)}: ${html}`);
    assert.ok(!/\bon\w+\s*=/i.test(attrs), `event handler from ${JSON.stringify(input)}: ${html}`);
    assert.ok(
      !/\b(src|srcset|style|action|formaction|xlink:href|background)\s*=/i.test(attrs),
      `fetching attribute from ${JSON.stringify(input)}: ${html}`,
    );
    const href = /\bhref="([^"]*)"/.exec(attrs);
    if (href) assert.equal(href[1], '#', `a live href from ${JSON.stringify(input)}: ${html}`);
    const dataHref = /\bdata-href="([^"]*)"/.exec(attrs);
    if (dataHref) assert.match(dataHref[1], /^(https?:|mailto:)/i, `unsafe link target from ${JSON.stringify(input)}: ${html}`);
    // every attribute is a well-formed key="value": nothing can break out of a quote
    const rest = attrs.replace(/\s+[\w-]+="[^"]*"/g, '').trim();
    assert.equal(rest, '', `stray attribute text ${JSON.stringify(rest)} from ${JSON.stringify(input)}: ${html}`);
  }
  assert.ok(!/javascript:/i.test(html.replace(/>[^<]*</g, '><')), `javascript: inside a tag from ${JSON.stringify(input)}: ${html}`);
}

describe('webview markdown renderer: hostile model output', () => {
  for (const input of HOSTILE_CORPUS) {
    it(`renders inert: ${JSON.stringify(input).slice(0, 70)}`, () => {
      assertInert(renderMarkdown(input), input);
      // also as a turn would be split and rendered
      for (const seg of splitTurn(input)) assertInert(renderMarkdown(seg.text), input);
    });
  }

  it('shows raw HTML as text, keeps markdown', () => {
    const html = renderMarkdown('**bold** <script>alert(1)</script>');
    assert.match(html, /<strong>bold<\/strong>/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });

  it('turns remote images into their alt text', () => {
    const html = renderMarkdown('![a chart](http://evil.example.com/x.png)');
    assert.ok(!/<img/i.test(html));
    assert.match(html, /\[image: a chart\]/);
  });

  it('keeps http(s) links inert, opened through the extension (data-href)', () => {
    const html = renderMarkdown('[docs](https://example.com/a?b=1&c=2)');
    assert.match(html, /<a href="#" class="md-link" data-href="https:\/\/example\.com\/a\?b=1&amp;c=2"/);
  });

  it('sanitizeHtml drops tags and attributes outside the allowlist, even if the renderer let them through', () => {
    const out = sanitizeHtml(
      '<p onclick="x()" class="a">t</p><img src="http://e/x.png"><a href="javascript:x" data-href="javascript:x">l</a><iframe src="http://e"></iframe>',
    );
    assert.equal(out, '<p>t</p><a href="#">l</a>');
  });

  it('splits a turn into thinking and text, hiding code and answer blocks', () => {
    const segs = splitTurn('<think>measure it</think>\n<code>\n```python\nprint(1)\n```\n</code>\nthen <answer>4</answer>');
    assert.deepEqual(segs, [
      { kind: 'think', text: 'measure it' },
      { kind: 'text', text: 'then' },
    ]);
    assert.deepEqual(splitTurn('<think>a</think><code>\n```python\nprint('), [
      { kind: 'think', text: 'a' },
      { kind: 'code-pending', text: '' },
    ]);
  });
});
