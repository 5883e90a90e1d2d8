/**
 * A run's rollout dumps as the run view asks for them: the steps of a folder, a step's rollouts
 * (parsed once; the few last-read files are kept, the newest step never, since the trainer may
 * still be writing it), one rollout as a trajectory, the same prompt at the other steps (the
 * nearest ones first, at most SAME_PROMPT_STEPS of them: a long run has thousands of files, read
 * one by one over SSH), and rollouts as export items.
 */
import { parseRolloutFile, rolloutStepsFromNames } from '../../core/runs/rollouts';
import type { Rollout } from '../../core/runs/types';
import type { ExportItem } from '../../core/training-data';
import { exchangeView } from '../../protocol/panelEvents';
import type { RolloutDetail, RolloutKind, RolloutRow, RunsResponses } from '../../protocol/runs';
import { promptKey, rolloutRow, rolloutTrajectory } from './rolloutTrajectory';
import type { RunSession } from './runSession';

const CACHE_FILES = 8;

/** The rollout's ground truth: `gts` as the trainer dumped it, else the seed's reward's `ground_truth` field. */
function groundTruth(r: Rollout): string | undefined {
  const g = r.gts ?? r.fields.ground_truth;
  if (g === undefined || g === null) return undefined;
  return typeof g === 'string' ? g : typeof g === 'number' ? String(g) : JSON.stringify(g);
}
export const SAME_PROMPT_STEPS = 40;

export class RolloutAccess {
  private readonly cache = new Map<string, Rollout[]>();
  private newest = new Map<RolloutKind, number>();

  constructor(private readonly session: RunSession) {}

  private dir(kind: RolloutKind): string {
    const f = this.session.folders();
    const dir = kind === 'train' ? f.rolloutDir : f.validationDir;
    if (!dir)
      throw new Error(
        kind === 'train'
          ? 'the run names no rollout folder: set trainer.rollout_data_dir in the job (the seed uses ./rollout_sft_step/)'
          : 'the run names no validation folder: set trainer.validation_data_dir in the job',
      );
    return dir;
  }

  private files() {
    const f = this.session.source.files();
    if ('note' in f) throw new Error(`rollouts cannot be read: ${f.note}`);
    return f;
  }

  async steps(kind: RolloutKind): Promise<RunsResponses['rolloutSteps']> {
    const f = this.session.source.files();
    if ('note' in f) return { steps: [], note: `Rollouts cannot be read: ${f.note}.` };
    let dir: string;
    try {
      dir = this.dir(kind);
    } catch (e) {
      return { steps: [], note: `${(e as Error).message}.` };
    }
    try {
      const steps = rolloutStepsFromNames(await f.files.list(dir));
      if (steps.length) this.newest.set(kind, steps.at(-1)!);
      return { steps, dir };
    } catch (e) {
      return { steps: [], dir, note: `${(e as Error).message}.` };
    }
  }

  async rollouts(kind: RolloutKind, step: number): Promise<Rollout[]> {
    const key = `${kind}:${step}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const { files, join } = this.files();
    const list = parseRolloutFile(await files.read(join(this.dir(kind), `${step}.jsonl`)), step);
    if (step !== this.newest.get(kind)) {
      this.cache.set(key, list);
      if (this.cache.size > CACHE_FILES) this.cache.delete(this.cache.keys().next().value!);
    }
    return list;
  }

  async rows(kind: RolloutKind, step: number): Promise<RolloutRow[]> {
    return (await this.rollouts(kind, step)).map(rolloutRow);
  }

  async one(kind: RolloutKind, step: number, index: number): Promise<Rollout> {
    const r = (await this.rollouts(kind, step)).find((x) => x.index === index);
    if (!r) throw new Error(`step ${step} has no rollout ${index}`);
    return r;
  }

  origin(kind: RolloutKind, step: number, index: number): string {
    return `${this.session.label} ${kind === 'train' ? 'rollout' : 'validation rollout'} ${index} of step ${step}`;
  }

  async detail(kind: RolloutKind, step: number, index: number): Promise<RolloutDetail> {
    const r = await this.one(kind, step, index);
    const { trajectory, reward } = rolloutTrajectory(r, this.origin(kind, step, index));
    const gts = groundTruth(r);
    return {
      row: rolloutRow(r),
      exchange: { ...exchangeView(trajectory), reward },
      fields: r.fields,
      ...(gts !== undefined && { groundTruth: gts }),
    };
  }

  /** The same prompt at the other steps: the nearest SAME_PROMPT_STEPS steps are read. */
  async samePrompt(kind: RolloutKind, step: number, index: number): Promise<RunsResponses['samePrompt']> {
    const key = promptKey(await this.one(kind, step, index));
    const others = (await this.steps(kind)).steps.filter((s) => s !== step);
    const nearest = others.sort((a, b) => Math.abs(a - step) - Math.abs(b - step) || a - b).slice(0, SAME_PROMPT_STEPS);
    const matches: RolloutRow[] = [];
    for (const s of nearest) {
      const found = (await this.rollouts(kind, s)).find((r) => promptKey(r) === key);
      if (found) matches.push(rolloutRow(found));
    }
    return { matches: matches.sort((a, b) => a.step - b.step), scanned: nearest.length, total: others.length };
  }

  /** The rollouts as export items: their trajectories, the ground truth and data source the trainer dumped. */
  async items(kind: RolloutKind, picks: { step: number; index: number }[]): Promise<ExportItem[]> {
    const out: ExportItem[] = [];
    for (const p of picks) {
      const r = await this.one(kind, p.step, p.index);
      const { trajectory } = rolloutTrajectory(r, this.origin(kind, p.step, p.index));
      const gt = groundTruth(r);
      out.push({
        trajectory,
        origin: this.origin(kind, p.step, p.index),
        ...(gt !== undefined && { groundTruth: gt }),
        ...(r.dataSource && { dataSource: r.dataSource }),
        ...(typeof r.fields.acc === 'number' && { correct: r.fields.acc > 0.5 }),
      });
    }
    return out;
  }
}
