import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PRELUDE_PY } from '../../../src/core/kernel/prelude';

describe('kernel prelude embedding', () => {
  it('prelude.ts embeds prelude.py verbatim (run `node src/core/kernel/embed-prelude.mjs` after editing prelude.py)', () => {
    const py = readFileSync(path.join(__dirname, '../../../src/core/kernel/prelude.py'), 'utf8');
    assert.equal(PRELUDE_PY, py);
  });

  it('holds the seed constants verbatim', () => {
    assert.ok(PRELUDE_PY.includes('"\\nNOTE: Code execution was halted by a call to exit() or quit(). Do not use exit() or quit() in your code."'));
    assert.ok(PRELUDE_PY.includes('raise RuntimeError("input() is disabled inside the sandbox.")'));
    assert.ok(PRELUDE_PY.includes('savefig(img_buffer, format="png", bbox_inches="tight", dpi=150)'));
  });
});
