/**
 * The math rows' symbolic check at seed parity: with `math_verify` importable (a stand-in that
 * records its calls, on PYTHONPATH: the real package is not installable offline), every check is
 * the seed's `verify(parse(ground_truth), parse(model_answer))` — positional, default arguments,
 * the raw strings — through one helper process for the whole run; without it, the approximate
 * JavaScript check, marked as such with the install command.
 */
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { computeScore, openMathChecker, type MathChecker } from '../../../src/core/eval';

const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const STANDIN = path.resolve(__dirname, '../../fixtures/mathVerifyStandIn');

interface Call {
  fn: string;
  args: unknown[];
  kwargs: Record<string, string>;
  pid: number;
  secret_env: string[];
}

describe('math check: the seed math_verify through one helper process, else approximate', function () {
  this.timeout(60_000);
  let tmp: string;
  let log: string;
  let checker: MathChecker | undefined;
  const calls = (): Call[] =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  const open = (extra: Record<string, string> = {}, timeoutMs?: number) =>
    openMathChecker(PY, {
      env: {
        ...process.env,
        OPENAI_API_KEY: 'sk-secret',
        LLM_AS_A_JUDGE_API_KEY: 'judge-secret',
        RAY_TOKEN: 't',
        PYTHONPATH: STANDIN,
        PYTHONDONTWRITEBYTECODE: '1',
        MATH_VERIFY_STANDIN_LOG: log,
        ...extra,
      },
      timeoutMs,
    });

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'codedance-mathcheck-'));
    log = path.join(tmp, 'calls.jsonl');
  });
  afterEach(async () => {
    await checker?.dispose();
    checker = undefined;
    rmSync(tmp, { recursive: true, force: true });
  });

  it('calls parse(gold), parse(answer), verify(gold, answer) exactly as the seed, the raw strings, no options', async () => {
    checker = await open();
    assert.equal(checker.info.mode, 'math_verify');
    assert.equal(checker.info.version, '0.0-standin');
    assert.match(checker.info.note, /^math check: math_verify 0\.0-standin/);
    assert.equal(await checker.equivalent('5', ' 5 cm'), true);
    const c = calls();
    assert.deepEqual(
      c.map(({ fn, args, kwargs }) => ({ fn, args, kwargs })),
      [
        { fn: 'parse', args: ['5'], kwargs: {} },
        { fn: 'parse', args: [' 5 cm'], kwargs: {} },
        { fn: 'verify', args: [{ parsed: '5' }, { parsed: ' 5 cm' }], kwargs: {} },
      ],
    );
    assert.deepEqual(c[0].secret_env, [], 'the helper parses model output: it gets no API key or token');
  });

  it("takes math_verify's verdicts where the JS check differs, and batches every check through one process", async () => {
    checker = await open();
    const pairs: [string, string, boolean][] = [
      ['1000', '1,000', true],
      ['\\frac{1}{3}', '0.333333', true],
      ['\\sqrt{2}', '\\sqrt{2}', false], // unparsable for math_verify: the judge decides
      ['A', 'A', false],
      ['7', '8', false],
    ];
    const many = Array.from({ length: 40 }, (_, i) => pairs[i % pairs.length]);
    const got = await Promise.all(many.map(([g, a]) => checker!.equivalent(g, a)));
    assert.deepEqual(
      got,
      many.map((p) => p[2]),
    );
    const c = calls();
    assert.equal(c.filter((x) => x.fn === 'verify').length, 40);
    assert.equal(new Set(c.map((x) => x.pid)).size, 1, 'one helper process for all the checks');
  });

  it('scores a math row with it: 1/3 = 0.333333 without asking the judge, the detail says math_verify', async () => {
    checker = await open();
    let asked = 0;
    const judge = {
      model: 'judge',
      promptHash: 'h',
      endpoints: [],
      ask: async () => (asked++, { text: '## Equivalence Judgement\nFALSE', cached: false }),
    };
    const r = await computeScore('xince', '<think>t</think><answer>0.333333</answer>', '\\frac{1}{3}', 'q', { judge, math: checker });
    assert.equal(r.result.acc, 1);
    assert.equal(r.detail.mathCheck, 'math_verify');
    assert.equal(asked, 0);
    const r2 = await computeScore('xince', '<think>t</think><answer>\\sqrt{2}</answer>', '\\sqrt{2}', 'q', { judge, math: checker });
    assert.equal(asked, 1, 'unparsable for math_verify: the judge is asked, as in the seed');
    assert.equal(r2.result.acc, 0);
  });

  it('a raise or a hang in math_verify: that check is undecided (not equal), the helper goes on or is restarted', async () => {
    checker = await open({}, 1500);
    assert.equal(await checker.equivalent('RAISE', '1'), false);
    assert.equal(await checker.equivalent('2', '2'), true, 'the helper survived the raise');
    // checks queued behind the one that hangs go again to a new helper; only the hung one is undecided
    const got = await Promise.all([
      checker.equivalent('HANG', '1'),
      checker.equivalent('3', '3'),
      checker.equivalent('1000', '1,000'),
      checker.equivalent('4', '5'),
    ]);
    assert.deepEqual(got, [false, true, true, false]);
    assert.equal(await checker.equivalent('6', '6'), true, 'the new helper goes on');
    assert.equal(checker.info.mode, 'math_verify', 'one hang does not make the run approximate');
    assert.equal(new Set(calls().map((x) => x.pid)).size, 2);
  });

  it('a helper that keeps dying: the rest of the run is approximate, and the info says why', async () => {
    checker = await open({}, 800);
    for (let i = 0; i < 3; i++) assert.equal(await checker.equivalent('HANG', '1'), false);
    assert.equal(checker.info.mode, 'approximate');
    assert.match(checker.info.note, /^math check: approximate \(the math_verify helper failed: math_verify took more than 1 s/);
    assert.equal(await checker.equivalent('\\frac{1}{2}', '0.5'), true, 'the JS check from now on');
  });

  it('without math_verify: approximate, said in the info with the install command', async () => {
    checker = await openMathChecker(PY, { env: { ...process.env, PYTHONPATH: tmp } });
    assert.equal(checker.info.mode, 'approximate');
    assert.equal(checker.info.note, 'math check: approximate (math_verify not installed)');
    assert.equal(checker.info.fix, `${PY} -m pip install math-verify`);
    assert.equal(await checker.equivalent('\\frac{1}{2}', '0.5'), true, 'the JS check still runs');
    const r = await computeScore('xince', '<think>t</think><answer>0.5</answer>', '\\frac{1}{2}', 'q', { math: checker });
    assert.equal(r.detail.mathCheck, 'approximate');
    const none = await openMathChecker(path.join(tmp, 'no-such-python'));
    assert.equal(none.info.mode, 'approximate');
    assert.match(none.info.note, /math_verify could not be used: .*no-such-python could not be started/);
  });
});
