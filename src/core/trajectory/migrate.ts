/**
 * Reading trajectories written by older releases as the current schema (types.ts):
 *  - `migrateTrajectory(raw)`: a stored Trajectory (chat history; an eval record of schema 2+).
 *    Version 1 → 2 is lossless: the shape is the same.
 *  - `trajectoryFromLegacyEval(stored, images)`: an eval result line of schema 1, which kept its
 *    own per-turn copy (`codedance.trajectory`: turns with cells and the observation text,
 *    images as indexes into `multi_modal_data.image`, no messages, no tool calls, no sampling).
 *    The messages are rebuilt with the run's protocol (system prompt, question, each kept
 *    reply, each observation from the stored cell results); what is rebuilt is listed in
 *    `migrated.rebuilt`.
 */
import { CodeDanceError } from '../errors';
import { getProtocol, isProtocolId } from '../protocol';
import { EXECUTE_PYTHON_CODE } from '../protocol/codedanceTools';
import type { ChatMessage, ObservationInput, ProtocolAdapter, ToolCall } from '../protocol/types';
import { createTrajectory } from './create';
import { TRAJECTORY_VERSION, type CodeCell, type ModelTurn, type Trajectory, type TrajectoryImage } from './types';

export function migrateTrajectory(raw: unknown, source: 'history' | 'eval-record' = 'history'): Trajectory {
  if (!raw || typeof raw !== 'object')
    throw new CodeDanceError('input', `not a CodeDance trajectory: ${raw === null ? 'null' : typeof raw}`);
  const t = raw as Partial<Trajectory> & { version?: unknown };
  if (typeof t.version !== 'number')
    throw new CodeDanceError('input', `not a CodeDance trajectory (no schema version; id ${String(t.id)})`);
  if (t.version > TRAJECTORY_VERSION)
    throw new CodeDanceError(
      'input',
      `trajectory ${String(t.id)} has schema version ${t.version}, written by a newer CodeDance (this one reads up to ${TRAJECTORY_VERSION})`,
      { fix: 'update CodeDance' },
    );
  if (typeof t.question !== 'string' || !Array.isArray(t.turns) || !Array.isArray(t.messages) || !Array.isArray(t.inputImages))
    throw new CodeDanceError(
      'input',
      `trajectory ${String(t.id)} (schema ${t.version}) is incomplete: question, turns, messages or inputImages missing`,
    );
  if (t.version === TRAJECTORY_VERSION) return t as Trajectory;
  return { ...(t as Trajectory), version: TRAJECTORY_VERSION, migrated: { fromVersion: t.version, source, rebuilt: [] } };
}

/** Schema 1's eval image: pixels in `multi_modal_data.image[ref]` (ref -1: none). */
export interface LegacyEvalImage {
  id: string;
  mime: string;
  width?: number;
  height?: number;
  source: string;
  ref: number;
}

export interface LegacyEvalTurn {
  index: number;
  content: string;
  latencyMs: number;
  firstTokenMs?: number;
  endpoint: string;
  retries: number;
  discarded?: boolean;
  usage?: ModelTurn['usage'];
  cells: (Omit<CodeCell, 'images'> & { images: LegacyEvalImage[] })[];
  observation?: string;
}

/** Schema 1's `codedance.trajectory` with the record fields the rebuild needs. */
export interface LegacyEvalRecord {
  question: string;
  index: number;
  multi_modal_data: { image: string[] };
  codedance: {
    finished_at: string;
    endpoints: string[];
    latency_ms: number;
    tokens: { prompt: number; completion: number; total: number };
    error?: { name: string; message: string };
    trajectory: {
      id: string;
      model: string;
      protocol: string;
      status: string;
      answer?: string;
      inputImages: LegacyEvalImage[];
      turns: LegacyEvalTurn[];
    };
  };
}

export function isLegacyEvalTrajectory(t: unknown): boolean {
  return !!t && typeof t === 'object' && !('version' in t) && Array.isArray((t as { turns?: unknown }).turns);
}

