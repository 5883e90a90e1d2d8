/**
 * A set of exact secret values (an API key, a token, a password from a secret store) and the
 * redaction of a text against them: each value, wherever it appears, becomes `***`, and so does
 * every credential recognised by its shape (patterns.ts). A set may have a parent (the
 * process's set) whose values it redacts too, also those added after it was made.
 */
import { MASK, redactPatterns, urlCredentials } from './patterns';

/** shorter values are not redacted: they would mangle ordinary output ("1", "true", "none") */
export const MIN_SECRET_LENGTH = 6;

/** conventional placeholders, not secrets: redacting them would mask ordinary words */
const PLACEHOLDERS = new Set(['empty', 'none', 'null', 'undefined', 'changeme', 'secret', 'password', 'token', 'apikey', 'api_key']);

export class SecretSet {
  private readonly own = new Set<string>();
  private ownVersion = 0;
  private built: { version: number; values: string[]; re: RegExp | undefined } | undefined;

  constructor(
    values: Iterable<string | undefined | null> = [],
    private readonly parent?: SecretSet,
  ) {
    this.add(...values);
  }

  /**
   * Adds secret values (trimmed; too short ones and placeholders are ignored). A URL also adds
   * the credentials in it, so that its password alone is redacted too.
   */
  add(...values: (string | undefined | null)[]): this {
    for (const v of values) {
      if (typeof v !== 'string') continue;
      for (const t of [v.trim(), ...urlCredentials(v)]) {
        if (t.length < MIN_SECRET_LENGTH || PLACEHOLDERS.has(t.toLowerCase()) || this.own.has(t)) continue;
        this.own.add(t);
        this.ownVersion++;
      }
    }
    return this;
  }

  /** changes whenever this set or its parent gains a value */
  get version(): number {
    return this.ownVersion + (this.parent?.version ?? 0);
  }

  /** every value redacted (this set's and its parent's), longest first */
  values(): string[] {
    return this.build().values;
  }

  get size(): number {
    return this.build().values.length;
  }

  has(value: string): boolean {
    return this.own.has(value) || !!this.parent?.has(value);
  }

  /** `text` with every value of the set and every credential-shaped string replaced by `***`. */
  redact(text: string): string {
    if (!text) return text;
    const { re } = this.build();
    return redactPatterns(re ? text.replace(re, MASK) : text);
  }

  private build(): { values: string[]; re: RegExp | undefined } {
    const version = this.version;
    if (this.built?.version === version) return this.built;
    const all = new Set([...(this.parent?.values() ?? []), ...this.own]);
    // longest first, so that a secret that contains another is replaced whole
    const values = [...all].sort((a, b) => b.length - a.length);
    this.built = { version, values, re: values.length ? new RegExp(values.map(escapeRegExp).join('|'), 'g') : undefined };
    return this.built;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
