/**
 * `createTrajectory(init)`: the one way a Trajectory is made (the agent loop, a run that failed
 * before the loop could start, a migrated record). It fills in the schema version, a fresh id,
 * the creation time and the empty parts, so no caller writes a version or a zero usage by hand.
 */
import { TRAJECTORY_VERSION, type Trajectory } from './types';

/** What a caller must say; everything else has a default (empty run, status `running`). */
export type TrajectoryInit = Pick<Trajectory, 'question' | 'model' | 'protocol'> & Partial<Omit<Trajectory, 'version'>>;

export function createTrajectory(init: TrajectoryInit): Trajectory {
  const t: Trajectory = {
    version: TRAJECTORY_VERSION,
    id: init.id ?? globalThis.crypto.randomUUID(),
    createdAt: init.createdAt ?? new Date().toISOString(),
    question: init.question,
    inputImages: init.inputImages ?? [],
    model: init.model,
    endpoints: init.endpoints ?? [],
    protocol: init.protocol,
    protocolTemplateHash: init.protocolTemplateHash,
    sampling: init.sampling ?? {},
    maxTurns: init.maxTurns ?? 0,
    python: init.python,
    where: init.where,
    messages: init.messages ?? [],
    turns: init.turns ?? [],
    answer: init.answer,
    status: init.status ?? 'running',
    error: init.error,
    usage: init.usage ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    durationMs: init.durationMs ?? 0,
    migrated: init.migrated,
  };
  // optional fields left out rather than present as undefined (a trajectory equals its JSON round trip)
  for (const k of Object.keys(t) as (keyof Trajectory)[]) if (t[k] === undefined) delete t[k];
  return t;
}
