/**
 * The trainer's rollout dumps: `<rollout_data_dir>/<step>.jsonl` (validation:
 * `<validation_data_dir>/<step>.jsonl`), one object per line written by Python's
 * `json.dumps(entry, ensure_ascii=False)` in `_dump_generations` (CodeDance's
 * verl/trainer/ppo/ray_trainer.py): bare `NaN` / `Infinity` / `-Infinity` tokens included, which
 * `JSON.parse` refuses and JSON5 reads. Facts: ../shared/docs/codedance-rl-runs.md §2.
 */
import JSON5 from 'json5';
import { RunsError } from './errors';
import type { Rollout } from './types';

const NOT_VERL = "the file was not written by verl's _dump_generations, or it was damaged";

/** the fields a Rollout has a place of its own for; every other one goes to `fields` */
const OWN = new Set(['input', 'output', 'score', 'step', 'gts', 'multi_modal_data', 'data_source']);

/** One line: plain JSON first (fast on the base64 images), JSON5 for Python's NaN/Infinity tokens. */
function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return JSON5.parse(line);
  }
}

function images(mm: unknown): string[] {
  const list = (mm as { image?: unknown } | null | undefined)?.image;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}

function toRollout(o: Record<string, unknown>, step: number, index: number): Rollout {
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!OWN.has(k)) fields[k] = v;
  return {
    step: typeof o.step === 'number' ? o.step : step,
    index,
    input: typeof o.input === 'string' ? o.input : '',
    output: typeof o.output === 'string' ? o.output : '',
    score: typeof o.score === 'number' ? o.score : NaN,
    fields,
    ...(o.gts !== undefined && { gts: o.gts }),
    ...(typeof o.data_source === 'string' && { dataSource: o.data_source }),
    images: images(o.multi_modal_data),
  };
}

/**
 * The rollouts of one file. A last line without its newline is still being written and is
 * skipped (read the file again later); a complete line that is not JSON is an error naming it.
 */
export function parseRolloutFile(text: string, step: number): Rollout[] {
  const lines = text.split('\n');
  lines.pop(); // after the last newline: '' for a whole file, a half-written line otherwise
  const out: Rollout[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (!line.trim()) continue;
    let o: unknown;
    try {
      o = parseLine(line);
    } catch (e) {
      throw new RunsError('format', `rollouts of step ${step}, line ${i + 1}: not JSON (${(e as Error).message})`, NOT_VERL);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o))
      throw new RunsError('format', `rollouts of step ${step}, line ${i + 1}: not a JSON object`, NOT_VERL);
    out.push(toRollout(o as Record<string, unknown>, step, i));
  }
  return out;
}

/** The steps of a dump folder's `<step>.jsonl` files, ascending (other names ignored). */
export function rolloutStepsFromNames(names: string[]): number[] {
  const steps = new Set<number>();
  for (const n of names) {
    const m = /^(\d+)\.jsonl$/.exec(n.slice(n.lastIndexOf('/') + 1));
    if (m) steps.add(Number(m[1]));
  }
  return [...steps].sort((a, b) => a - b);
}

/** Tool calls in a rollout's output: its `<tool_response>…</tool_response>` blocks, counted as the seed's reward counts them. */
export function toolCallCount(r: Rollout): number {
  return r.output.match(/<tool_response>[\s\S]*?<\/tool_response>/g)?.length ?? 0;
}
