/**
 * Text extraction shared by the formats: code blocks, `<answer>` tags, tool-call arguments.
 * The regular expressions are the seed's (eval/eval.py), translated from Python `re` with
 * `re.DOTALL` to JavaScript's `s` flag.
 */
import type { ToolCall } from './types';

/** eval.py's first pattern: `<code>\s*```python\s*\n(.*?)\n```\s*</code>` */
export const CODE_TAG_PATTERN = /<code>\s*```python\s*\n(.*?)\n```\s*<\/code>/s;
/** eval.py's fallback (and the training rollout's): the first ```` ```python ```` block */
export const PYTHON_BLOCK_PATTERN = /```python\s*\n(.*?)\n```/s;
/** the seed's judge: `re.search(r'<answer>(.*?)</answer>', text, re.DOTALL)` */
export const ANSWER_PATTERN = /<answer>(.*?)<\/answer>/s;

/** What Python's `str.isspace()` calls whitespace (`str.strip()` removes these; JS's `trim` differs: U+FEFF, U+001C–U+001F, U+0085). */
const PY_SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');

/** Python's `str.strip()` (whitespace at both ends, by Python's definition). */
export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}

/** eval.py's `_extract_python_code_from_response`: `<code>` block first, else the first ```python block; stripped. */
export function extractSeedCode(text: string): string | undefined {
  const m = CODE_TAG_PATTERN.exec(text) ?? PYTHON_BLOCK_PATTERN.exec(text);
  return m ? pyStrip(m[1]) : undefined;
}

/** The first ```python block only (the training rollout's fallback when there is no tool call). */
export function extractPythonBlock(text: string): string | undefined {
  const m = PYTHON_BLOCK_PATTERN.exec(text);
  return m ? pyStrip(m[1]) : undefined;
}

/** eval.py's stop rule: the text contains both `<answer>` and `</answer>` (in any order). */
export function hasFullAnswer(text: string): boolean {
  return text.includes('<answer>') && text.includes('</answer>');
}

/** The first `<answer>…</answer>`, stripped; undefined when there is none. */
export function extractAnswerTag(text: string): string | undefined {
  const m = ANSWER_PATTERN.exec(text);
  return m ? pyStrip(m[1]) : undefined;
}

/** The text after the last `</think>` (the whole text when there is none), stripped. */
export function afterThink(text: string): string {
  const i = text.lastIndexOf('</think>');
  return pyStrip(i >= 0 ? text.slice(i + '</think>'.length) : text);
}

export type ToolCallCode = { ok: true; code: string } | { ok: false; reason: 'unknown-tool' | 'bad-json' | 'no-code'; detail: string };

/**
 * Reads the code out of a function call to the python tool `toolName` whose string
 * parameter is `param`. Never throws: a bad call comes back as `{ ok: false, reason }`.
 */
export function codeFromToolCall(call: ToolCall, toolName: string, param = 'code'): ToolCallCode {
  const name = call.function?.name ?? '';
  if (name !== toolName) return { ok: false, reason: 'unknown-tool', detail: name };
  const raw = call.function?.arguments ?? '';
  let args: unknown;
  try {
    args = raw.trim() === '' ? {} : JSON.parse(raw);
  } catch (e) {
    return { ok: false, reason: 'bad-json', detail: e instanceof Error ? e.message : String(e) };
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return {
      ok: false,
      reason: 'bad-json',
      detail: `arguments must be a JSON object, got ${Array.isArray(args) ? 'an array' : typeof args}`,
    };
  }
  const code = (args as Record<string, unknown>)[param];
  if (typeof code !== 'string' || code.trim() === '')
    return { ok: false, reason: 'no-code', detail: code === undefined ? 'missing' : 'empty' };
  return { ok: true, code };
}

/**
 * A tool call safe to put back into the history: servers that render tool calls through a
 * chat template (vLLM) parse `arguments` as JSON and reject the whole request when it is not,
 * so invalid arguments are replaced by `{}` (the error observation tells the model what it sent).
 */
export function sanitizeToolCall(call: ToolCall): ToolCall {
  let args = call.function?.arguments ?? '';
  try {
    const v: unknown = JSON.parse(args);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) args = '{}';
  } catch {
    args = '{}';
  }
  return { id: call.id, type: 'function', function: { name: call.function?.name ?? '', arguments: args } };
}

/** Hermes-style `<tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>` blocks left in the text. */
export const RAW_TOOL_CALL_PATTERN = /<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g;

/**
 * Tool calls written as text (a server without a tool parser, or one whose parser gave up):
 * `{ ok: true, call }` (an empty id) per readable block, `{ ok: false, detail }` per block
 * that is not `{"name": …, "arguments": …}` JSON.
 */
export function rawToolCalls(text: string): ({ ok: true; call: ToolCall } | { ok: false; detail: string })[] {
  const out: ({ ok: true; call: ToolCall } | { ok: false; detail: string })[] = [];
  for (const m of text.matchAll(RAW_TOOL_CALL_PATTERN)) {
    let v: { name?: unknown; arguments?: unknown } | null;
    try {
      v = JSON.parse(m[1]) as { name?: unknown; arguments?: unknown } | null;
    } catch (e) {
      out.push({ ok: false, detail: e instanceof Error ? e.message : String(e) });
      continue;
    }
    if (typeof v !== 'object' || v === null || typeof v.name !== 'string') {
      out.push({ ok: false, detail: 'expected {"name": …, "arguments": {…}}' });
      continue;
    }
    const args = typeof v.arguments === 'string' ? v.arguments : JSON.stringify(v.arguments ?? {});
    out.push({ ok: true, call: { id: '', type: 'function', function: { name: v.name, arguments: args } } });
  }
  return out;
}
