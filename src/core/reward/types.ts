/**
 * What scoring needs from the outside, as interfaces: a judge (eval/judge.ts: `HttpJudge`, an
 * OpenAI-compatible endpoint with a verdict cache; tests pass a function) and the math sources'
 * symbolic check (eval/mathCheck.ts: the seed's math_verify in a helper process, or the
 * approximate JS one). The reward code stays below the eval and the training-data export.
 */

export interface JudgeRequest {
  /** `deepeyes`: DeepEyes' judge (deepeyesJudge.ts) */
  kind: 'default' | 'math' | 'deepeyes';
  /** the full user prompt */
  prompt: string;
  system?: string;
  temperature: number;
  /** absent or true: a new random `seed` with each request (the seed's judge); false: none sent (DeepEyes' judge sends none) */
  randomSeed?: boolean;
  /** cache key parts */
  question: string;
  answer: string;
  prediction: string;
  /** the sample's identity (dataset hash and row): without it, and without a shared cache, nothing is cached */
  sample?: string;
}

/** `sample`: a verdict is reused only for the same sample (the seed asks for every sample); `shared`: across samples */
export type JudgeCacheScope = 'sample' | 'shared';

export interface JudgeReply {
  text: string;
  cached: boolean;
}

/** What scoring needs from a judge (tests may pass a function). */
export interface Judge {
  readonly model: string;
  readonly promptHash: string;
  readonly endpoints: string[];
  /** which verdicts are reused (absent: 'sample') */
  readonly cacheScope?: JudgeCacheScope;
  ask(req: JudgeRequest, signal?: AbortSignal): Promise<JudgeReply>;
}

/** What scoring needs from the math rows' symbolic check (eval/mathCheck.ts's `MathChecker` is one). */
export interface SymbolicMathCheck {
  /** which check decides (recorded in the score detail) */
  readonly info: { readonly mode: 'math_verify' | 'approximate' };
  equivalent(gold: string, answer: string): Promise<boolean>;
}
