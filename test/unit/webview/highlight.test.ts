/** The chat's Python highlighter: tokens join back to the source, and each kind is found. */
import { strict as assert } from 'node:assert';
import { tokenizePython } from '../../../src/webview/highlight';

describe('webview: Python highlighter', () => {
  const sample = [
    '@decorator',
    'def crop(img, box=(0, 0, 10, 10)):',
    '    """doc string"""',
    "    s = f'{box!r} # not a comment'  # a comment",
    '    return img.crop(box) if True else None',
    'x = 0x1F + 3.5e-2',
    'print(len([1, 2]))',
  ].join('\n');
  const tokens = tokenizePython(sample);
  const of = (kind: string) => tokens.filter((t) => t.kind === kind).map((t) => t.text);

  it('joins back to exactly the source (nothing dropped, nothing added)', () => {
    assert.equal(tokens.map((t) => t.text).join(''), sample);
    for (const code of ['', 'x', '"unterminated', "'''open\nstill", '# only', '1e', 'a\n\n\tb'])
      assert.equal(
        tokenizePython(code)
          .map((t) => t.text)
          .join(''),
        code,
      );
  });

  it('finds keywords, names after def, strings, comments, numbers, builtins and decorators', () => {
    assert.deepEqual(of('keyword'), ['def', 'return', 'if', 'True', 'else', 'None']);
    assert.deepEqual(of('def'), ['crop']);
    assert.deepEqual(of('string'), ['"""doc string"""', "f'{box!r} # not a comment'"]);
    assert.deepEqual(of('comment'), ['# a comment']);
    assert.deepEqual(of('number'), ['0', '0', '10', '10', '0x1F', '3.5e-2', '1', '2']);
    assert.deepEqual(of('builtin'), ['print', 'len']);
    assert.deepEqual(of('decorator'), ['@decorator']);
  });

  it('treats markup in code as plain code text (the DOM gets it as text)', () => {
    const t = tokenizePython('s = "<img src=x onerror=alert(1)>"  # <script>');
    assert.deepEqual(
      t.map((x) => x.kind),
      ['text', 'string', 'text', 'comment'],
    );
  });
});
