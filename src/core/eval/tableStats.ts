/**
 * The statistics of the results table (tableModel.ts), written out here rather than taken from a
 * library (none is a dependency, and each is a few lines):
 *  - the Wilson score interval of an accuracy (Wilson 1927; the interval `statsmodels`'
 *    `proportion_confint(method='wilson')` gives), 95 % by default;
 *  - McNemar's test on the discordant pairs of two runs over the same samples: the exact
 *    two-sided binomial test when there are fewer than 25 of them (`b + c < 25`, the usual rule:
 *    the chi-square approximation is poor below it), else the chi-square statistic with
 *    Edwards' continuity correction, `(|b − c| − 1)² / (b + c)` on 1 degree of freedom.
 * The chi-square tail is the regularized upper incomplete gamma function Q(1/2, x/2) (series
 * and continued fraction, as Numerical Recipes' `gammq`), exact to about 1e-14.
 */

/** the 97.5 % quantile of the standard normal distribution: a two-sided 95 % interval */
export const Z95 = 1.959963984540054;

/** below this many discordant pairs McNemar's test is the exact binomial one */
export const MCNEMAR_EXACT_BELOW = 25;

/** The Wilson score interval of `k` successes in `n` trials; undefined when n is 0. */
export function wilsonInterval(k: number, n: number, z = Z95): [number, number] | undefined {
  if (!(n > 0)) return undefined;
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // exact at the edges (k = 0 or n), where rounding could leave a hair outside [0, 1]
  return [k === 0 ? 0 : Math.max(0, center - half), k === n ? 1 : Math.min(1, center + half)];
}

export interface McNemarTest {
  /** 'exact': two-sided binomial test on the discordant pairs; 'chi-square-cc': chi-square with continuity correction */
  method: 'exact' | 'chi-square-cc';
  /** pairs right in the first run and not in the second */
  b: number;
  /** pairs right in the second run and not in the first */
  c: number;
  /** the chi-square statistic (chi-square-cc only) */
  statistic?: number;
  p: number;
}

/** McNemar's test of `b` against `c` discordant pairs (see the file's comment for which test). */
export function mcnemarTest(b: number, c: number): McNemarTest {
  const n = b + c;
  if (n < MCNEMAR_EXACT_BELOW) return { method: 'exact', b, c, p: binomialTwoSided(Math.min(b, c), n) };
  const statistic = (Math.abs(b - c) - 1) ** 2 / n;
  return { method: 'chi-square-cc', b, c, statistic, p: chiSquare1Tail(statistic) };
}

/** min(1, 2·P(X ≤ k)) for X ~ Binomial(n, 1/2), k ≤ n/2: the two-sided exact test of a fair split. */
export function binomialTwoSided(k: number, n: number): number {
  if (n === 0) return 1;
  // terms in log space: C(n, i) / 2^n never underflows on the way
  let logTerm = -n * Math.LN2;
  let sum = Math.exp(logTerm);
  for (let i = 0; i < k; i++) {
    logTerm += Math.log(n - i) - Math.log(i + 1);
    sum += Math.exp(logTerm);
  }
  return Math.min(1, 2 * sum);
}

/** P(X > x) for X chi-square with 1 degree of freedom: Q(1/2, x/2). */
export function chiSquare1Tail(x: number): number {
  if (!(x > 0)) return 1;
  return gammaQHalf(x / 2);
}

/** ln Γ(1/2) = ln √π */
const LN_GAMMA_HALF = 0.5 * Math.log(Math.PI);
const EPS = 1e-15;
const MAX_ITER = 500;

/** The regularized upper incomplete gamma function Q(1/2, x). */
function gammaQHalf(x: number): number {
  const a = 0.5;
  const front = Math.exp(-x + a * Math.log(x) - LN_GAMMA_HALF);
  if (x < a + 1) {
    // series for P(a, x)
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n < MAX_ITER && Math.abs(term) > Math.abs(sum) * EPS; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return 1 - sum * front;
  }
  // continued fraction for Q(a, x) (modified Lentz)
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return front * h;
}
