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
  private failures = 0;
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
      if (r.error !== undefined) p.reject(Object.assign(new Error(`math_verify raised ${r.error}`), { raised: true }));
      else p.resolve(!!r.equal);
    });
    proc.on('exit', (code, sig) => this.detach(proc, new Error(`the math_verify helper exited (${sig ?? `code ${code}`})`)));
  }

  /** Drops a helper that died or hung: its pending checks fail, the next check starts a new one. */
  private detach(proc: ChildProcessWithoutNullStreams, e: Error): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(e);
    }
  }

  private async restart(): Promise<void> {
    const r = await startHelper(this.python, this.o);
    if (!r.ok) throw new Error(r.error);
    this.attach(r.proc);
  }

  async equivalent(gold: string, answer: string): Promise<boolean> {
    if (this.fallback) return this.fallback.equivalent(gold, answer);
    try {
      if (!this.proc) await (this.starting ??= this.restart().finally(() => (this.starting = undefined)));
      const equal = await this.ask(gold, answer);
      this.failures = 0;
      return equal;
    } catch (e) {
      this.o.log?.(`math check: ${(e as Error).message}`);
      // the seed's parse/verify raising on one answer is that answer's; a helper that keeps dying is the run's
      if (!(e as { raised?: boolean }).raised && ++this.failures >= 3) {
        this.fallback = approximateMathChecker(`the math_verify helper failed: ${(e as Error).message}`, this.python);
        this.info = this.fallback.info;
        void this.dispose();
      }
      // undecided: not equal, so the judge decides, as when math_verify says False
      return false;
    }
  }

  private ask(gold: string, answer: string): Promise<boolean> {
    const proc = this.proc!;
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      const timer = setTimeout(() => this.detach(proc, new Error(`math_verify took more than ${Math.round(this.timeoutMs / 1000)} s on one answer; the helper was restarted`)), this.timeoutMs);
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
  /** environment of the helper (default: this process's, so PYTHONPATH and user site-packages apply) */
  env?: NodeJS.ProcessEnv;
  /** per-check limit, ms (default 60000; math_verify bounds its own parse/verify at 5 s each) */
  timeoutMs?: number;
  log?: (line: string) => void;
}

type Started = { ok: true; proc: ChildProcessWithoutNullStreams; version: string } | { ok: false; error: string; missing: boolean };

function startHelper(python: string, o: MathCheckerOptions): Promise<Started> {
  return new Promise((resolve) => {
    let proc: ChildProcessWithoutNullStreams;
    try {
      proc = spawn(python, ['-u', '-c', HELPER], { cwd: os.tmpdir(), env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
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
    rl.once('line', (line) => {
      clearTimeout(timer);
      let r: { ready?: boolean; version?: string; error?: string } = {};
      try {
        r = JSON.parse(line);
      } catch {
        /* not ours */
      }
      if (r.ready) return done({ ok: true, proc, version: r.version ?? 'unknown' });
      proc.kill();
      done({ ok: false, error: r.error ?? `unexpected output: ${line.slice(0, 200)}`, missing: /No module named '?math_verify/.test(r.error ?? '') });
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
