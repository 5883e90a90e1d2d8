/**
 * Scoring per data_source as the seed's compute_score does it: routing, format errors, the
 * answer extracted, verdict parsing (substring and strict), score formulas, the math path
 * (symbolic first, judge second), judge failures, and the judge prompts byte for byte.
 */
import { strict as assert } from 'node:assert';
import {
  computeScore,
  JUDGE_PROMPT_HASH,
  mathEquivalent,
  judgePrompt,
  mathJudgePrompt,
  normalizedMatch,
  parseMathVerdict,
  parseVerdict,
  scorerFor,
  toolRewardStep,
  toolSuccessRate,
  type Judge,
  type JudgeRequest,
} from '../../../src/core/eval';

function fakeJudge(reply: string | ((r: JudgeRequest) => string) | Error): Judge & { asked: JudgeRequest[] } {
  const asked: JudgeRequest[] = [];
  return {
    model: 'judge',
    promptHash: JUDGE_PROMPT_HASH,
    endpoints: ['http://x/v1'],
    asked,
    async ask(r) {
      asked.push(r);
      if (reply instanceof Error) throw reply;
      return { text: typeof reply === 'function' ? reply(r) : reply, cached: false };
    },
  };
}

describe('eval scoring (the seed compute_score)', () => {
  it('routes data sources like the seed (every non-empty non-math source goes to the SA1B branch)', () => {
    const table: [string, string][] = [
      ['vstar', 'default'],
      ['vl_agent', 'default'],
      ['chart', 'default'],
      ['thinklite_eureka', 'math'],
      ['xince', 'math'],
      ['SA1B', 'sa1b'],
      ['default', 'sa1b'],
      ['wemath', 'sa1b'],
      ['', 'default'],
    ];
    for (const [src, want] of table) assert.equal(scorerFor(src), want, src);
  });

  const cases: {
    name: string;
    source: string;
    solution: string;
    gt: string;
    judge: string;
    acc: number;
    score: number;
    format: number;
    answer: string;
    asked: number;
  }[] = [
    {
      name: 'judge says 1',
      source: 'vstar',
      solution: '<think>x</think><answer>tan</answer>',
      gt: 'The countertop is tan.',
      judge: 'Judgement: 1',
      acc: 1,
      score: 1,
      format: 0,
      answer: 'tan',
      asked: 1,
    },
    {
      name: 'judge says 0',
      source: 'chart',
      solution: '<think>x</think><answer>blue</answer>',
      gt: 'tan',
      judge: '0',
      acc: 0,
      score: 0,
      format: 0,
      answer: 'blue',
      asked: 1,
    },
    {
      name: 'no answer tag: empty answer still judged, format error',
      source: 'vl_agent',
      solution: '<think>x</think> it is tan',
      gt: 'tan',
      judge: 'Judgement: 0',
      acc: 0,
      score: -0.2,
      format: -1,
      answer: '',
      asked: 1,
    },
    {
      name: 'two answers: the first, format error',
      source: 'vstar',
      solution: '<answer>a</answer><answer>b</answer>',
      gt: 'a',
      judge: '1',
      acc: 1,
      score: 0.8,
      format: -1,
      answer: 'a',
      asked: 1,
    },
    {
      name: 'unbalanced think: format error',
      source: 'wemath',
      solution: '<think><think>x</think><answer>5</answer>',
      gt: '5',
      judge: 'Judgement: 1',
      acc: 1,
      score: 0.8,
      format: -1,
      answer: '5',
      asked: 1,
    },
    {
      name: 'substring verdict quirk: "10" counts as 1',
      source: 'vstar',
      solution: '<answer>x</answer>',
      gt: 'y',
      judge: 'Judgement: 10',
      acc: 1,
      score: 1,
      format: 0,
      answer: 'x',
      asked: 1,
    },
    {
      name: 'text before the last Judgement: is cut',
      source: 'vstar',
      solution: '<answer>x</answer>',
      gt: 'y',
      judge: 'Judgement: 1 ... Final Judgement: 0',
      acc: 0,
      score: 0,
      format: 0,
      answer: 'x',
      asked: 1,
    },
    {
      name: 'answer of 1000+ chars: acc 0, format error',
      source: 'vstar',
      solution: `<answer>${'a'.repeat(1000)}</answer>`,
      gt: 'a',
      judge: '1',
      acc: 0,
      score: -0.2,
      format: -1,
      answer: 'a'.repeat(1000),
      asked: 1,
    },
    {
      name: 'math: symbolic equal, no judge',
      source: 'xince',
      solution: '<think>t</think><answer>\\frac{1}{2}</answer>',
      gt: '0.5',
      judge: 'unused',
      acc: 1,
      score: 1.2,
      format: 0,
      answer: '\\frac{1}{2}',
      asked: 0,
    },
    {
      name: 'math: the last answer after </think>',
      source: 'thinklite_eureka',
      solution: '<think><answer>3</answer></think><answer>4</answer> <answer>$2\\sqrt{2}$</answer>',
      gt: '\\sqrt{8}',
      judge: 'unused',
      acc: 1,
      score: 1.2,
      format: 0,
      answer: '$2\\sqrt{2}$',
      asked: 0,
    },
    {
      name: 'math: not equal -> judge TRUE',
      source: 'xince',
      solution: '<think>t</think><answer>one half</answer>',
      gt: '1/2',
      judge: '## Equivalence Judgement\nTRUE',
      acc: 1,
      score: 1.2,
      format: 0,
      answer: 'one half',
      asked: 1,
    },
    {
      name: 'math: judge FALSE',
      source: 'xince',
      solution: '<think>t</think><answer>7</answer>',
      gt: '8',
      judge: '## Equivalence Judgement\nFALSE',
      acc: 0,
      score: 0,
      format: 0,
      answer: '7',
      asked: 1,
    },
    {
      name: 'math: judge says both -> 0',
      source: 'xince',
      solution: '<think>t</think><answer>7</answer>',
      gt: '8',
      judge: 'TRUE or FALSE',
      acc: 0,
      score: 0,
      format: 0,
      answer: '7',
      asked: 1,
    },
    {
      name: 'math: no answer -> format error, no judge',
      source: 'xince',
      solution: '<think>t</think> 8',
      gt: '8',
      judge: 'unused',
      acc: 0,
      score: -0.4,
      format: -1,
      answer: '',
      asked: 0,
    },
    {
      name: 'math: tool_call after </think> -> format error',
      source: 'xince',
      solution: '<think>t</think><tool_call>x</tool_call><answer>8</answer>',
      gt: '8',
      judge: 'unused',
      acc: 1,
      score: 0.8,
      format: -1,
      answer: '8',
      asked: 0,
    },
  ];
  for (const c of cases)
    it(`${c.source}: ${c.name}`, async () => {
      const j = fakeJudge(c.judge);
      const { result, detail } = await computeScore(c.source, c.solution, c.gt, 'Q?', { judge: j });
      assert.equal(result.acc, c.acc, 'acc');
      assert.ok(Math.abs(result.score - c.score) < 1e-9, `score ${result.score} != ${c.score}`);
      assert.equal(result.format_r, c.format, 'format_r');
      assert.equal(result.answer, c.answer, 'answer');
      assert.equal(result.ground_truth, c.gt);
      assert.equal(j.asked.length, c.asked, 'judge calls');
      assert.deepEqual(Object.keys(result), [
        'score',
        'acc',
        'tool_step',
        'tool_success_rate',
        'tool_reward_component',
        'format_r',
        'ground_truth',
        'answer',
      ]);
      assert.equal(detail.scorer, scorerFor(c.source));
    });

  it('sends the seed prompt, system message and temperature to the default judge; temperature 0 and no system to the math judge', async () => {
    const j = fakeJudge('1');
    await computeScore('vstar', '<answer>pink</answer>', 'It is pink.', 'What color?', { judge: j });
    assert.equal(j.asked[0].system, 'You are a helpful assistant.');
    assert.equal(j.asked[0].temperature, 0.3);
    assert.equal(j.asked[0].prompt, judgePrompt('pink', 'It is pink.', 'What color?'));
    assert.ok(
      j.asked[0].prompt.startsWith(
        "\nBelow are two answers to a question. Question is [Question], [Standard Answer] is the standard answer to the question, and [Model_answer] is the answer extracted from a model's output to this question.  Determine",
      ),
    );
    assert.ok(
      j.asked[0].prompt.includes(
        'anything else.\n\n\n\n[Question]: Is the countertop tan or blue?\n[Standard Answer]: The countertop is tan.\n[Model_answer] : tan\nJudgement: 1\n\n\n\n[Question]: On which side',
      ),
    );
    assert.ok(
      j.asked[0].prompt.endsWith(
        'Judgement: 0\n\n[Question]: What color?\n[Standard Answer]: It is pink.\n[Model_answer] : pink\nJudgement:',
      ),
    );
    const m = fakeJudge('## Equivalence Judgement\nTRUE');
    await computeScore('xince', '<answer>x+1</answer>', 'y', 'Solve {x}', { judge: m });
    assert.equal(m.asked[0].system, undefined);
    assert.equal(m.asked[0].temperature, 0);
    assert.equal(m.asked[0].prompt, mathJudgePrompt('Solve {x}', 'y', 'x+1'));
    assert.ok(m.asked[0].prompt.endsWith('**Question**:\nSolve {x}\n\n**Reference Answer**\ny\n\n## Student Final Answer\nx+1'));
  });

  it('a judge that keeps failing scores 0 like the seed, and says why', async () => {
    const { result, detail } = await computeScore('vstar', '<answer>a</answer>', 'a', 'q', {
      judge: fakeJudge(new Error('HTTP 500 from judge')),
    });
    assert.equal(result.acc, 0);
    assert.equal(detail.method, 'judge-error');
    assert.match(detail.judgeError!, /HTTP 500/);
  });

  it('strict verdict parsing only takes a lone 0/1', () => {
    assert.deepEqual(parseVerdict('Judgement: 10', true), { acc: 0, unparsed: true });
    assert.deepEqual(parseVerdict('Judgement: 1', true), { acc: 1, unparsed: false });
    assert.deepEqual(parseVerdict('1.', true), { acc: 1, unparsed: false });
    assert.deepEqual(parseVerdict('no idea'), { acc: 0, unparsed: true });
    assert.deepEqual(parseMathVerdict('blah ## Equivalence Judgement\nFalse'), { acc: 0, unparsed: false });
  });

  it('--no-judge: normalized match for the judge sources, symbolic for math', async () => {
    assert.ok(normalizedMatch('The Tan.', 'tan'));
    assert.ok(normalizedMatch(' 4 ', '4.0'));
    assert.ok(!normalizedMatch('tan', 'blue'));
    const a = await computeScore('vstar', '<answer>Red</answer>', 'red', 'q');
    assert.equal(a.result.acc, 1);
    assert.equal(a.detail.method, 'normalized-match');
    const b = await computeScore('xince', '<answer>\\boxed{0.25}</answer>', '\\frac14', 'q');
    assert.equal(b.result.acc, 1);
    assert.equal(b.detail.method, 'symbolic');
  });

  it('symbolic math check (compute-engine): equal forms, numbers, free variables; unsure is not equal', async () => {
    const table: [string, string, boolean][] = [
      ['\\frac{1}{2}', '0.5', true],
      ['\\boxed{12}', '12.', true],
      ['$x^2+2x+1$', '(x+1)^2', true],
      ['x = 3', '3', true],
      ['2\\sqrt{2}', '\\sqrt{8}', true],
      ['30^\\circ', '30', true],
      ['12', '13', false],
      ['\\pi', '3.14', false],
      ['A', 'B', false],
      ['', '0', false],
    ];
    for (const [g, a, want] of table) assert.equal(await mathEquivalent(g, a), want, `${g} vs ${a}`);
  });

  it('tool step rewards and success rate over <tool_response> blocks as the seed', () => {
    const s = '<tool_response>ok</tool_response><tool_response>--- Execution Error (Error) ---</tool_response>';
    assert.equal(toolSuccessRate(s), 0.5);
    assert.equal(toolSuccessRate('none'), null);
    const steps = toolRewardStep(s);
    assert.equal(steps.length, 3);
    assert.ok(Math.abs(steps[1] - -0.5) < 1e-12 && Math.abs(steps[0] - 0.2 * -0.5) < 1e-12 && steps[2] === 0);
  });
});
