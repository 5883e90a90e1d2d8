/**
 * The symbolic check of the math sources, at parity with the seed: when the evaluating Python
 * can import `math_verify`, every check is the seed's `rule_math_verify(ground_truth,
 * model_answer)` — `verify(parse(ground_truth), parse(model_answer))`, default arguments —
 * run in one long-lived helper process per eval (JSON lines in, JSON lines out), not one
 * process per sample. Otherwise the JavaScript CAS of mathVerify.ts stands in, and the run says
 * "math check: approximate" with the install command.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { CodeDanceError } from '../errors';
import { mathEquivalent } from './mathVerify';

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

/**
 * The helper: stdout carries only the replies (library prints go to stderr); the first line
 * says whether `math_verify` imported; then one reply per request, in order.
 */
const HELPER = String.raw`
import json, sys
out = sys.stdout
sys.stdout = sys.stderr
sys.path = [p for p in sys.path if p not in ("", ".")]
def send(o):
    out.write(json.dumps(o) + "\n")
    out.flush()
try:
    import math_verify
    from math_verify import parse, verify
except BaseException as e:
    send({"ready": False, "error": type(e).__name__ + ": " + str(e)})
    sys.exit(0)
version = getattr(math_verify, "__version__", None)
if version is None:
    try:
        from importlib.metadata import version as _v
        version = _v("math-verify")
    except Exception:
        version = "unknown"
send({"ready": True, "version": str(version)})
for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    try:
        gold = parse(req["gold"])
        answer = parse(req["answer"])
        send({"id": req["id"], "equal": bool(verify(gold, answer))})
    except Exception as e:
        send({"id": req["id"], "error": type(e).__name__ + ": " + str(e)})
`;

/** The JavaScript stand-in, marked approximate. */
export function approximateMathChecker(why = 'math_verify not installed', python?: string): MathChecker {
  const info: MathCheckInfo = { mode: 'approximate', note: `math check: approximate (${why})`, python, fix: python ? `${python} -m ${MATH_VERIFY_INSTALL}` : MATH_VERIFY_INSTALL };
  return { info, equivalent: (g, a) => mathEquivalent(g, a), dispose: async () => undefined };
}

interface Pending {
  resolve: (v: boolean) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

class PythonMathChecker implements MathChecker {
  info: MathCheckInfo;
  private proc?: ChildProcessWithoutNullStreams;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  /** helpers that died, hung or did not start since the last answer */
  private deaths = 0;
  private fallback?: MathChecker;
  private starting?: Promise<void>;

  constructor(
    private readonly python: string,
    version: string,
    private readonly o: MathCheckerOptions,
    proc: ChildProcessWithoutNullStreams,
  ) {
    this.info = { mode: 'math_verify', note: `math check: math_verify ${version} (${python})`, python, version };
    this.attach(proc);
  }

  private attach(proc: ChildProcessWithoutNullStreams): void {
    this.proc = proc;
    createInterface({ input: proc.stdout }).on('line', (line) => {
      let r: { id?: number; equal?: boolean; error?: string };
      try {
        r = JSON.parse(line);
      } catch {
        return;
      }
      const p = r.id !== undefined ? this.pending.get(r.id) : undefined;
      if (!p) return;
      this.pending.delete(r.id!);
      clearTimeout(p.timer);
      if (r.error !== undefined) p.reject(Object.assign(new CodeDanceError('internal', `math_verify raised ${r.error}`), { raised: true }));
      else p.resolve(!!r.equal);
    });
    proc.on('exit', (code, sig) => this.detach(proc, new CodeDanceError('python-env', `the math_verify helper exited (${sig ?? `code ${code}`})`, { retryable: true })));
  }

