import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PRELUDE_PARTS, PRELUDE_PY } from '../../../src/core/kernel/prelude';

const DIR = path.join(__dirname, '../../../src/core/kernel/prelude');

describe('kernel prelude embedding', () => {
  it('embeds every part of prelude/ verbatim, in the order of prelude/index.ts', () => {
    assert.deepEqual(
      [...PRELUDE_PARTS].sort(),
      readdirSync(DIR)
        .filter((n) => n.endsWith('.py'))
        .sort(),
      'every .py in prelude/ is a part, and every part a file',
    );
    const py = PRELUDE_PARTS.map((n) => readFileSync(path.join(DIR, n), 'utf8')).join('\n\n');
    assert.equal(PRELUDE_PY, py);
  });

  it('the embedded module compiles (Python parses it as one module)', function () {
    this.timeout(20000);
    const out = execFileSync(
      '/usr/bin/python3',
      ['-c', 'import sys; compile(sys.stdin.read(), "<codedance-prelude>", "exec"); print("ok")'],
      { input: PRELUDE_PY, encoding: 'utf8' },
    );
    assert.equal(out.trim(), 'ok');
  });

  it('holds the seed constants verbatim', () => {
    assert.ok(
      PRELUDE_PY.includes('"\\nNOTE: Code execution was halted by a call to exit() or quit(). Do not use exit() or quit() in your code."'),
    );
    assert.ok(PRELUDE_PY.includes('raise RuntimeError("input() is disabled inside the sandbox.")'));
    // figures at 150 dpi with a tight box (a lower dpi only for a figure over the model's pixel budget)
    assert.ok(PRELUDE_PY.includes('    dpi = 150\n'));
    assert.ok(PRELUDE_PY.includes('savefig(buf, format="png", bbox_inches="tight", dpi=dpi)'));
  });
});
