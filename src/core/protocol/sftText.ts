/**
 * The chat messages of a trajectory in the dataset cards' form: `messages` as `[{role, content}]`
 * with `content` one string, every image replaced by `<image>` (in order) and its bytes in the
 * row's `images` list. Text parts are joined with nothing between them, exactly as the Qwen2.5-VL
 * chat template concatenates them, so the row says what the model saw. Function-calling turns
 * (the training format) are rendered as that template renders them: a tool call as
 * `<tool_call>\n{"name": …, "arguments": …}\n</tool_call>` in the assistant text, consecutive
 * tool results as one `user` turn of `<tool_response>\n…\n</tool_response>` blocks.
 * No node built-ins here (the dataset viewer's webview uses it).
 */
import { CodeDanceError } from '../errors';
import type { ChatMessage, ContentPart, ToolCall } from './types';

export const IMAGE_TOKEN = '<image>';

export interface SftMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** An image taken out of the messages: base64 payload and the mime its data URL declared. */
export interface SftImage {
  data: string;
  mime: string;
}

export interface SftOptions {
  /**
   * The format writes the `<image>` token in its own prompt (Thyme: `<image>\n{question}…` after
   * the image part, utils.py 30-49): in a user message, the text that follows its leading image
   * parts drops the `<image>` it starts with, so each image has one token (Thyme's SFT data:
   * `"question": "<image>\n…"`, README §3.1). Without images, that `<image>` goes too.
   */
  imageTokenInText?: boolean;
}

function partsText(content: string | ContentPart[] | null, images: SftImage[], tokenInText = false): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  let out = '';
  let leading = tokenInText;
  for (const p of content) {
    if (p.type === 'text') {
      out += leading && p.text.startsWith(IMAGE_TOKEN) ? p.text.slice(IMAGE_TOKEN.length) : p.text;
      leading = false;
    } else {
      const m = /^data:([^;,]+);base64,(.*)$/s.exec(p.image_url.url);
      if (!m)
        throw new CodeDanceError('input', `an image in the messages is not inline (${p.image_url.url.slice(0, 40)}…)`, {
          fix: 'only images held in the messages as data: URLs can be exported (as CodeDance saves them): embed the image as a data: URL',
        });
      images.push({ mime: m[1], data: m[2] });
      out += IMAGE_TOKEN;
    }
  }
  return out;
}

function toolCallText(c: ToolCall): string {
  let args: unknown = c.function.arguments;
  try {
    args = JSON.parse(c.function.arguments);
  } catch {
    // not JSON: the arguments stay the string the model wrote, so nothing of it is dropped
  }
  return `<tool_call>\n${JSON.stringify({ name: c.function.name, arguments: args })}\n</tool_call>`;
}

/** The messages as dataset-card rows and the images they held, in order. */
export function toSftMessages(messages: readonly ChatMessage[], opts: SftOptions = {}): { messages: SftMessage[]; images: SftImage[] } {
  const images: SftImage[] = [];
  const out: SftMessage[] = [];
  let toolBlock: string[] | undefined;
  const flushTools = () => {
    if (toolBlock) out.push({ role: 'user', content: toolBlock.join('\n') });
    toolBlock = undefined;
  };
  for (const m of messages) {
    if (m.role === 'tool') {
      (toolBlock ??= []).push(`<tool_response>\n${partsText(m.content, images)}\n</tool_response>`);
      continue;
    }
    flushTools();
    if (m.role === 'assistant') {
      const calls = (m.tool_calls ?? []).map(toolCallText);
      const text = partsText(m.content, images);
      out.push({ role: 'assistant', content: calls.length ? [text, ...calls].filter(Boolean).join('\n') : text });
    } else out.push({ role: m.role, content: partsText(m.content, images, m.role === 'user' && opts.imageTokenInText) });
  }
  flushTools();
  return { messages: out, images };
}
