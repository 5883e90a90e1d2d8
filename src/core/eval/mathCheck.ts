/**
 * The symbolic check of the math sources, at parity with the seed: when the evaluating Python
 * can import `math_verify`, every check is the seed's `rule_math_verify(ground_truth,
 * model_answer)` — `verify(parse(ground_truth), parse(model_answer))`, default arguments —
 * run in one long-lived helper process per eval (core/pyhelper: JSON lines with ids, a timeout
 * per check, a new process after a hang or a crash), not one process per sample. Otherwise the
 * JavaScript CAS of reward/mathVerify.ts stands in, and the run says "math check: approximate"
 * with the install command.
 */
import os from 'node:os';
import { helperProgram, PythonHelper, PythonHelperError } from '../pyhelper';
import { mathEquivalent } from '../reward/mathVerify';

export interface MathCheckInfo {
  mode: 'math_verify' | 'approximate';
  /** one line for the stats and summaries */
  note: string;
  python?: string;
  version?: string;
  /** how to get the exact check */
  fix?: string;
}

export interface MathChecker {
  /** what the checks so far used (a helper that failed mid-run turns it to approximate) */
  readonly info: MathCheckInfo;
  equivalent(gold: string, answer: string): Promise<boolean>;
  dispose(): Promise<void>;
}

export const MATH_VERIFY_INSTALL = 'pip install math-verify';

/** The helper's setup (pyhelper's protocol around it): the seed's check, its version in the ready line. */
const SETUP = String.raw`
import math_verify
from math_verify import parse, verify
version = getattr(math_verify, "__version__", None)
if version is None:
    try:
        from importlib.metadata import version as _v
        version = _v("math-verify")
    except Exception:
        version = "unknown"
READY = {"version": str(version)}
def handle(p):
    return bool(verify(parse(p["gold"]), parse(p["answer"])))
`;

/** The JavaScript stand-in, marked approximate. */
export function approximateMathChecker(why = 'math_verify not installed', python?: string): MathChecker {
  const info: MathCheckInfo = {
    mode: 'approximate',
    note: `math check: approximate (${why})`,
    python,
    fix: python ? `${python} -m ${MATH_VERIFY_INSTALL}` : MATH_VERIFY_INSTALL,
  };
  return { info, equivalent: (g, a) => mathEquivalent(g, a), dispose: async () => undefined };
}

class PythonMathChecker implements MathChecker {
  info: MathCheckInfo;
  private fallback?: MathChecker;

  constructor(
    private readonly python: string,
    version: string,
    private readonly helper: PythonHelper<{ gold: string; answer: string }, boolean>,
    private readonly log?: (line: string) => void,
  ) {
    this.info = { mode: 'math_verify', note: `math check: math_verify ${version} (${python})`, python, version };
  }

  async equivalent(gold: string, answer: string): Promise<boolean> {
    if (this.fallback) return this.fallback.equivalent(gold, answer);
    try {
      return (await this.helper.request({ gold, answer })) === true;
    } catch (e) {
      const err = e as Error;
      // a helper that keeps dying is the run's problem: the rest of the run is approximate, and says so
      if (this.helper.failed && !this.fallback) {
        this.log?.(`math check: ${err.message}; the rest of the run uses the approximate check`);
        this.fallback = approximateMathChecker(`the math_verify helper failed: ${err.message}`, this.python);
        this.info = this.fallback.info;
        void this.helper.dispose();
        return this.fallback.equivalent(gold, answer);
      }
      // this answer's own failure (math_verify raised or hung, or the helper died on it):
      // undecided, so the judge decides, as when math_verify says False
      this.log?.(`math check: ${err.message}`);
      return false;
    }
  }

  dispose(): Promise<void> {
    return this.helper.dispose();
  }
}

export interface MathCheckerOptions {
  /** environment the helper's is taken from (default: this process's); only `helperEnv`'s allow-list passes */
  env?: NodeJS.ProcessEnv;
  /** per-check limit, ms (default 60000; math_verify bounds its own parse/verify at 5 s each) */
  timeoutMs?: number;
  log?: (line: string) => void;
}

/**
 * The helper parses model-written answers: it gets what Python needs to find its packages
 * (PATH, HOME, PYTHONPATH, virtualenv/conda, locale, temp folder; MATH_VERIFY_* settings), never
 * the API keys and tokens of this process.
 */
export function helperEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const keep =
    /^(PATH|HOME|USER|LOGNAME|LANG|LC_[A-Z]+|TZ|TMPDIR|TEMP|TMP|SYSTEMROOT|PYTHON[A-Z]*|VIRTUAL_ENV|CONDA_PREFIX|CONDA_DEFAULT_ENV|MATH_VERIFY_\w+)$/;
  return Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && keep.test(k)));
}

/**
 * The seed's check when `python` can import `math_verify`, else the approximate one (saying
 * why). Starts the helper at once: call it when a math sample needs it.
 */
export async function openMathChecker(python: string, o: MathCheckerOptions = {}): Promise<MathChecker> {
  const helper = new PythonHelper<{ gold: string; answer: string }, boolean>({
    name: 'math_verify',
    python,
    launch: () => ({ command: python, args: ['-u', '-c', helperProgram(SETUP)], env: helperEnv(o.env ?? process.env), cwd: os.tmpdir() }),
    timeoutMs: o.timeoutMs ?? 60_000,
    startTimeoutMs: 60_000,
    fix: `check that ${python} runs and can import math_verify (${python} -m ${MATH_VERIFY_INSTALL})`,
  });
  try {
    const ready = await helper.start();
    return new PythonMathChecker(python, String(ready.version ?? 'unknown'), helper, o.log);
  } catch (e) {
    await helper.dispose();
    const err = e instanceof PythonHelperError ? e : undefined;
    const missing = /No module named '?math_verify/.test(err?.pythonError ?? '');
    const why = missing ? 'math_verify not installed' : `math_verify could not be used: ${err?.detail ?? (e as Error).message}`;
    o.log?.(`math check: approximate (${why}); for the seed's check: ${python} -m ${MATH_VERIFY_INSTALL}`);
    return approximateMathChecker(why, python);
  }
}
