/**
 * Assembles streamed `tool_calls` deltas into complete tool calls. OpenAI and vLLM send, per
 * call `index`, a first delta with `id`, `type` and `function.name` (arguments empty or a
 * first piece), then deltas with `function.arguments` pieces only. Some servers repeat the
 * name in every delta, omit `index` (one call per position) or omit `id`: all handled.
 */
import { randomUUID } from 'node:crypto';
import type { ToolCall } from '../protocol/types';

export interface ToolCallDelta {
  index?: number;
  id?: string | null;
  type?: string | null;
  function?: { name?: string | null; arguments?: string | null } | null;
}

interface Partial {
  id?: string;
  name: string;
  args: string;
}

export class ToolCallAssembler {
  private readonly calls = new Map<number, Partial>();

  /** Adds the deltas of one chunk; returns them normalized (index always set) for live UIs. */
  push(deltas: readonly ToolCallDelta[] | null | undefined): { index: number; id?: string; name?: string; argumentsDelta: string }[] {
    const out: { index: number; id?: string; name?: string; argumentsDelta: string }[] = [];
    (deltas ?? []).forEach((d, pos) => {
      const index = typeof d.index === 'number' ? d.index : pos;
      let c = this.calls.get(index);
      if (!c) this.calls.set(index, (c = { name: '', args: '' }));
      if (d.id) c.id = d.id;
      const name = d.function?.name ?? undefined;
      if (name) {
        // a name streamed in pieces is appended; a repeated full name is not
        if (!c.name) c.name = name;
        else if (name !== c.name) c.name += name;
      }
      const args = d.function?.arguments ?? '';
      c.args += args;
      out.push({ index, ...(d.id ? { id: d.id } : {}), ...(name ? { name } : {}), argumentsDelta: args });
    });
    return out;
  }

  get size(): number {
    return this.calls.size;
  }

  /** The calls so far, by index; a missing id gets a generated `call_…` one. */
  finish(): ToolCall[] {
    return [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => {
        if (!c.id) c.id = `call_${index}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
        return { id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.args } };
      });
  }
}