export function trajectoryFromLegacyEval(r: LegacyEvalRecord): Trajectory {
  const s = r.codedance.trajectory;
  const image = (x: LegacyEvalImage): TrajectoryImage => ({
    id: x.id,
    mime: x.mime === 'image/jpeg' ? 'image/jpeg' : 'image/png',
    data: (r.multi_modal_data.image[x.ref] ?? '').replace(/^data:[^,]*,/, ''),
    width: x.width,
    height: x.height,
    source: x.source as TrajectoryImage['source'],
  });
  const turns: ModelTurn[] = s.turns.map((tu) => {
    const cells = tu.cells.map((c) => ({ ...c, images: c.images.map(image) }));
    const toolCalls: ToolCall[] = cells.flatMap((c) =>
      c.toolCallId
        ? [
            {
              id: c.toolCallId,
              type: 'function' as const,
              function: { name: EXECUTE_PYTHON_CODE, arguments: JSON.stringify({ code: c.originalCode ?? c.code }) },
            },
          ]
        : [],
    );
    return {
      index: tu.index,
      endpoint: tu.endpoint,
      startedAt: r.codedance.finished_at,
      latencyMs: tu.latencyMs,
      firstTokenMs: tu.firstTokenMs,
      content: tu.content,
      toolCalls,
      retries: tu.retries,
      discarded: tu.discarded,
      usage: tu.usage,
      cells,
      malformed: [],
    };
  });
  const inputImages = s.inputImages.map(image);
  const protocol = isProtocolId(s.protocol) ? getProtocol(s.protocol) : undefined;
  const rebuilt = [
    'sampling (not stored: see the run manifest)',
    'startedAt of each turn (the sample finish time)',
    'malformed tool calls (not stored)',
  ];
  let messages: ChatMessage[] = [];
  if (protocol) {
    messages = rebuildMessages(protocol, r.question, inputImages, turns);
    rebuilt.unshift(
      `messages rebuilt with the ${protocol.id} protocol of this release (maxTurns ${protocol.defaultMaxTurns}, 30 s cell timeout)`,
    );
    if (turns.some((t) => t.toolCalls.length)) rebuilt.push(`tool calls rebuilt from the cells (tool ${EXECUTE_PYTHON_CODE})`);
  } else rebuilt.unshift(`messages not rebuilt: unknown protocol '${s.protocol}'`);
  const status = (['answered', 'max_turns', 'cancelled', 'error'] as const).find((x) => x === s.status) ?? 'error';
  return createTrajectory({
    id: s.id,
    createdAt: r.codedance.finished_at,
    question: r.question,
    inputImages,
    model: s.model,
    endpoints: r.codedance.endpoints,
    protocol: s.protocol,
    maxTurns: protocol?.defaultMaxTurns ?? turns.length,
    messages,
    turns,
    answer: s.answer,
    status,
    error: status === 'error' ? r.codedance.error : undefined,
    usage: {
      promptTokens: r.codedance.tokens.prompt,
      completionTokens: r.codedance.tokens.completion,
      totalTokens: r.codedance.tokens.total,
    },
    durationMs: r.codedance.latency_ms,
    migrated: { fromVersion: 1, source: 'eval-record', rebuilt },
  });
}

/** The conversation the loop would have sent, from the stored turns (what runAgent appends, in its order). */
function rebuildMessages(p: ProtocolAdapter, question: string, inputImages: TrajectoryImage[], turns: ModelTurn[]): ChatMessage[] {
  const messages = p.initialMessages(
    question,
    inputImages.map((im) => im.data),
    { imageSizes: inputImages.flatMap(({ width, height }) => (width && height ? [{ width, height }] : [])) },
  );
  for (const t of turns) {
    if (t.discarded) continue;
    const parsed = p.parse({ content: t.content, toolCalls: t.toolCalls });
    if (parsed.answer !== undefined) t.answer = parsed.answer;
    messages.push(p.assistantMessage({ content: t.content, toolCalls: t.toolCalls }));
    const executed: ObservationInput[] = t.cells.flatMap((c) => {
      if (c.status === 'pending' || c.status === 'running') return [];
      const images = c.images.map((im) => ({
        mime: im.mime,
        data: im.data,
        width: im.width,
        height: im.height,
        source: im.source === 'input' ? ('figure' as const) : im.source,
      }));
      const status = c.status === 'skipped' ? ('error' as const) : c.status;
      return [
        {
          request: { code: c.code, toolCallId: c.toolCallId },
          result: { status, stdout: c.stdout, stderr: c.stderr, images, error: c.error, exited: c.exited, durationMs: c.durationMs ?? 0 },
        },
      ];
    });
    if (executed.length)
      messages.push(
        ...p.observation(executed, [], { turnIndex: t.index, maxTurns: p.defaultMaxTurns, timeoutMs: 30_000, history: messages }),
      );
  }
  return messages;
}
