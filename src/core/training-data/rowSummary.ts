/**
 * What the dataset viewer's table shows of a row: each value as one short line, and the facts
 * its filters use (data_source, ability, number of tool calls, images, correct for results).
 * No node built-ins (pure).
 */

export interface RowFacts {
  dataSource?: string;
  ability?: string;
  toolCalls: number;
  images: number;
  /** results files: acc ≥ 1 */
  correct?: boolean;
}

const MAX = 160;

function clip(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > MAX ? `${t.slice(0, MAX)}…` : t;
}

function isMessages(v: unknown): v is { role: unknown; content: unknown }[] {
  return Array.isArray(v) && v.length > 0 && v.every((m) => m && typeof m === 'object' && 'role' in m && 'content' in m);
}

function contentText(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c))
    return c
      .map((p) =>
        p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '<image>',
      )
      .join('');
  return '';
}

/** One value as a short line: text clipped, binary as its size, messages as count + the first user text. */
export function cellSummary(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return clip(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) return `[binary ${v.length} B]`;
  if (isMessages(v)) {
    const user = v.find((m) => m.role === 'user');
    return clip(`${v.length} msg · ${user ? contentText(user.content).replaceAll('<image>', '') : ''}`);
  }
  if (Array.isArray(v) && v.length && v.every((x) => x instanceof Uint8Array || (x && typeof x === 'object' && 'bytes' in x)))
    return `${v.length} image${v.length === 1 ? '' : 's'}`;
  return clip(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x instanceof Uint8Array ? `[${x.length} B]` : x)));
}

/**
 * The code outputs a message holds: `<tool_response>`s (the seed's, DeepEyes'); Thyme's
 * `<sandbox_output>`s inside a reply, or as a message of their own; PyVision's `<interpreter>`
 * message. (Thyme's and PyVision's instructions name their tag: those are not counted.)
 */
function outputsIn(role: unknown, text: string): number {
  const responses = text.split('<tool_response>').length - 1;
  if (role === 'assistant') return responses + text.split('<sandbox_output>').length - 1;
  if (role !== 'user') return responses;
  return responses + (text.startsWith('<sandbox_output>') || text.startsWith('<interpreter>') ? 1 : 0);
}

export function rowFacts(r: Record<string, unknown>): RowFacts {
  const cd = r.codedance && typeof r.codedance === 'object' ? (r.codedance as Record<string, unknown>) : undefined;
  const ds = typeof r.data_source === 'string' ? r.data_source : typeof cd?.data_source === 'string' ? cd.data_source : undefined;
  const msgs = r.messages ?? r.prompt;
  let toolCalls = 0;
  if (typeof r.tool_call_count === 'number') toolCalls = r.tool_call_count;
  else if (isMessages(msgs)) for (const m of msgs) toolCalls += outputsIn(m.role, contentText(m.content));
  const imgs = Array.isArray(r.images)
    ? r.images.length
    : Array.isArray((r.multi_modal_data as { image?: unknown } | undefined)?.image)
      ? (r.multi_modal_data as { image: unknown[] }).image.length
      : 0;
  return {
    dataSource: ds,
    ability: typeof r.ability === 'string' ? r.ability : undefined,
    toolCalls,
    images: imgs,
    correct: typeof r.acc === 'number' ? r.acc >= 1 : undefined,
  };
}
