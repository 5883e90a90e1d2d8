import { strict as assert } from 'node:assert';
import type { ExecutionResult } from '../../../src/core/kernel/types';
import { getProtocol, protocolIds } from '../../../src/core/protocol';
import type { ChatMessage } from '../../../src/core/protocol/types';
import { decideReply, type WireMessage } from '../../fixtures/fixtureBrain';
import { startFixtureModel, type FixtureModel } from '../../fixtures/fixtureModel';
import { barChartImage, circlesImage, circlesQuestion, decodePng, PALETTE, smallObjectImage } from '../../fixtures/images';
import { pythonAvailable, runPython, type RunOptions } from './pythonRunner';

const ok = (stdout: string): ExecutionResult => ({ status: 'ok', stdout, stderr: '', images: [], durationMs: 1 });
const answerOf = (content: string) => /<answer>([\s\S]*?)<\/answer>/.exec(content)?.[1];

/** One protocol round: question → code turn → (given result) → observation → final turn. */
function round(
  protocolId: string,
  question: string,
  result: (code: string) => ExecutionResult,
  history: ChatMessage[] = [],
): { code: string; final: string; messages: ChatMessage[] } {
  const p = getProtocol(protocolId);
  const tools = p.tools();
  const initial = p.initialMessages(question, ['QUFB']);
  // a follow-up, as runAgent sends it: the earlier exchanges, then the new question without the system prompt again
  const messages: ChatMessage[] = history.length ? [...history, ...initial.filter((m) => m.role !== 'system')] : initial;
  const first = decideReply(messages as WireMessage[], tools);
  const turn = {
    content: first.content,
    toolCalls: first.toolCalls.map((t, i) => ({ id: `c${i}`, type: 'function' as const, function: t })),
  };
  const parsed = p.parse(turn);
  assert.equal(parsed.code.length, 1, `${protocolId}: one code request in the first turn`);
  assert.equal(parsed.answer, undefined, `${protocolId}: no answer before the measurement`);
  messages.push(p.assistantMessage(turn));
  messages.push(
    ...p.observation([{ request: parsed.code[0], result: result(parsed.code[0].code) }], parsed.malformed, { turnIndex: 0, maxTurns: 6 }),
  );
  const second = decideReply(messages as WireMessage[], tools);
  assert.equal(second.toolCalls.length, 0);
  const final = p.parse({ content: second.content, toolCalls: [] });
  assert.ok(p.isFinal(final));
  messages.push(p.assistantMessage({ content: second.content, toolCalls: [] }));
  return { code: parsed.code[0].code, final: final.answer ?? '', messages };
}

