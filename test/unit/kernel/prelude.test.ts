import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PRELUDE_DEFERRED_PARTS, PRELUDE_PARTS, PRELUDE_PY } from '../../../src/core/kernel/prelude';

const DIR = path.join(__dirname, '../../../src/core/kernel/prelude');

/** runs `script` in Debian's Python with PRELUDE_PY executed as the module `m` (as the kernel's loader does), returns its JSON */
function withPrelude(script: string): unknown {
  const code = [
    'import json, sys, types',
    'm = types.ModuleType("_codedance")',
    'exec(compile(sys.stdin.read(), "<codedance-prelude>", "exec"), m.__dict__)',
    script,
  ].join('\n');
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', code], { input: PRELUDE_PY, encoding: 'utf8' }));
}

describe('kernel prelude embedding', () => {
  it('embeds every part of prelude/ verbatim, in the order of prelude/index.ts; the deferred ones compressed', function () {
    this.timeout(20000);
    assert.deepEqual(
      [...PRELUDE_PARTS, ...PRELUDE_DEFERRED_PARTS].sort(),
      readdirSync(DIR)
        .filter((n) => n.endsWith('.py'))
        .sort(),
      'every .py in prelude/ is a part, and every part a file',
    );
    assert.deepEqual(PRELUDE_DEFERRED_PARTS, ['thyme.py']);
    const py = PRELUDE_PARTS.map((n) => readFileSync(path.join(DIR, n), 'utf8')).join('\n\n');
    assert.ok(PRELUDE_PY.startsWith(py + '\n\n_DEFERRED_PARTS = {'), 'the parts, then the table of the deferred ones');
    const decoded = withPrelude(
      'import base64, zlib\nprint(json.dumps({k: zlib.decompress(base64.b64decode(v)).decode("utf-8") for k, v in m._DEFERRED_PARTS.items()}))',
    ) as Record<string, string>;
    assert.deepEqual(Object.keys(decoded), [...PRELUDE_DEFERRED_PARTS]);
    for (const n of PRELUDE_DEFERRED_PARTS) assert.equal(decoded[n], readFileSync(path.join(DIR, n), 'utf8'), n);
  });

  it('the embedded module compiles (Python parses it as one module), the deferred parts too', function () {
    this.timeout(20000);
    const deferred = PRELUDE_DEFERRED_PARTS.map((n) => readFileSync(path.join(DIR, n), 'utf8'));
    const out = execFileSync(
      '/usr/bin/python3',
      ['-c', 'import json, sys\nfor s in json.loads(sys.stdin.read()): compile(s, "<codedance-prelude>", "exec")\nprint("ok")'],
      { input: JSON.stringify([PRELUDE_PY, ...deferred]), encoding: 'utf8' },
    );
    assert.equal(out.trim(), 'ok');
  });

  it("a deferred part is compiled only by _load_part, into the module itself (its frames named as the prelude's), once", function () {
    this.timeout(20000);
    const r = withPrelude(
      [
        'before = "_thyme_run" in m.__dict__ or "thyme_rewrite" in m.__dict__',
        'm._load_part("thyme.py")',
        'run = m._thyme_run',
        'm._load_part("thyme.py")',
        'print(json.dumps({"before": before, "same": m._thyme_run is run, "globals": run.__globals__ is m.__dict__,',
        '                  "file": run.__code__.co_filename, "rewrite": m.thyme_rewrite("  x = 1\\n  y = cv.imread(p)", "")[0]}))',
      ].join('\n'),
    );
    assert.deepEqual(r, {
      before: false,
      same: true,
      globals: true,
      file: '<codedance-prelude>',
      rewrite: 'x = 1\ny = cv2.imread(p)',
    });
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
