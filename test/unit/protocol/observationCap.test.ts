/**
 * The observation's text is capped in estimated tokens: a cell that prints a megabyte (the
 * kernel's own cap) must not become a 260k-token observation that a 32k-context server
 * rejects. Every format cuts with a marker that tells the model what happened; ordinary
 * outputs are left byte-identical (the goldens check the exact text).
 */
import { strict as assert } from 'node:assert';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { getProtocol, protocolIds } from '../../../src/core/protocol';
import { capObservationText, DEFAULT_OBSERVATION_TOKEN_LIMIT, estimateTokens } from '../../../src/core/protocol/results';
import type { ChatMessage, ObservationInput } from '../../../src/core/protocol/types';

const MiB = 1024 * 1024;

function textOf(messages: ChatMessage[]): string {
  return messages
    .map((m) => (typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('')))
    .join('\n');
}

function input(result: Partial<ExecutionResult>, toolCallId?: string): ObservationInput {
  return {
    request: { code: 'print(x)', toolCallId },
    result: { status: 'ok', stdout: '', stderr: '', images: [], durationMs: 1, ...result },
  };
}

describe('observation cap in tokens', () => {
  it('estimates tokens conservatively: ASCII a third of a token a character, anything else a token', () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('abcdef'), 2);
    assert.equal(estimateTokens('abcdefg'), 3);
    assert.equal(estimateTokens('数据分析'), 4);
    assert.equal(estimateTokens('😀'), 1, 'a surrogate pair is one code point');
    // a megabyte of digits is far over any context: the estimate says so
    assert.ok(estimateTokens('0123456789'.repeat(MiB / 10)) > 300_000);
  });

  // deepeyes sends a tool's crop back, never a cell's text: it has nothing to cap; pyvision cuts every text to 400
  // characters as its executor does (test/unit/protocol/pyvision.test.ts); thyme sends back what was printed uncut, as its sandbox does
  for (const id of protocolIds.filter((x) => !['deepeyes', 'pyvision', 'thyme'].includes(x))) {
    it(`${id}: a 1 MiB stdout becomes an observation within the default limit, cut with a marker, head and tail kept`, () => {
      const stdout = `FIRST LINE\n${'x = 123456789\n'.repeat(MiB / 14)}LAST LINE`;
      assert.ok(stdout.length >= MiB - 20);
      const obs = getProtocol(id).observation([input({ stdout }, id === 'codedance' ? undefined : 'call_1')], [], {
        turnIndex: 0,
        maxTurns: 7,
        timeoutMs: 30_000,
      });
      const text = textOf(obs);
      const tokens = estimateTokens(text);
      // the format's own words (prompts, labels) come on top of the capped output
      assert.ok(tokens <= DEFAULT_OBSERVATION_TOKEN_LIMIT + 300, `${tokens} tokens`);
      assert.ok(tokens > DEFAULT_OBSERVATION_TOKEN_LIMIT / 2, `${tokens} tokens: the budget is used, not thrown away`);
      assert.match(text, /FIRST LINE/);
      assert.match(text, /LAST LINE/);
      assert.match(text, /\[… \d+ characters \(about \d+ tokens\) cut here: an observation is limited to about 4096 tokens\. Print less/);
    });
  }

  it('the limit is configurable per call (ObservationContext.maxObservationTokens)', () => {
    const obs = getProtocol('codedance').observation([input({ stdout: 'y'.repeat(100_000) })], [], {
      turnIndex: 0,
      maxTurns: 7,
      maxObservationTokens: 500,
    });
    const tokens = estimateTokens(textOf(obs));
    assert.ok(tokens <= 500 + 100 && tokens > 250, `${tokens}`);
  });

  it('ordinary output is untouched (the same objects), so observations stay byte-identical to the seed', () => {
    const executed = [input({ stdout: 'red_count = 5\n', stderr: 'a warning\n' })];
    const capped = capObservationText(executed);
    assert.equal(capped[0], executed[0]);
  });

  it('short texts are kept whole; the long one gives way (a small stderr or error survives a flood of stdout)', () => {
    const executed = [
      input({
        status: 'error',
        stdout: 'z'.repeat(500_000),
        stderr: 'UserWarning: something small\n',
        error: {
          ename: 'ValueError',
          evalue: 'bad value',
          traceback: ['Traceback (most recent call last):', '  File "<cell>", line 3', 'ValueError: bad value'],
        },
      }),
      input({ stdout: 'second cell: 42' }),
    ];
    const [a, b] = capObservationText(executed, 1000);
    assert.equal(a.result.stderr, 'UserWarning: something small\n');
    assert.equal(a.result.error?.evalue, 'bad value');
    assert.deepEqual(a.result.error?.traceback, executed[0].result.error?.traceback);
    assert.equal(b.result.stdout, 'second cell: 42');
    assert.ok(estimateTokens(a.result.stdout) <= 1000, String(estimateTokens(a.result.stdout)));
    assert.match(a.result.stdout, /cut here/);
    assert.equal(executed[0].result.stdout.length, 500_000, 'the recorded result itself is not changed');
  });

  it('never splits a surrogate pair, and counts non-ASCII text as it costs', () => {
    const [r] = capObservationText([input({ stdout: '😀'.repeat(20_000) })], 300);
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(r.result.stdout), 'no lone surrogate');
    assert.ok(estimateTokens(r.result.stdout) <= 300);
  });
});
