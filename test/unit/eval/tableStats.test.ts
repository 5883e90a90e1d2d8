/**
 * The results table's statistics against published and reference values: the Wilson score
 * interval against Newcombe (1998), "Two-sided confidence intervals for the single proportion:
 * comparison of seven methods", Statistics in Medicine 17:857-872, Table II (method 3, the score
 * interval without continuity correction); McNemar's test against SciPy 1.10.1
 * (`scipy.stats.binomtest(min(b, c), b + c, 0.5).pvalue` for the exact test,
 * `scipy.stats.chi2.sf((abs(b - c) - 1) ** 2 / (b + c), 1)` for the corrected chi-square), and
 * Agresti's approval-rating example (Categorical Data Analysis, 2nd ed., §10.1: b = 150, c = 86).
 */
import { strict as assert } from 'node:assert';
import { binomialTwoSided, chiSquare1Tail, mcnemarTest, wilsonInterval } from '../../../src/core/eval/tableStats';

const close = (actual: number, expected: number, rel = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= rel * Math.max(Math.abs(expected), 1e-300), `${actual} != ${expected}`);

describe('results table statistics', () => {
  it('the Wilson score interval matches Newcombe (1998) to the 4 decimals published', () => {
    const cases: [number, number, string, string][] = [
      [81, 263, '0.2553', '0.3662'],
      [15, 148, '0.0624', '0.1605'],
      [0, 20, '0.0000', '0.1611'],
      [1, 29, '0.0061', '0.1718'],
    ];
    for (const [k, n, lo, hi] of cases) {
      const ci = wilsonInterval(k, n)!;
      assert.deepEqual([ci[0].toFixed(4), ci[1].toFixed(4)], [lo, hi], `${k}/${n}`);
    }
  });

  it('the Wilson interval stays within [0, 1], is exact at the edges, and is absent without samples', () => {
    assert.deepEqual(wilsonInterval(10, 10)![1], 1);
    assert.deepEqual(wilsonInterval(0, 10)![0], 0);
    close(wilsonInterval(10, 10)![0], 0.7224672001371107, 1e-12);
    close(wilsonInterval(7, 10)![0], 0.39677814746114537, 1e-12);
    close(wilsonInterval(7, 10)![1], 0.8922087325936989, 1e-12);
    assert.equal(wilsonInterval(0, 0), undefined);
  });

  it("McNemar below 25 discordant pairs is SciPy's exact two-sided binomial test", () => {
    const cases: [number, number, number][] = [
      [3, 10, 0.09228515625],
      [0, 24, 1.1920928955078125e-7],
      [5, 19, 0.006610751152038574],
      [12, 12, 1],
      [0, 1, 1],
    ];
    for (const [b, c, p] of cases) {
      const t = mcnemarTest(b, c);
      assert.equal(t.method, 'exact');
      assert.equal(t.statistic, undefined);
      close(t.p, p, 1e-12);
      close(mcnemarTest(c, b).p, p, 1e-12); // symmetric
    }
    assert.deepEqual(mcnemarTest(0, 0), { method: 'exact', b: 0, c: 0, p: 1 });
    assert.ok(binomialTwoSided(2, 5) <= 1);
  });

  it('McNemar from 25 discordant pairs on is the chi-square with continuity correction (Agresti’s example, SciPy’s tail)', () => {
    const t = mcnemarTest(150, 86);
    assert.equal(t.method, 'chi-square-cc');
    close(t.statistic!, 63 ** 2 / 236, 1e-12);
    close(t.p, 4.114562281345944e-5, 1e-9);
    const u = mcnemarTest(10, 15);
    assert.equal(u.method, 'chi-square-cc');
    close(u.statistic!, 0.64, 1e-12);
    close(u.p, 0.4237107971667936, 1e-9);
    close(mcnemarTest(20, 40).p, 0.014171388254012323, 1e-9);
  });

  it("the chi-square tail (1 degree of freedom) matches SciPy's chi2.sf over its range", () => {
    const cases: [number, number][] = [
      [1e-6, 0.9992021155721779],
      [0.001, 0.9747728793699604],
      [0.5, 0.47950012218695337],
      [1, 0.31731050786291115],
      [3.84, 0.05004352124870519],
      [10, 0.001565402258002549],
      [50, 1.537459794428033e-12],
      [200, 2.0884875837625688e-45],
    ];
    for (const [x, p] of cases) close(chiSquare1Tail(x), p, 1e-9);
    assert.equal(chiSquare1Tail(0), 1);
  });
});
