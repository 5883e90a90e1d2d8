/**
 * Secret values never leave the kernel layer: every text a cell produces (stdout, stderr, the
 * error's value and traceback, streamed chunks) has the values of known secrets replaced with
 * `***` before anyone sees it — the trajectory, the notebook, eval results, the next model
 * request. The values come from the host environment (variables whose names say KEY, TOKEN,
 * SECRET, PASSWORD, PASSPHRASE, CREDENTIAL) and from the caller (e.g. an API key read from a
 * settings store). The kernel's own environment is an allow-list (sandbox.ts), so this is the
 * second line: it also catches a secret the code found some other way.
 */
import type { ExecutionOutputEvent, ExecutionResult } from './types';

export const REDACTED = '***';

/** names of variables whose values are treated as secrets */
export const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL)/i;

/** shorter values are not redacted: they would mangle ordinary output ("1", "true", "none") */
export const MIN_SECRET_LENGTH = 6;

export interface RedactOptions {
  /** further secret values (an API key from a settings store, a judge key, a token) */
  values?: string[];
  /** also the secret-looking variables of this environment (default process.env; false: none) */
  env?: Record<string, string | undefined> | false;
}

/** Values of the variables whose names look secret, long enough to redact safely. */
export function secretValuesFromEnv(env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(env)) if (v && SECRET_NAME.test(k)) out.push(v);
  return out;
}

/** secrets of this process that are not in its environment (keys from a settings store) */
const registered = new Set<string>();
let registeredVersion = 0;

/**
 * Adds secret values every redactor of this process replaces from now on (unless made with
 * `createRedactor(false)`): an API key read from SecretStorage, a judge key, a token.
 */
export function registerSecret(...values: (string | undefined)[]): void {
  for (const v of values) {
    const t = v?.trim();
    if (t && t.length >= MIN_SECRET_LENGTH && !registered.has(t)) {
      registered.add(t);
      registeredVersion++;
    }
  }
}

export class Redactor {
  private readonly own: Set<string>;
  private values: string[] = [];
  private pattern: RegExp | undefined;
  private builtFor = -1;

  /** `withRegistered`: also the values of registerSecret() (default true) */
  constructor(values: Iterable<string>, private readonly withRegistered = true) {
    this.own = new Set<string>();
    for (const v of values) {
      const t = v.trim();
      if (t.length >= MIN_SECRET_LENGTH) this.own.add(t);
    }
    this.build();
  }

  private build(): void {
    const version = this.withRegistered ? registeredVersion : 0;
    if (this.builtFor === version) return;
    this.builtFor = version;
    const all = new Set([...this.own, ...(this.withRegistered ? registered : [])]);
    // longest first, so a secret that contains another is replaced whole
    this.values = [...all].sort((a, b) => b.length - a.length);
    this.pattern = this.values.length ? new RegExp(this.values.map(escapeRegExp).join('|'), 'g') : undefined;
  }

  get size(): number {
    this.build();
    return this.values.length;
  }

  redact(text: string): string {
    this.build();
    if (!this.pattern || !text) return text;
    return text.replace(this.pattern, REDACTED);
  }

  /** A copy of the result with every text field redacted (images are left as they are). */
  redactResult(r: ExecutionResult): ExecutionResult {
    this.build();
    if (!this.pattern) return r;
    const out: ExecutionResult = { ...r, stdout: this.redact(r.stdout), stderr: this.redact(r.stderr) };
    if (r.error) out.error = { ...r.error, ename: this.redact(r.error.ename), evalue: this.redact(r.error.evalue), traceback: r.error.traceback.map((l) => this.redact(l)) };
    return out;
  }

  /** Wraps a live-output listener so streamed text is redacted too (a secret split across two chunks is caught only in the final result). */
  wrapListener(fn: ((ev: ExecutionOutputEvent) => void) | undefined): ((ev: ExecutionOutputEvent) => void) | undefined {
    if (!fn) return fn;
    return (ev) => fn(ev.kind === 'stream' ? { ...ev, text: this.redact(ev.text) } : ev);
  }
}

/** The redactor for a session: the environment's secrets plus the explicit values; `false` redacts nothing. */
export function createRedactor(opts: RedactOptions | false | undefined): Redactor {
  if (opts === false) return new Redactor([], false);
  const env = opts?.env === undefined ? process.env : opts.env;
  return new Redactor([...(env ? secretValuesFromEnv(env) : []), ...(opts?.values ?? [])]);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
