import { strict as assert } from 'node:assert';
import { reasoningText, toNotebook } from '../../../src/core/trajectory/notebook';
import { createTrajectory } from '../../../src/core/trajectory/create';
import { referToFiles } from '../../../src/core/trajectory/images';
import type { Trajectory } from '../../../src/core/trajectory/types';

export function sampleTrajectory(): Trajectory {
  return createTrajectory({
    id: 'traj-1',
    createdAt: '2026-11-24T00:00:00.000Z',
    question: 'How many red circles?',
    inputImages: [{ id: 'input-0', mime: 'image/png', data: 'iVBORw0KGgo=', width: 28, height: 28, source: 'input' }],
    model: 'fixture',
    endpoints: ['http://127.0.0.1:1/v1'],
    protocol: 'codedance',
    sampling: { temperature: 0.01 },
    maxTurns: 7,
    messages: [],
    turns: [
      {
        index: 0,
        endpoint: 'e',
        startedAt: 's',
        latencyMs: 5,
        retries: 0,
        toolCalls: [],
        malformed: [],
        content: '<think>count them</think>\n<code>\n```python\nprint(3)\n```\n</code>',
        cells: [
          {
            id: 't0-c0',
            turn: 0,
            code: 'print(3)',
            status: 'ok',
            stdout: '3\n',
            stderr: '',
            images: [{ id: 'i', mime: 'image/png', data: 'AAAA', width: 2, height: 2, source: 'figure' }],
          },
          {
            id: 't0-c1',
            turn: 0,
            code: '1/0',
            status: 'error',
            stdout: '',
            stderr: '',
            images: [],
            error: { ename: 'ZeroDivisionError', evalue: 'division by zero', traceback: [] },
          },
        ],
      },
      {
        index: 1,
        endpoint: 'e',
        startedAt: 's',
        latencyMs: 5,
        retries: 0,
        toolCalls: [],
        malformed: [],
        content: 'hmm',
        discarded: true,
        cells: [],
      },
      {
        index: 2,
        endpoint: 'e',
        startedAt: 's',
        latencyMs: 5,
        retries: 0,
        toolCalls: [],
        malformed: [],
        content: '<answer>3</answer>',
        answer: '3',
        cells: [],
      },
    ],
    answer: '3',
    status: 'answered',
    usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
    durationMs: 10,
  });
}

describe('notebook export', () => {
  it('has markdown for reasoning, code cells with real outputs, and the answer', () => {
    const nb = toNotebook(sampleTrajectory()) as {
      nbformat: number;
      cells: { cell_type: string; source: string[]; outputs?: { output_type: string; data?: Record<string, unknown>; ename?: string }[] }[];
    };
    assert.equal(nb.nbformat, 4);
    const kinds = nb.cells.map((c) => c.cell_type);
    assert.deepEqual(kinds, ['markdown', 'code', 'markdown', 'code', 'code', 'markdown', 'markdown']);
    assert.match(
      nb.cells[1].source.join(''),
      /input_image = Image.open\('input_image.png' if os.path.exists\('input_image.png'\) else 'input_image.jpg'\)/,
    );
    assert.equal(nb.cells[3].source.join(''), 'print(3)');
    assert.deepEqual(
      nb.cells[3].outputs?.map((o) => o.output_type),
      ['stream', 'display_data'],
    );
    assert.equal(nb.cells[3].outputs?.[1].data?.['image/png'], 'AAAA');
    assert.equal(nb.cells[4].outputs?.[0].ename, 'ZeroDivisionError');
    assert.match(nb.cells.at(-1)!.source.join(''), /## Answer\n\n3/);
    assert.ok(!JSON.stringify(nb).includes('hmm'), 'discarded replies are not exported');
  });

  it('images stored as files beside it (codedance ask): referred to by relative path, never copied in', async () => {
    const t = await referToFiles(
      sampleTrajectory(),
      new Map([
        ['iVBORw0KGgo=', 'input_image.png'],
        ['AAAA', 't0-c0 (1).png'],
      ]),
    );
    const nb = toNotebook(t) as {
      cells: {
        cell_type: string;
        source: string[];
        attachments?: unknown;
        outputs?: { output_type: string; data?: Record<string, unknown> }[];
      }[];
    };
    const text = JSON.stringify(nb);
    assert.ok(!text.includes('iVBORw0KGgo=') && !text.includes('AAAA'), 'no image payload in the notebook');
    assert.match(nb.cells[0].source.join(''), /!\[input 0\]\(input_image\.png\)/);
    assert.equal(nb.cells[0].attachments, undefined);
    // the setup cell binds the exact image and makes the file the code may open, as the kernel did
    const setup = nb.cells[1].source.join('');
    assert.match(setup, /input_image = Image\.open\("input_image\.png"\)\.convert\('RGB'\)/);
    assert.match(setup, /if not os\.path\.exists\('input_image\.jpg'\):\n    input_image\.save\('input_image\.jpg'\)/);
    const shown = nb.cells[3].outputs?.[1];
    assert.equal(shown?.output_type, 'display_data');
    // a name with a space and parentheses still makes one Markdown link
    assert.deepEqual(shown?.data?.['text/markdown'], ['![i](t0-c0%20%281%29.png)']);
    assert.deepEqual(shown?.data?.['text/plain'], ['<image 2x2: t0-c0 (1).png>']);
  });

  it('replaces code blocks in the reasoning text', () => {
    assert.equal(reasoningText('a\n<code>\n```python\nx=1\n```\n</code>\nb'), 'a\n*(code below)*\nb');
    assert.equal(reasoningText('a\n```python\nx=1\n```'), 'a\n*(code below)*');
    assert.equal(reasoningText('<think>t</think> <answer>4</answer>'), 't **Answer:** 4');
  });
});
