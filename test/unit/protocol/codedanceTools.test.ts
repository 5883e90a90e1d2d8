import { strict as assert } from 'node:assert';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { createCodedanceToolsProtocol, trainingToolResultParts } from '../../../src/core/protocol/codedanceTools';
import { golden as loadGolden } from './golden';
import type { AssistantTurn, ChatMessage, ContentPart, ObservationInput, ParsedTurn } from '../../../src/core/protocol/types';
import { sameJson } from './golden';

interface Golden {
  tools: unknown[];
  userPrompt: string;
  turnLimit: string;
  noCode: string;
  maxTurns: number;
  toolResults: { name: string; timeoutMs?: number; result: ExecutionResult; content: ContentPart[] }[];
  turns: {
    name: string;
    turn: AssistantTurn;
    ctx: { turnIndex: number; maxTurns: number };
    results: ExecutionResult[];
    parsed: { code: ParsedTurn['code']; answer?: string; malformed: ParsedTurn['malformed']; empty: boolean; final: boolean };
    assistant: ChatMessage;
    observation: ChatMessage[];
  }[];
}

const g = loadGolden<Golden>('codedance-tools');
const p = createCodedanceToolsProtocol();
const ok = (stdout: string, images: ExecutionResult['images'] = []): ExecutionResult => ({
  status: 'ok',
  stdout,
  stderr: '',
  images,
  durationMs: 1,
});
const call = (id: string, name: string, args: string) => ({ id, type: 'function' as const, function: { name, arguments: args } });

