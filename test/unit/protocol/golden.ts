/** Loads the hand-written golden files under test/fixtures/golden. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function golden<T = any>(name: string): T {
  return JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'fixtures', 'golden', `${name}.json`), 'utf8')) as T;
}

/** Byte-for-byte: same JSON text, key order included. */
export function sameJson(actual: unknown, expected: unknown): boolean {
  return JSON.stringify(actual) === JSON.stringify(expected);
}
