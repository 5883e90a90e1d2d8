/**
 * The results view's protocol (src/protocol/results.ts): its message types come from the schema,
 * a malformed request is refused with the field it got wrong (an unknown export format, a negative
 * comparison, a key past its limit, a file path where none is asked), and a valid one passes as
 * the schema reads it, through the extension's router to its handler.
 */
import { strict as assert } from 'node:assert';
import type * as v from 'valibot';
import { routeRequests } from '../../../src/extension/webviewRequests';
import { parseRequest, type Reply } from '../../../src/protocol/messages';
import { resultsRequest, type FromResults, type ResultsResponses } from '../../../src/protocol/results';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typesFromSchema: [Equals<FromResults, v.InferOutput<typeof resultsRequest>>, Equals<keyof ResultsResponses, FromResults['type']>] = [
  true,
  true,
];

function refusal(raw: unknown): string {
  const r = parseRequest('results table', resultsRequest, raw);
  assert.ok(!r.ok, `should be refused: ${JSON.stringify(raw)}`);
  return r.error;
}

describe('results view protocol', () => {
  it('refuses a malformed request with the field it got wrong', () => {
    assert.ok(typesFromSchema.every(Boolean));
    assert.match(
      refusal({ id: 'r-1', type: 'export', format: 'docx' }),
      /'export': format: Invalid type: Expected \("md" \| "latex" \| "csv"\)/,
    );
    assert.match(
      refusal({ id: 'r-1', type: 'openSample', comparison: -1, benchmark: 'vstar', key: '3' }),
      /'openSample': comparison: Invalid value: Expected >=0/,
    );
    assert.match(
      refusal({ id: 'r-1', type: 'openSample', comparison: 0, benchmark: 'vstar', key: 'k'.repeat(1101) }),
      /key: Invalid length/,
    );
    assert.match(refusal({ id: 'r-1', type: 'openFile', file: '/etc/passwd' }), /Invalid type/);
  });

  it('routes a valid request to its handler with the fields the schema reads (unknown ones dropped)', async () => {
    const replies: Reply[] = [];
    const seen: unknown[] = [];
    const route = routeRequests<FromResults, ResultsResponses>(
      {
        what: 'results table',
        schema: resultsRequest,
        log: { warn: () => undefined, error: () => undefined },
        reply: (m) => replies.push(m),
      },
      {
        ready: () => undefined,
        openSample: (m) => void seen.push(m),
        export: (m) => `/tmp/t.${m.format}`,
        pickRuns: () => undefined,
      },
    );
    await route({ id: 'r-2', type: 'openSample', comparison: 0, benchmark: 'vstar', key: '12', fileA: '/etc/passwd' });
    assert.deepEqual(seen, [{ id: 'r-2', type: 'openSample', comparison: 0, benchmark: 'vstar', key: '12' }]);
    await route({ id: 'r-3', type: 'export', format: 'latex' });
    assert.deepEqual(replies.at(-1), { type: 'reply', replyTo: 'r-3', ok: true, data: '/tmp/t.latex' });
  });
});
