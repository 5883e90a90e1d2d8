import { strict as assert } from 'node:assert';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { createCodedanceProtocol } from '../../../src/core/protocol/codedance';
import type { ChatMessage } from '../../../src/core/protocol/types';
import { golden, sameJson } from './golden';

interface Golden {
  system: string;
  instruction: string;
  sampling: Record<string, number>;
  maxTurns: number;
  initial: { name: string; question: string; images: string[]; messages: ChatMessage[] }[];
  parse: { name: string; content: string; code: string[]; answer: string | null; empty: boolean; final: boolean }[];
  observations: { name: string; timeoutMs?: number; result: ExecutionResult; message: ChatMessage }[];
}

const g = golden<Golden>('codedance');
const p = createCodedanceProtocol();

describe('protocol codedance (format A, eval.py)', () => {
  it('has the seed constants, sampling, call limit and image preparation', () => {
    assert.equal(p.id, 'codedance');
    assert.equal(p.constants?.system, g.system);
    assert.equal(p.constants?.instruction, g.instruction);
    assert.deepEqual(p.defaultSampling, g.sampling);
    assert.equal(p.defaultMaxTurns, g.maxTurns);
    assert.equal(p.tools(), undefined);
    assert.deepEqual(p.imagePreparation, { resize: 'qwen-smart', minPixels: 4 * 28 * 28, maxPixels: 16384 * 28 * 28 });
  });

  describe('initial messages, byte for byte', () => {
    for (const c of g.initial) {
      it(c.name, () => {
        const got = p.initialMessages(c.question, c.images);
        assert.deepEqual(got, c.messages);
        assert.ok(sameJson(got, c.messages), `JSON text differs:\n${JSON.stringify(got)}\n${JSON.stringify(c.messages)}`);
      });
    }
    it('the image part serializes with max_pixels after image_url, image first then text', () => {
      const user = p.initialMessages('q', ['AAAA'])[1];
      assert.equal(
        JSON.stringify((user.content as unknown[])[0]),
        '{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,AAAA"},"max_pixels":12845056}',
      );
    });
  });

  describe('parse', () => {
    for (const c of g.parse) {
      it(c.name, () => {
        const parsed = p.parse({ content: c.content, toolCalls: [] });
        assert.deepEqual(
          parsed.code.map((x) => x.code),
          c.code,
        );
        assert.equal(parsed.answer, c.answer ?? undefined);
        assert.equal(parsed.empty, c.empty);
        assert.deepEqual(parsed.malformed, []);
        assert.equal(p.isFinal(parsed), c.final);
      });
    }
    it('ignores tool calls (the format has none)', () => {
      const parsed = p.parse({
        content: 'hm',
        toolCalls: [{ id: 'x', type: 'function', function: { name: 'execute_python_code', arguments: '{"code":"1"}' } }],
      });
      assert.equal(parsed.empty, true);
    });
  });

  it('appends the assistant turn as plain text content', () => {
    assert.deepEqual(p.assistantMessage({ content: '<think>a</think>\n<code>\n```python\nx\n```\n</code>', toolCalls: [] }), {
      role: 'assistant',
      content: '<think>a</think>\n<code>\n```python\nx\n```\n</code>',
    });
  });

  describe('observation, every branch, byte for byte', () => {
    for (const c of g.observations) {
      it(c.name, () => {
        const got = p.observation([{ request: { code: 'x' }, result: c.result }], [], {
          turnIndex: 0,
          maxTurns: 7,
          timeoutMs: c.timeoutMs,
        });
        assert.equal(got.length, 1);
        assert.deepEqual(got[0], c.message);
        assert.ok(sameJson(got[0], c.message));
      });
    }
    it('never adds a turn-limit message (eval.py does not)', () => {
      const r: ExecutionResult = { status: 'ok', stdout: '1', stderr: '', images: [], durationMs: 1 };
      assert.equal(p.observation([{ request: { code: 'x' }, result: r }], [], { turnIndex: 5, maxTurns: 7 }).length, 1);
    });
  });
});
