import { strict as assert } from 'node:assert';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { createOpenaiToolsProtocol, openaiToolResultText, RUN_PYTHON } from '../../../src/core/protocol/openaiTools';
import type { ContentPart } from '../../../src/core/protocol/types';

const p = createOpenaiToolsProtocol();
const res = (o: Partial<ExecutionResult>): ExecutionResult => ({ status: 'ok', stdout: '', stderr: '', images: [], durationMs: 1, ...o });
const call = (id: string, name: string, args: string) => ({ id, type: 'function' as const, function: { name, arguments: args } });
const png = { mime: 'image/png' as const, data: 'UE5H', source: 'figure' as const };
const jpg = { mime: 'image/jpeg' as const, data: 'SlBH', source: 'expression' as const };

describe('protocol openai-tools (generic function calling)', () => {
  it('one run_python tool, a plain system prompt, the question after the images', () => {
    const tools = p.tools() as { type: string; function: { name: string; parameters: { required: string[] } } }[];
    assert.equal(tools.length, 1);
    assert.equal(tools[0].function.name, RUN_PYTHON);
    assert.deepEqual(tools[0].function.parameters.required, ['code']);
    const [sys, user] = p.initialMessages('<image> What is shown? ', ['QUFB']);
    assert.equal(sys.role, 'system');
    assert.match(sys.content as string, /input_image/);
    assert.match(sys.content as string, /<answer><\/answer>/);
    assert.deepEqual(user.content, [
      { type: 'image_url', image_url: { url: 'data:image/png;base64,QUFB' } },
      { type: 'text', text: 'What is shown?' },
    ]);
    const hi = createOpenaiToolsProtocol({ imageDetail: 'high' }).initialMessages('q', ['QUFB'])[1].content as ContentPart[];
    assert.deepEqual(hi[0], { type: 'image_url', image_url: { url: 'data:image/png;base64,QUFB', detail: 'high' } });
  });

  it('a reply without tool calls is the final answer; <answer> tags honoured', () => {
    let parsed = p.parse({ content: 'There are 3 red circles.', toolCalls: [] });
    assert.equal(parsed.answer, 'There are 3 red circles.');
    assert.ok(p.isFinal(parsed));
    parsed = p.parse({ content: 'I counted them. <answer> 3 </answer>', toolCalls: [] });
    assert.equal(parsed.answer, '3');
    parsed = p.parse({ content: '', toolCalls: [] });
    assert.ok(parsed.empty);
    assert.ok(!p.isFinal(parsed));
  });

  it('tool calls become code requests; content next to them is kept in the assistant message', () => {
    const turn = { content: 'Let me measure.', toolCalls: [call('c1', RUN_PYTHON, '{"code":"print(input_image.size)"}')] };
    const parsed = p.parse(turn);
    assert.deepEqual(parsed.code, [{ code: 'print(input_image.size)', toolCallId: 'c1' }]);
    assert.ok(!p.isFinal(parsed));
    assert.deepEqual(p.assistantMessage(turn), { role: 'assistant', content: 'Let me measure.', tool_calls: turn.toolCalls });
    assert.deepEqual(p.assistantMessage({ content: '', toolCalls: turn.toolCalls }).content, null);
  });

  it('malformed calls (bad JSON, no code, unknown tool) become tool-message errors', () => {
    const parsed = p.parse({
      content: '',
      toolCalls: [call('a', RUN_PYTHON, '{"code":'), call('b', RUN_PYTHON, '{}'), call('c', 'shell', '{"cmd":"ls"}')],
    });
    assert.equal(parsed.code.length, 0);
    assert.deepEqual(
      parsed.malformed.map((m) => m.toolCallId),
      ['a', 'b', 'c'],
    );
    assert.match(parsed.malformed[0].message, /not valid JSON/);
    assert.match(parsed.malformed[1].message, /without code/);
    assert.match(parsed.malformed[2].message, /no tool named 'shell'/);
    const obs = p.observation([], parsed.malformed, { turnIndex: 0, maxTurns: 10 });
    assert.deepEqual(
      obs.map((m) => m.role),
      ['tool', 'tool', 'tool'],
    );
  });

  it('tool messages carry text only; the images follow in one user message with their true mime type', () => {
    const obs = p.observation(
      [
        { request: { code: 'a', toolCallId: 't1' }, result: res({ stdout: 'hello\n', images: [jpg] }) },
        { request: { code: 'b', toolCallId: 't2' }, result: res({ images: [png] }) },
      ],
      [{ toolCallId: 't3', message: 'Error: x' }],
      { turnIndex: 0, maxTurns: 10 },
    );
    assert.deepEqual(
      obs.map((m) => m.role),
      ['tool', 'tool', 'tool', 'user'],
    );
    for (const m of obs.slice(0, 3)) assert.equal(typeof m.content, 'string');
    assert.match(obs[0].content as string, /^stdout:\nhello\n\n1 image produced; it follows in the next message\.$/);
    const parts = obs[3].content as ContentPart[];
    assert.deepEqual(
      parts.filter((x) => x.type === 'image_url').map((x) => (x as { image_url: { url: string } }).image_url.url),
      ['data:image/jpeg;base64,SlBH', 'data:image/png;base64,UE5H'],
    );
  });

  it('result texts: no output, stderr, error with a clean traceback, syntax line, timeout, kernel died', () => {
    assert.match(openaiToolResultText(res({}), undefined), /printed nothing/);
    assert.equal(openaiToolResultText(res({ stdout: 'a', stderr: 'w\n' }), undefined), 'stdout:\na\n\nstderr:\nw');
    const err = openaiToolResultText(
      res({
        status: 'error',
        error: {
          ename: 'NameError',
          evalue: "name 'x' is not defined",
          traceback: ['\u001b[0;31mNameError\u001b[0m Traceback', "NameError: name 'x' is not defined"],
        },
      }),
      undefined,
    );
    assert.ok(err.startsWith("Error: NameError: name 'x' is not defined\n"));
    assert.ok(!err.includes('\u001b'));
    assert.match(
      openaiToolResultText(
        res({ status: 'error', error: { ename: 'SyntaxError', evalue: 'invalid syntax', lineno: 4, traceback: [] } }),
        undefined,
      ),
      /invalid syntax \(line 4\)$/,
    );
    assert.match(openaiToolResultText(res({ status: 'timeout' }), 30000), /did not finish within 30 s/);
    assert.match(
      openaiToolResultText(res({ status: 'died', error: { ename: 'KernelDied', evalue: 'SIGKILL', traceback: [] } }), undefined),
      /KernelDied|kernel died \(SIGKILL\); it was restarted and variables were lost/,
    );
    const big = openaiToolResultText(res({ stdout: 'x'.repeat(50_000) }), undefined);
    assert.ok(big.length < 21_000 && big.includes('characters cut'));
  });

  it('asks for the answer before the last allowed call', () => {
    const obs = p.observation([{ request: { code: 'a', toolCallId: 't' }, result: res({ stdout: '1' }) }], [], {
      turnIndex: 8,
      maxTurns: 10,
    });
    assert.equal(obs.at(-1)?.role, 'user');
    assert.match(obs.at(-1)?.content as string, /last turn/);
  });
});
