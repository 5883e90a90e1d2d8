/**
 * Trajectories as the agent loop makes them (codedance format: system, question with its image,
 * a reply with code, the `<tool_response>` with text and an output image, the answer), for the
 * export and verify tests.
 */
import { createCodedanceProtocol } from '../../../src/core/protocol/codedance';
import type { ChatMessage } from '../../../src/core/protocol/types';
import { createTrajectory } from '../../../src/core/trajectory/create';
import type { Trajectory } from '../../../src/core/trajectory/types';
import { encodePng } from '../../fixtures/images';

export function solidPng(w: number, h: number, rgb: [number, number, number]): Buffer {
  const px = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) px.set(rgb, i * 3);
  return encodePng(w, h, px);
}

export interface FixtureTurn {
  code: string;
  stdout?: string;
  images?: Buffer[];
  /** the cell failed with this error (the observation is the seed's error block) */
  error?: { ename: string; evalue: string };
}

/** A trajectory whose messages are exactly what the codedance adapter would have sent. */
export function fixtureTrajectory(o: { id: string; question: string; input: Buffer; turns: FixtureTurn[]; answer?: string }): Trajectory {
  const p = createCodedanceProtocol();
  const b64 = o.input.toString('base64');
  const messages: ChatMessage[] = p.initialMessages(o.question, [b64]);
  const turns: Trajectory['turns'] = [];
  o.turns.forEach((t, i) => {
    const content = `<think>step ${i}</think>\n<code>\n\`\`\`python\n${t.code}\n\`\`\`\n</code>`;
    messages.push({ role: 'assistant', content });
    const images = (t.images ?? []).map((b) => ({ mime: 'image/png' as const, data: b.toString('base64'), source: 'figure' as const }));
    const result = {
      status: t.error ? ('error' as const) : ('ok' as const),
      stdout: t.stdout ?? '',
      stderr: '',
      images,
      durationMs: 5,
      error: t.error && { ...t.error, traceback: [] },
    };
    messages.push(...p.observation([{ request: { code: t.code }, result }], [], { turnIndex: i, maxTurns: 7, timeoutMs: 30_000 }));
    turns.push({
      index: i,
      endpoint: 'http://fixture',
      startedAt: new Date(0).toISOString(),
      latencyMs: 1,
      content,
      toolCalls: [],
      retries: 0,
      malformed: [],
      cells: [
        {
          id: `t${i}-c0`,
          turn: i,
          code: t.code,
          status: t.error ? 'error' : 'ok',
          stdout: t.stdout ?? '',
          stderr: '',
          images: images.map((im, k) => ({ ...im, id: `t${i}-c0-i${k}` })),
        },
      ],
    });
  });
  if (o.answer !== undefined) {
    const content = `<think>done</think><answer>${o.answer}</answer>`;
    messages.push({ role: 'assistant', content });
    turns.push({
      index: turns.length,
      endpoint: 'http://fixture',
      startedAt: new Date(0).toISOString(),
      latencyMs: 1,
      content,
      toolCalls: [],
      retries: 0,
      malformed: [],
      cells: [],
      answer: o.answer,
    });
  }
  return createTrajectory({
    id: o.id,
    question: o.question,
    model: 'fixture',
    protocol: 'codedance',
    inputImages: [{ id: 'input-0', mime: 'image/png', data: b64, source: 'input' }],
    messages,
    turns,
    answer: o.answer,
    status: o.answer !== undefined ? 'answered' : 'max_turns',
  });
}
