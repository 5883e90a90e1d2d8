/**
 * A model request carries at most so many images (issue #21: a request with 100,001 images):
 * the question's and the newest; each older one becomes a note in its place.
 */
import { strict as assert } from 'node:assert';
import type { ExecutionResult, OutputImage } from '../../../src/core/kernel/types';
import { getProtocol, protocolIds } from '../../../src/core/protocol';
import { DEFAULT_MAX_REQUEST_IMAGES, limitRequestImages, omittedImageNote } from '../../../src/core/protocol/imageBudget';
import type { ChatMessage, ContentPart } from '../../../src/core/protocol/types';

const parts = (messages: ChatMessage[]): ContentPart[] => messages.flatMap((m) => (Array.isArray(m.content) ? m.content : []));
const imageUrls = (messages: ChatMessage[]) => parts(messages).flatMap((p) => (p.type === 'image_url' ? [p.image_url.url] : []));
const notes = (messages: ChatMessage[]) => parts(messages).filter((p) => p.type === 'text' && p.text.startsWith('[image not sent')).length;

/** a distinct base64 payload per image, so that which ones were kept can be told */
const outImage = (n: number): OutputImage => ({
  mime: 'image/png',
  data: Buffer.from(`image-${n}`).toString('base64'),
  source: 'display',
  width: 64,
  height: 64,
});

describe('request image budget', () => {
  it('is 32 images by default', () => {
    assert.equal(DEFAULT_MAX_REQUEST_IMAGES, 32);
  });

  it('returns the messages themselves when they are within the limit', () => {
    const messages: ChatMessage[] = [
      {
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:a' } },
          { type: 'text', text: 'q' },
        ],
      },
    ];
    const r = limitRequestImages(messages, 1);
    assert.equal(r.messages, messages);
    assert.equal(r.omitted, 0);
  });

  it('keeps the question and the newest images, puts a note in place of each other one, and changes nothing it was given', () => {
    const img = (u: string): ContentPart => ({ type: 'image_url', image_url: { url: u } });
    const messages: ChatMessage[] = [
      { role: 'system', content: 'sys' },
      { role: 'user', content: [img('q1'), { type: 'text', text: 'question' }] },
      { role: 'assistant', content: 'code' },
      { role: 'user', content: [img('a'), img('b'), img('c')] },
      { role: 'assistant', content: 'code' },
      { role: 'tool', tool_call_id: 'x', content: [img('d'), { type: 'text', text: 'out' }, img('e')] },
    ];
    const before = structuredClone(messages);
    const r = limitRequestImages(messages, 3);
    assert.deepEqual(messages, before, 'the history is not changed');
    assert.equal(r.omitted, 3);
    assert.deepEqual(imageUrls(r.messages), ['q1', 'd', 'e']);
    assert.deepEqual(
      r.messages[3].content,
      [0, 1, 2].map(() => ({ type: 'text', text: omittedImageNote(3) })),
    );
    assert.equal(r.messages[5], messages[5], 'a message with nothing left out is shared, not copied');
    assert.equal(r.messages[0], messages[0]);
    // 0: no limit
    assert.equal(limitRequestImages(messages, 0).messages, messages);
    // a question with more images than the limit keeps its newest
    assert.deepEqual(imageUrls(limitRequestImages(messages, 1).messages), ['q1']);
    const many: ChatMessage[] = [
      { role: 'user', content: [img('q1'), img('q2'), img('q3')] },
      { role: 'user', content: [img('z')] },
    ];
    assert.deepEqual(imageUrls(limitRequestImages(many, 2).messages), ['q2', 'q3']);
  });

  for (const id of protocolIds) {
    it(`${id}: a history of 3 cells × 20 images and a question image becomes a request of 32 images`, () => {
      const p = getProtocol(id);
      const messages = p.initialMessages('how many?', [Buffer.from('question').toString('base64')], {
        imageSizes: [{ width: 8, height: 8 }],
      });
      let n = 0;
      for (let turn = 0; turn < 3; turn++) {
        const toolCallId = id === 'codedance' ? undefined : `call_${turn}`;
        const code = 'show()';
        messages.push(
          p.assistantMessage({
            content: 'looking',
            toolCalls: toolCallId
              ? [{ id: toolCallId, type: 'function', function: { name: 'x', arguments: JSON.stringify({ code }) } }]
              : [],
          }),
        );
        const result: ExecutionResult = {
          status: 'ok',
          stdout: '',
          stderr: '',
          images: Array.from({ length: 20 }, () => outImage(n++)),
          durationMs: 1,
        };
        messages.push(...p.observation([{ request: { code, toolCallId }, result }], [], { turnIndex: turn, maxTurns: 7 }));
      }
      assert.equal(imageUrls(messages).length, 61);
      const r = limitRequestImages(messages);
      const urls = imageUrls(r.messages);
      assert.equal(urls.length, 32);
      assert.equal(r.omitted, 29);
      assert.equal(notes(r.messages), 29);
      assert.ok(urls[0].endsWith(Buffer.from('question').toString('base64')), 'the question image is kept');
      // the newest 31 output images: 29..59
      assert.deepEqual(
        urls.slice(1).map((u) => Buffer.from(u.split(',')[1], 'base64').toString()),
        Array.from({ length: 31 }, (_, k) => `image-${29 + k}`),
      );
      assert.equal(imageUrls(messages).length, 61, 'the history keeps every image');
    });
  }
});
