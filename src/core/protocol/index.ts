/**
 * The format registry. One file per format, each exporting a `create…Protocol(options)`
 * factory that returns a `ProtocolAdapter` (types.ts); this file only lists them.
 *
 * Adding a format (e.g. PyVision's `<code>`/`<interpreter>` format) is one new file plus one
 * line here:
 *   1. `pyvision.ts`: export the format's constant strings, and
 *      `createPyvisionProtocol(): ProtocolAdapter` with `id: 'pyvision'`, `constants` (every
 *      prompt/label string, so `templateHash` covers them), `initialMessages`, `parse` (reuse
 *      `extract.ts`), `assistantMessage`, `observation` (the `<interpreter>…</interpreter>`
 *      message; `results.ts` has the seed-style error text) and `isFinal`;
 *   2. add `pyvision: () => createPyvisionProtocol()` to `factories` below;
 *   3. golden tests in test/unit/protocol/pyvision.test.ts against a hand-written
 *      test/fixtures/golden/pyvision.json, and the id in package.json's
 *      `codedance.model.protocol` enum (a unit test checks the two lists agree).
 * The agent loop, the CLI and the eval runner need no change.
 */
import { createHash } from 'node:crypto';
import { CodeDanceError } from '../errors';
import { createCodedanceProtocol } from './codedance';
import { createCodedanceToolsProtocol, type CodedanceToolsOptions } from './codedanceTools';
import { createDeepeyesProtocol } from './deepeyes';
import { createOpenaiToolsProtocol, type OpenaiToolsOptions } from './openaiTools';
import { createPyvisionProtocol } from './pyvision';
import { createThymeProtocol } from './thyme';
import type { ProtocolAdapter } from './types';

export type { ProtocolAdapter } from './types';
export type { CodedanceToolsOptions } from './codedanceTools';
export type { OpenaiToolsOptions } from './openaiTools';

export interface ProtocolOptions {
  'codedance-tools'?: CodedanceToolsOptions;
  'openai-tools'?: OpenaiToolsOptions;
}

const factories = {
  codedance: () => createCodedanceProtocol(),
  'codedance-tools': (o: ProtocolOptions) => createCodedanceToolsProtocol(o['codedance-tools']),
  'openai-tools': (o: ProtocolOptions) => createOpenaiToolsProtocol(o['openai-tools']),
  deepeyes: () => createDeepeyesProtocol(),
  pyvision: () => createPyvisionProtocol(),
  thyme: () => createThymeProtocol(),
} satisfies Record<string, (o: ProtocolOptions) => ProtocolAdapter>;

export type ProtocolId = keyof typeof factories;

/** The registered format ids, default first (typed `string[]` so `.includes(userInput)` type-checks; narrow with `isProtocolId`). */
export const protocolIds: readonly string[] = Object.keys(factories);

export const DEFAULT_PROTOCOL: ProtocolId = 'codedance';

export function isProtocolId(id: string): id is ProtocolId {
  return Object.prototype.hasOwnProperty.call(factories, id);
}

/** The adapter for `id`; throws naming the known ids when there is none. */
export function getProtocol(id: string = DEFAULT_PROTOCOL, options: ProtocolOptions = {}): ProtocolAdapter {
  if (!isProtocolId(id))
    throw new CodeDanceError('config', `protocol: unknown format '${id}'`, {
      fix: { text: `use one of ${protocolIds.join(', ')}`, setting: 'model.protocol' },
    });
  return factories[id](options);
}

/**
 * sha256 (hex) of the format's constant strings: the id and every `constants` entry, sorted
 * by name, as JSON. Two runs with the same hash sent the model the same prompt strings.
 */
export function templateHash(adapter: ProtocolAdapter): string {
  const entries = Object.entries(adapter.constants ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify({ id: adapter.id, constants: entries }))
    .digest('hex');
}
