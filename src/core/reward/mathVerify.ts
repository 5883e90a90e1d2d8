/**
 * Symbolic answer equivalence for the math sources, standing in for Python's `math_verify`
 * (`verify(parse(gold), parse(answer))`). LaTeX is parsed with @cortex-js/compute-engine
 * (a maintained CAS that reads LaTeX): equal when the CAS says so, else when both evaluate to
 * the same number, else when they agree at random points for their free variables. Anything
 * it cannot decide is "not equal" and goes to the judge, as in the seed.
 */
import type { ComputeEngine } from '@cortex-js/compute-engine';

/** Process-wide (module state on purpose): the CAS, a pure engine loaded once per process. */
let engine: Promise<ComputeEngine> | undefined;
/**
 * Loaded on first use with import() (a large module: the extension and the CLI pay for it only
 * in a math eval). import(), not require(): the package's "require" entry is a script that
 * registers a global instead of exporting; its "import" entry is the ES module.
 */
function ce(): Promise<ComputeEngine> {
  engine ??= import('@cortex-js/compute-engine').then((m) => new m.ComputeEngine());
  return engine;
}

/** The innermost content of the last `\boxed{...}` (balanced braces), if any. */
function lastBoxed(s: string): string | undefined {
  const i = Math.max(s.lastIndexOf('\\boxed{'), s.lastIndexOf('\\fbox{'));
  if (i < 0) return undefined;
  let j = s.indexOf('{', i) + 1;
  const start = j;
  let depth = 1;
  for (; j < s.length && depth > 0; j++) {
    if (s[j] === '{') depth++;
    else if (s[j] === '}') depth--;
  }
  return depth === 0 ? s.slice(start, j - 1) : undefined;
}

/** What `math_verify.parse` would look at: the boxed part, math delimiters and text wrappers removed. */
export function normalizeMathAnswer(raw: string): string {
  let s = raw.trim();
  s = lastBoxed(s) ?? s;
  const dollars = /\$\$?([^$]+)\$\$?/g;
  const m = [...s.matchAll(dollars)];
  if (m.length) s = m[m.length - 1][1];
  s = s.replace(/^\\\(|\\\)$/g, '').replace(/^\\\[|\\\]$/g, '');
  s = s.replace(/\\(?:text|textbf|mathrm|mbox)\{([^{}]*)\}/g, '$1');
  s = s.replace(/\\left|\\right|\\!|\\,|\\;|\\displaystyle/g, '');
  s = s.replace(/^(?:the\s+)?(?:final\s+)?answer\s*(?:is|:)\s*/i, '');
  s = s.replace(/^[a-zA-Z]\s*=\s*(?=[^=]+$)/, ''); // "x = 3" -> "3"
  s = s.replace(/[.。\s]+$/, '').trim();
  s = s.replace(/\^\{\\circ\}|\^\\circ|°/g, '');
  return s;
}

function numeric(e: ReturnType<ComputeEngine['parse']>): number | undefined {
  try {
    const n = e.N();
    const v = n.re;
    return typeof v === 'number' && Number.isFinite(v) && (n.im === 0 || n.im === undefined || Number.isNaN(n.im)) ? v : undefined;
  } catch {
    return undefined;
  }
}

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** true when the two answers are mathematically the same; false when unsure. */
export async function mathEquivalent(gold: string, answer: string): Promise<boolean> {
  const g = normalizeMathAnswer(gold);
  const a = normalizeMathAnswer(answer);
  if (!g || !a) return false;
  if (g === a) return true;
  try {
    const E = await ce();
    const G = E.parse(g);
    const A = E.parse(a);
    if (!G.isValid || !A.isValid) return false;
    if (G.isSame(A)) return true;
    const eq = G.isEqual(A);
    if (eq === true) return true;
    if (eq === false) return false;
    const gn = numeric(G);
    const an = numeric(A);
    if (gn !== undefined && an !== undefined) return close(gn, an);
    // free variables: compare at a few points
    const vars = [...new Set([...(G.unknowns ?? []), ...(A.unknowns ?? [])])];
    if (!vars.length || vars.length > 4) return false;
    const points = [0.37, 1.91, -2.53];
    for (const p of points) {
      const subs = Object.fromEntries(vars.map((v, i) => [v, E.number(p + i * 0.71)]));
      const x = numeric(G.subs(subs));
      const y = numeric(A.subs(subs));
      if (x === undefined || y === undefined || !close(x, y)) return false;
    }
    return true;
  } catch {
    return false;
  }
}