describe('fixture model: wire protocol', function () {
  this.timeout(10_000);
  let fm: FixtureModel;
  beforeEach(async () => (fm = await startFixtureModel()));
  afterEach(async () => fm.close());

  async function sse(body: Record<string, unknown>): Promise<{ events: any[]; lines: string[] }> {
    const res = await fetch(`${fm.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const text = await res.text();
    const lines = text.split('\n').filter((l) => l.length);
    assert.ok(
      lines.every((l) => l.startsWith('data: ')),
      'only data: lines',
    );
    assert.equal(lines.at(-1), 'data: [DONE]');
    return { events: lines.slice(0, -1).map((l) => JSON.parse(l.slice(6))), lines };
  }

  it('GET /v1/models lists the models, OpenAI-shaped', async () => {
    const j = await (await fetch(`${fm.baseUrl}/models`)).json();
    assert.equal(j.object, 'list');
    assert.equal(j.data[0].id, 'codedance-fixture-7b');
    assert.equal(j.data[0].object, 'model');
  });

  it('streams: role delta first, content in several small deltas, a finish chunk, a usage chunk, [DONE]', async () => {
    const p = getProtocol('codedance');
    const { events } = await sse({
      model: 'codedance-fixture-7b',
      messages: p.initialMessages(circlesQuestion('red'), []),
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.deepEqual(events[0].choices[0].delta, { role: 'assistant', content: '' });
    assert.ok(events.every((e) => e.object === 'chat.completion.chunk' && e.id === events[0].id));
    const content = events.filter((e) => e.choices[0]?.delta?.content).map((e) => e.choices[0].delta.content);
    assert.ok(content.length > 20 && content.every((c: string) => c.length <= 8));
    const fin = events.filter((e) => e.choices[0]?.finish_reason);
    assert.equal(fin.length, 1);
    assert.equal(fin[0].choices[0].finish_reason, 'stop');
    const last = events.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
    const noUsage = await sse({ model: 'codedance-fixture-7b', messages: p.initialMessages('q', []), stream: true });
    assert.ok(noUsage.events.every((e) => !e.usage));
  });

  it('streams tool calls split across chunks like vLLM/OpenAI', async () => {
    const p = getProtocol('codedance-tools');
    const { events } = await sse({
      model: 'codedance-fixture-7b',
      messages: p.initialMessages(circlesQuestion('blue'), []),
      tools: p.tools(),
      stream: true,
    });
    const tc = events.filter((e) => e.choices[0]?.delta?.tool_calls).map((e) => e.choices[0].delta.tool_calls[0]);
    assert.ok(tc.length > 3);
    assert.deepEqual(Object.keys(tc[0]).sort(), ['function', 'id', 'index', 'type']);
    assert.equal(tc[0].function.name, 'execute_python_code');
    assert.equal(tc[0].function.arguments, '');
    assert.ok(tc.slice(1).every((d) => d.id === undefined && d.function.name === undefined && d.index === 0));
    const args = JSON.parse(tc.map((d) => d.function.arguments).join(''));
    assert.match(args.code, /blue_count/);
    assert.equal(events.find((e) => e.choices[0]?.finish_reason)?.choices[0].finish_reason, 'tool_calls');
  });

  it('non-streaming answers are chat.completion objects', async () => {
    const p = getProtocol('openai-tools');
    const res = await fetch(`${fm.baseUrl}/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'codedance-fixture-7b', messages: p.initialMessages(circlesQuestion(), []), tools: p.tools() }),
    });
    const j = await res.json();
    assert.equal(j.object, 'chat.completion');
    const msg = j.choices[0].message;
    assert.equal(
      msg.content,
      '<think>I need to count the circles. I will threshold the image for saturated pixels and count the connected regions with a small labelling routine.</think>',
    );
    assert.equal(msg.tool_calls[0].function.name, 'run_python');
    assert.equal(j.choices[0].finish_reason, 'tool_calls');
  });

  it('errors like the real servers: unknown model 404, bad body 400, unknown route 404', async () => {
    const post = (b: unknown) =>
      fetch(`${fm.baseUrl}/chat/completions`, { method: 'POST', body: typeof b === 'string' ? b : JSON.stringify(b) });
    let r = await post({ model: 'nope', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(r.status, 404);
    assert.match((await r.json()).error.message, /The model `nope` does not exist/);
    r = await post('{not json');
    assert.equal(r.status, 400);
    r = await post({ model: 'codedance-fixture-7b', messages: [] });
    assert.equal(r.status, 400);
    r = await fetch(`${fm.baseUrl}/embeddings`, { method: 'POST', body: '{}' });
    assert.equal(r.status, 404);
  });

  it('faults: per request (body field), from the queue in order, or from a function', async () => {
    const body = (extra: object = {}) =>
      JSON.stringify({ model: 'codedance-fixture-7b', messages: [{ role: 'user', content: circlesQuestion('red') }], ...extra });
    const post = (b: string) => fetch(`${fm.baseUrl}/chat/completions`, { method: 'POST', body: b });
    assert.equal((await post(body({ fixture: { fault: { kind: 'http', status: 502 } } }))).status, 502);
    fm.setFaults([{ kind: 'rate-limit', retryAfterMs: 1500 }, undefined, 'http']);
    const r429 = await post(body());
    assert.equal(r429.status, 429);
    assert.equal(r429.headers.get('retry-after-ms'), '1500');
    assert.equal(r429.headers.get('retry-after'), '2');
    assert.equal((await post(body())).status, 200);
    assert.equal((await post(body())).status, 500);
    assert.equal((await post(body())).status, 200);
    const j = await (await post(body({ fixture: { fault: 'empty' } }))).json();
    assert.equal(answerOf(j.choices[0].message.content), undefined);
    assert.ok(!/```python/.test(j.choices[0].message.content));
    const fn = await startFixtureModel({ fault: (_r, i) => (i === 0 ? { kind: 'http', status: 503 } : undefined) });
    try {
      const first = await fetch(`${fn.baseUrl}/chat/completions`, { method: 'POST', body: body() });
      assert.equal(first.status, 503);
      assert.equal((await fetch(`${fn.baseUrl}/chat/completions`, { method: 'POST', body: body() })).status, 200);
    } finally {
      await fn.close();
    }
    assert.deepEqual(
      fm.chatRequests.map((r) => r.fault?.kind ?? '-'),
      ['http', 'rate-limit', '-', 'http', '-', 'empty'],
    );
  });

  it('malformed tool-call JSON, unknown tool and missing code faults', () => {
    const p = getProtocol('codedance-tools');
    const msgs = p.initialMessages(circlesQuestion('red'), []) as WireMessage[];
    const bad = decideReply(msgs, p.tools(), 'malformed-tool-json').toolCalls[0];
    assert.throws(() => JSON.parse(bad.arguments));
    assert.equal(decideReply(msgs, p.tools(), 'unknown-tool').toolCalls[0].name, 'python_interpreter');
    assert.equal(decideReply(msgs, p.tools(), 'missing-code').toolCalls[0].arguments, '{}');
    const codeFmt = decideReply(
      getProtocol('codedance').initialMessages(circlesQuestion('red'), []) as WireMessage[],
      undefined,
      'malformed-tool-json',
    );
    assert.equal(
      getProtocol('codedance').parse({ content: codeFmt.content, toolCalls: [] }).empty,
      true,
      'an unterminated block is no code',
    );
  });
});

describe('fixture model: honesty (answers come only from the observation)', () => {
  // the formats whose tool is Python (deepeyes' is a crop: test/unit/protocol/deepeyes.test.ts, test/integration/cli/deepeyes.test.ts);
  // pyvision's code needs its own names (image_clue_0) and its answer is the whole last reply: test/unit/protocol/pyvisionLoop.test.ts;
  // thyme's code runs in its sandbox (a kernel tool) and its requests are planned: test/unit/protocol/thyme*.test.ts
  for (const id of protocolIds.filter((x) => !['deepeyes', 'pyvision', 'thyme'].includes(x))) {
    describe(id, () => {
      it('a correct measurement gives the right answer', () => {
        assert.equal(round(id, circlesQuestion('red'), () => ok('red_count = 3\nblob sizes: [1, 2, 3]\n')).final, '3');
      });
      it('a wrong count in the observation gives a wrong answer', () => {
        assert.equal(round(id, circlesQuestion('red'), () => ok('red_count = 4\n')).final, '4');
      });
      it('an errored observation gives "unknown"', () => {
        const err: ExecutionResult = {
          status: 'error',
          stdout: '',
          stderr: '',
          images: [],
          durationMs: 1,
          error: { ename: 'NameError', evalue: "name 'np' is not defined", traceback: [] },
        };
        assert.equal(round(id, circlesQuestion('red'), () => err).final, 'unknown');
      });
      it('an observation without the measurement gives "unknown"', () => {
        assert.equal(round(id, circlesQuestion('red'), () => ok('done\n')).final, 'unknown');
        assert.equal(round(id, circlesQuestion('red'), () => ok('blue_count = 2\n')).final, 'unknown');
      });
      it('a follow-up is a new question: code for it first, then an answer from its own observation only', () => {
        const first = round(id, circlesQuestion('red'), () => ok('red_count = 3\n'));
        assert.equal(first.final, '3');
        const next = round(id, circlesQuestion('blue'), () => ok('blue_count = 5\n'), first.messages);
        assert.match(next.code, /blue/, 'the code measures the follow-up question, not the first one');
        assert.equal(next.final, '5');
        const missing = round(id, circlesQuestion('blue'), () => ok('done\n'), first.messages);
        assert.equal(missing.final, 'unknown', 'the earlier observation does not answer the follow-up');
      });
      it('bar values, tallest label and square colour are derived from the printed numbers', () => {
        assert.equal(
          round(id, 'The horizontal gridlines are 5 units apart. What is the value of the tallest bar?', () =>
            ok('bar_values = [3, 9, 4]\n'),
          ).final,
          '9',
        );
        assert.equal(
          round(id, 'The bars are labelled P, Q, R from left to right. Which bar is tallest?', () => ok('bar_values = [3, 9, 4]\n')).final,
          'Q',
        );
        assert.equal(round(id, 'Which bar is tallest?', () => ok('bar_values = [10, 2, 30]\n')).final, '3');
        assert.equal(round(id, 'What color is the small square?', () => ok('square_rgb = (45, 85, 210)\n')).final, 'blue');
      });
    });
  }

  it('an unknown question: no code, answer "unknown"', () => {
    const r = decideReply([{ role: 'user', content: 'What is the meaning of this painting?' }], undefined);
    assert.equal(answerOf(r.content), 'unknown');
    assert.ok(!/```/.test(r.content));
  });

  it('the first turn never answers, whatever the question', () => {
    for (const q of [
      circlesQuestion('green'),
      'Which bar is tallest?',
      'What color is the small square?',
      'What is the size of the image?',
    ]) {
      const r = decideReply([{ role: 'user', content: q }], undefined);
      assert.equal(answerOf(r.content), undefined, q);
      assert.match(r.content, /<code>\n```python\n/);
    }
  });
});

describe('fixture model: its code really measures the images (python3)', function () {
  this.timeout(60_000);
  before(function () {
    if (!pythonAvailable()) this.skip();
  });

  const circles = circlesImage({ red: 3, blue: 5, green: 2, yellow: 4, seed: 11 });
  const bars = barChartImage([23, 57, 41, 12, 35], { labels: ['A', 'B', 'C', 'D', 'E'] });
  const square = smallObjectImage({ color: 'cyan', seed: 5 });
  const tasks: [string, Buffer, string, string][] = [
    ['red circles', circles.png, circlesQuestion('red'), String(circles.truth.counts.red)],
    ['blue circles', circles.png, circlesQuestion('blue'), String(circles.truth.counts.blue)],
    ['all circles', circles.png, circlesQuestion(), String(circles.truth.total)],
    ['tallest bar value', bars.png, bars.questions.value, String(bars.truth.tallestValue)],
    ['tallest bar label', bars.png, bars.questions.which, bars.truth.tallestLabel!],
    ['small square colour', square.png, square.question, square.truth.color],
  ];
  const modes: RunOptions['mode'][] = ['png', 'jpeg', 'resize:532x504'];
  for (const [name, png, question, truth] of tasks) {
    for (const mode of modes) {
      if (name === 'small square colour' && mode?.startsWith('resize')) continue;
      it(`${name} (${mode})`, () => {
        const r = round('codedance', question, (code) => runPython(png, code, { mode }));
        assert.equal(r.final, truth);
      });
    }
  }

  it('the generators draw what their truth says', () => {
    const img = decodePng(circles.png);
    assert.equal(img.width, 560);
    const c = circles.truth.circles[0];
    const i = (Math.round(c.y) * img.width + Math.round(c.x)) * 3;
    assert.deepEqual([...img.data.subarray(i, i + 3)], [...PALETTE[c.color]]);
    const s = decodePng(square.png);
    const j = ((square.truth.y + 3) * s.width + square.truth.x + 3) * 3;
    assert.deepEqual([...s.data.subarray(j, j + 3)], [...square.truth.rgb]);
    assert.deepEqual([s.width, s.height], [1680, 1260]);
    assert.equal(bars.truth.tallestIndex, 2);
  });
});