describe('protocol codedance-tools (format B, training rollout)', () => {
  it('sends the execute_python_code schema exactly', () => {
    assert.ok(sameJson(p.tools(), g.tools), JSON.stringify(p.tools()));
    assert.equal(p.defaultMaxTurns, g.maxTurns);
    assert.equal(p.constants?.userPrompt, g.userPrompt);
    assert.equal(p.constants?.turnLimit, g.turnLimit);
    assert.equal(p.constants?.noCode, g.noCode);
  });

  it('tools() returns a fresh copy each call', () => {
    const a = p.tools() as { function: { name: string } }[];
    a[0].function.name = 'changed';
    assert.equal((p.tools() as { function: { name: string } }[])[0].function.name, 'execute_python_code');
  });

  describe('tool result content, byte for byte', () => {
    for (const c of g.toolResults) {
      it(c.name, () =>
        assert.ok(
          sameJson(trainingToolResultParts(c.result, c.timeoutMs), c.content),
          JSON.stringify(trainingToolResultParts(c.result, c.timeoutMs)),
        ),
      );
    }
  });

  describe('turns: parse, assistant message, observation', () => {
    for (const c of g.turns) {
      it(c.name, () => {
        const parsed = p.parse(c.turn);
        assert.deepEqual(parsed.code, c.parsed.code);
        assert.deepEqual(parsed.malformed, c.parsed.malformed);
        assert.equal(parsed.answer, c.parsed.answer);
        assert.equal(parsed.empty, c.parsed.empty);
        assert.equal(p.isFinal(parsed), c.parsed.final);
        assert.ok(sameJson(p.assistantMessage(c.turn), c.assistant), JSON.stringify(p.assistantMessage(c.turn)));
        const executed: ObservationInput[] = parsed.code.map((request, i) => ({ request, result: c.results[i] }));
        if (executed.length || parsed.malformed.length) {
          const obs = p.observation(executed, parsed.malformed, c.ctx);
          assert.ok(sameJson(obs, c.observation), JSON.stringify(obs));
        } else assert.deepEqual(c.observation, []);
      });
    }
  });

  describe('initial messages', () => {
    it('eval.py system prompt, image part as in eval.py, the tools instruction after the question', () => {
      const [sys, user] = p.initialMessages('<image>Q?', ['AAAA']);
      assert.equal((sys.content as ContentPart[])[0].type, 'text');
      assert.ok(
        sameJson((user.content as ContentPart[])[0], {
          type: 'image_url',
          image_url: { url: 'data:image/jpeg;base64,AAAA' },
          max_pixels: 12845056,
        }),
      );
      const text = (user.content as { text: string }[])[1].text;
      assert.ok(text.startsWith('Q?\nThink step-by-step within <think></think>.'), text);
      assert.ok(text.includes('execute_python_code'));
    });
    it("instruction: 'eval' sends eval.py's instruction verbatim", () => {
      const [, user] = createCodedanceToolsProtocol({ instruction: 'eval' }).initialMessages('Q', []);
      assert.equal((user.content as { text: string }[])[0].text, 'Q\n' + loadGolden<{ instruction: string }>('codedance').instruction);
    });
  });

  describe('malformed tool calls become error observations, never exceptions', () => {
    const cases: [string, ReturnType<typeof call>, RegExp][] = [
      [
        'bad JSON',
        call('a', 'execute_python_code', '{"code": "print(1)'),
        /^Error: The arguments of execute_python_code are not valid JSON \(/,
      ],
      [
        'arguments not an object',
        call('b', 'execute_python_code', '"print(1)"'),
        /not valid JSON \(arguments must be a JSON object, got string\)/,
      ],
      ['missing code', call('c', 'execute_python_code', '{"source": "print(1)"}'), /^Error: No code provided to execute\.$/],
      ['code not a string', call('d', 'execute_python_code', '{"code": 5}'), /^Error: No code provided to execute\.$/],
      ['empty arguments', call('e', 'execute_python_code', ''), /^Error: No code provided to execute\.$/],
      [
        'unknown function',
        call('f', 'python', '{"code": "print(1)"}'),
        /^Error: Unknown tool 'python'\. The only tool is execute_python_code\.$/,
      ],
    ];
    for (const [name, c, re] of cases) {
      it(name, () => {
        const parsed = p.parse({ content: '', toolCalls: [c] });
        assert.equal(parsed.code.length, 0);
        assert.equal(parsed.malformed.length, 1);
        assert.equal(parsed.malformed[0].toolCallId, c.id);
        assert.match(parsed.malformed[0].message, re);
        assert.equal(parsed.empty, false);
        assert.equal(p.isFinal(parsed), false);
        const obs = p.observation([], parsed.malformed, { turnIndex: 0, maxTurns: 6 });
        assert.deepEqual(obs, [{ role: 'tool', tool_call_id: c.id, content: [{ type: 'text', text: parsed.malformed[0].message }] }]);
      });
    }
    it('the assistant message keeps a bad call with its arguments made valid JSON ({}), so vLLM can render it', () => {
      const m = p.assistantMessage({ content: '', toolCalls: [call('a', 'execute_python_code', '{"code": "print(1)')] });
      assert.deepEqual(m, { role: 'assistant', content: null, tool_calls: [call('a', 'execute_python_code', '{}')] });
    });
    it('good and bad calls in one turn: the good one runs, both get tool messages in call order groups', () => {
      const parsed = p.parse({
        content: '',
        toolCalls: [call('g', 'execute_python_code', '{"code":"print(2)"}'), call('b', 'nope', '{}')],
      });
      assert.deepEqual(parsed.code, [{ code: 'print(2)', toolCallId: 'g' }]);
      const obs = p.observation([{ request: parsed.code[0], result: ok('2') }], parsed.malformed, { turnIndex: 0, maxTurns: 6 });
      assert.deepEqual(
        obs.map((m) => [m.role, (m as { tool_call_id: string }).tool_call_id]),
        [
          ['tool', 'g'],
          ['tool', 'b'],
        ],
      );
    });
  });

  describe('images in tool results', () => {
    const img = { mime: 'image/jpeg' as const, data: 'SlBH', source: 'expression' as const };
    it('default (vLLM): images inside the tool message, labelled png like the seed', () => {
      const obs = p.observation([{ request: { code: 'x', toolCallId: 't' }, result: ok('', [img]) }], [], { turnIndex: 0, maxTurns: 6 });
      assert.equal(obs.length, 1);
      assert.deepEqual((obs[0].content as ContentPart[]).slice(0, 2), [
        { type: 'text', text: 'Output image:' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,SlBH' } },
      ]);
    });
    it('imagesInToolMessage: false (official OpenAI API): text in the tool messages, images in one user message after them all', () => {
      const q = createCodedanceToolsProtocol({ imagesInToolMessage: false });
      const obs = q.observation(
        [
          { request: { code: 'x', toolCallId: 't1' }, result: ok('a', [img]) },
          { request: { code: 'y', toolCallId: 't2' }, result: ok('b', [img, img]) },
        ],
        [],
        { turnIndex: 0, maxTurns: 6 },
      );
      assert.deepEqual(
        obs.map((m) => m.role),
        ['tool', 'tool', 'user'],
      );
      for (const m of obs.slice(0, 2))
        assert.ok((m.content as ContentPart[]).every((c) => c.type === 'text' && c.text !== 'Output image:'));
      const user = obs[2].content as ContentPart[];
      assert.equal(user.filter((c) => c.type === 'image_url').length, 3);
      assert.equal(user.filter((c) => c.type === 'text' && c.text === 'Output image:').length, 3);
      assert.notEqual(q.constants?.imagesInToolMessage, p.constants?.imagesInToolMessage);
    });
  });

  describe('final and empty replies', () => {
    it('no tool call, no code, no tags: final, the text after </think> is the answer', () => {
      const parsed = p.parse({ content: '<think>so it is 4</think>\nThe answer is 4.', toolCalls: [] });
      assert.equal(parsed.answer, 'The answer is 4.');
      assert.ok(p.isFinal(parsed));
    });
    it('an empty reply is empty (the loop re-sends)', () => {
      const parsed = p.parse({ content: '  \n', toolCalls: [] });
      assert.equal(parsed.empty, true);
      assert.equal(p.isFinal(parsed), false);
    });
    it('a tool call next to an <answer> keeps going (the call runs first)', () => {
      const parsed = p.parse({ content: '<answer>1</answer>', toolCalls: [call('z', 'execute_python_code', '{"code":"print(1)"}')] });
      assert.equal(parsed.answer, '1');
      assert.equal(p.isFinal(parsed), false);
    });
    it('the turn-limit message is sent only before the last allowed call', () => {
      for (let t = 0; t < 6; t++) {
        const obs = p.observation([{ request: { code: 'x', toolCallId: 'i' }, result: ok('1') }], [], { turnIndex: t, maxTurns: 6 });
        assert.equal(obs.at(-1)?.content === g.turnLimit, t === 4, `turn ${t}`);
      }
    });
  });
});

describe('protocol codedance-tools: <tool_call> blocks left in the text', () => {
  const p = createCodedanceToolsProtocol();
  it('a readable block is run, answered like fallback code (user message, no tool_call_id)', () => {
    const content = '<think>t</think>\n<tool_call>\n{"name": "execute_python_code", "arguments": {"code": "print(3)"}}\n</tool_call>';
    const parsed = p.parse({ content, toolCalls: [] });
    assert.deepEqual(parsed.code, [{ code: 'print(3)' }]);
    assert.equal(parsed.answer, undefined);
    assert.ok(!p.isFinal(parsed));
    const obs = p.observation(
      [{ request: parsed.code[0], result: { status: 'ok', stdout: '3', stderr: '', images: [], durationMs: 1 } }],
      [],
      { turnIndex: 0, maxTurns: 6 },
    );
    assert.equal(obs[0].role, 'user');
    assert.deepEqual((obs[0].content as { text: string }[]).map((c) => c.text).slice(0, 2), [
      '<tool_response>\n',
      'Code execution successful, output:\n3',
    ]);
  });
  it('a broken block is a malformed call with an error observation, not the end of the run', () => {
    const parsed = p.parse({
      content: '<tool_call>\n{"name": "execute_python_code", "arguments": {"code": "pri\n</tool_call>',
      toolCalls: [],
    });
    assert.equal(parsed.code.length, 0);
    assert.equal(parsed.malformed.length, 1);
    assert.match(parsed.malformed[0].message, /^Error: The <tool_call> block is not valid JSON/);
    assert.ok(!p.isFinal(parsed));
    const obs = p.observation([], parsed.malformed, { turnIndex: 0, maxTurns: 6 });
    assert.deepEqual(
      obs.map((m) => m.role),
      ['user'],
    );
  });
  it('a tool call without a function object does not throw', () => {
    const bad = { id: 'x', type: 'function' } as unknown as Parameters<typeof p.assistantMessage>[0]['toolCalls'][number];
    const parsed = p.parse({ content: '', toolCalls: [bad] });
    assert.equal(parsed.malformed.length, 1);
    assert.doesNotThrow(() => p.assistantMessage({ content: '', toolCalls: [bad] }));
  });
});