  /**
   * Drops a helper that died or hung: the check that hung it fails (undecided), the others that
   * were waiting behind it go again to a new helper.
   */
  private detach(proc: ChildProcessWithoutNullStreams, e: Error, culprit?: number): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    this.deaths++;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(id === culprit ? e : Object.assign(new CodeDanceError('python-env', `${e.message} (while this check waited)`, { retryable: true }), { again: true }));
    }
  }

  private async restart(): Promise<void> {
    const r = await startHelper(this.python, this.o);
    if (!r.ok) throw new CodeDanceError('python-env', r.error);
    this.attach(r.proc);
  }

  async equivalent(gold: string, answer: string): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (this.fallback) return this.fallback.equivalent(gold, answer);
      try {
        if (!this.proc)
          await (this.starting ??= this.restart()
            .catch((e: Error) => {
              this.deaths++;
              throw e;
            })
            .finally(() => (this.starting = undefined)));
        const equal = await this.ask(gold, answer);
        this.deaths = 0;
        return equal;
      } catch (e) {
        const err = e as Error & { raised?: boolean; again?: boolean };
        // a helper that keeps dying is the run's problem: the rest of the run is approximate, and says so
        if (!err.raised && this.deaths >= 3 && !this.fallback) {
          this.o.log?.(`math check: ${err.message}; the rest of the run uses the approximate check`);
          this.fallback = approximateMathChecker(`the math_verify helper failed: ${err.message}`, this.python);
          this.info = this.fallback.info;
          void this.dispose();
          continue;
        }
        if (err.again && attempt < 2) continue;
        // this answer's own failure (math_verify raised, or hung): undecided, so the judge decides,
        // as when math_verify says False
        this.o.log?.(`math check: ${err.message}`);
        return false;
      }
    }
  }

  private ask(gold: string, answer: string): Promise<boolean> {
    const proc = this.proc!;
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => this.detach(proc, new CodeDanceError('python-env', `math_verify took more than ${Math.round(this.timeoutMs / 1000)} s on one answer; the helper was restarted`), id), this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      proc.stdin.write(JSON.stringify({ id, gold, answer }) + '\n');
    });
  }

  private get timeoutMs(): number {
    return this.o.timeoutMs ?? 60_000;
  }

  async dispose(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.stdin.end();
      setTimeout(() => p.kill('SIGKILL'), 2000).unref();
    });
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
  const keep = /^(PATH|HOME|USER|LOGNAME|LANG|LC_[A-Z]+|TZ|TMPDIR|TEMP|TMP|SYSTEMROOT|PYTHON[A-Z]*|VIRTUAL_ENV|CONDA_PREFIX|CONDA_DEFAULT_ENV|MATH_VERIFY_\w+)$/;
  return Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && keep.test(k)));
}

type Started = { ok: true; proc: ChildProcessWithoutNullStreams; version: string } | { ok: false; error: string; missing: boolean };

function startHelper(python: string, o: MathCheckerOptions): Promise<Started> {
  return new Promise((resolve) => {
    let proc: ChildProcessWithoutNullStreams;
    try {
      proc = spawn(python, ['-u', '-c', HELPER], { cwd: os.tmpdir(), env: helperEnv(o.env ?? process.env), stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (e) {
      return resolve({ ok: false, error: `${python} could not be started (${(e as Error).message})`, missing: false });
    }
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    const rl = createInterface({ input: proc.stdout });
    const done = (r: Started) => {
      rl.close();
      proc.removeAllListeners('exit');
      resolve(r);
    };
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      done({ ok: false, error: `importing math_verify in ${python} took more than 60 s`, missing: false });
    }, 60_000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      done({ ok: false, error: `${python} could not be started (${e.message})`, missing: false });
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      done({ ok: false, error: `${python} exited (code ${code}) before answering: ${stderr.trim().split('\n').pop() ?? ''}`, missing: false });
    });
    rl.on('line', (line) => {
      let r: { ready?: boolean; version?: string; error?: string };
      try {
        r = JSON.parse(line);
      } catch {
        return; // not ours (a sitecustomize print): the helper's first line is JSON
      }
      if (typeof r !== 'object' || r === null || typeof r.ready !== 'boolean') return;
      clearTimeout(timer);
      if (r.ready) return done({ ok: true, proc, version: r.version ?? 'unknown' });
      proc.kill();
      done({ ok: false, error: r.error ?? 'math_verify did not import', missing: /No module named '?math_verify/.test(r.error ?? '') });
    });
    proc.stdin.on('error', () => undefined);
  });
}

/**
 * The seed's check when `python` can import `math_verify`, else the approximate one (saying
 * why). Starts the helper at once: call it when a math sample needs it.
 */
export async function openMathChecker(python: string, o: MathCheckerOptions = {}): Promise<MathChecker> {
  const r = await startHelper(python, o);
  if (r.ok) return new PythonMathChecker(python, r.version, o, r.proc);
  const why = r.missing ? 'math_verify not installed' : `math_verify could not be used: ${r.error}`;
  o.log?.(`math check: approximate (${why}); for the seed's check: ${python} -m ${MATH_VERIFY_INSTALL}`);
  return approximateMathChecker(why, python);
}
